#include "theory/effective_dynamics.hpp"

#include "base/errors.hpp"
#include "base/fixed_order_sum.hpp"

namespace cdl::theory {

EffectiveDynamics::EffectiveDynamics(int depth, double gamma, const Eigen::ArrayXd& disorder,
                                     const coupling::CouplingGraph& graph)
    : depth_(depth), gamma_(gamma), disorder_(disorder), graph_(graph) {}

namespace {

// The local force Δφ^D − φ^{2D+1} − γφ of n units with the depth fixed at compile time so
// that the powers unroll and the loop vectorises.
template <int D>
void local_force(const double* x, const double* delta, double gamma, double* f, Eigen::Index n) {
  for (Eigen::Index i = 0; i < n; ++i) {
    double p = 1;  // φ^D
    for (int k = 0; k < D; ++k) p *= x[i];
    f[i] = p * (delta[i] - p * x[i]) - gamma * x[i];
  }
}

void local_force_any_depth(int depth, const double* x, const double* delta, double gamma, double* f,
                           Eigen::Index n) {
  for (Eigen::Index i = 0; i < n; ++i) {
    double p = 1;
    for (int k = 0; k < depth; ++k) p *= x[i];
    f[i] = p * (delta[i] - p * x[i]) - gamma * x[i];
  }
}

void local_force(int depth, const double* x, const double* delta, double gamma, double* f,
                 Eigen::Index n) {
  switch (depth) {
    case 0:
      return local_force<0>(x, delta, gamma, f, n);
    case 1:
      return local_force<1>(x, delta, gamma, f, n);
    case 2:
      return local_force<2>(x, delta, gamma, f, n);
    case 3:
      return local_force<3>(x, delta, gamma, f, n);
    case 4:
      return local_force<4>(x, delta, gamma, f, n);
    default:
      return local_force_any_depth(depth, x, delta, gamma, f, n);
  }
}

}  // namespace

void EffectiveDynamics::operator()(const Eigen::ArrayXd& phi, Eigen::ArrayXd& dphi_dt) const {
  // All-to-all, the coupling is σ (m − φ_i): the mean first, then every unit on its own.
  const bool all_to_all = sigma_ != 0 && graph_.is_complete();
  const double m = all_to_all ? graph_.mean_field(phi, threads_) : 0.0;
  base::for_chunks(phi.size(), threads_, [&](Eigen::Index first, Eigen::Index n) {
    local_force(depth_, phi.data() + first, disorder_.data() + first, gamma_,
                dphi_dt.data() + first, n);
    if (all_to_all) dphi_dt.segment(first, n) += sigma_ * (m - phi.segment(first, n));
  });
  if (sigma_ != 0 && !all_to_all) graph_.add_coupling(sigma_, phi, dphi_dt);
}

void EffectiveDynamics::jacobian_diagonal(const Eigen::ArrayXd& phi,
                                          Eigen::ArrayXd& diagonal) const {
  if (!graph_.is_complete())
    throw RuntimeError(
        "effective dynamics: a Jacobian of rank-one coupling needs the complete graph");
  // d/dφ [Δφ^D − φ^{2D+1} − γφ + σ(m − φ)] at fixed m: DΔφ^{D−1} − (2D+1)φ^{2D} − γ − σ.
  const int depth = depth_;
  base::for_chunks(phi.size(), threads_, [&](Eigen::Index first, Eigen::Index n) {
    for (Eigen::Index i = first; i < first + n; ++i) {
      const double x = phi[i];
      double below = 1;  // φ^{D−1}
      for (int k = 1; k < depth; ++k) below *= x;
      const double power = depth == 0 ? 1.0 : below * x;  // φ^D
      const double drive = depth == 0 ? 0.0 : depth * disorder_[i] * below;
      diagonal[i] = drive - (2 * depth + 1) * power * power - gamma_ - sigma_;
    }
  });
}

double EffectiveDynamics::lyapunov(const Eigen::ArrayXd& phi) const {
  const auto p = integer_power(phi, depth_ + 1);  // φ^{D+1}
  const double local = base::fixed_order_sum((0.5 * p.square() - disorder_ * p) / (depth_ + 1) +
                                             0.5 * gamma_ * phi.square());
  return local + graph_.coupling_energy(sigma_, phi);
}

namespace {

template <int D>
double loss_sum_at_depth(const Eigen::ArrayXd& phi, double mean_disorder) {
  return base::fixed_order_sum(phi.size(), [&](Eigen::Index i) {
    double p = phi[i];  // φ^{D+1}
    for (int k = 0; k < D; ++k) p *= phi[i];
    return p * (p - 2 * mean_disorder);
  });
}

}  // namespace

double mean_effective_loss(const Eigen::ArrayXd& phi, int depth, double mean_disorder) {
  double sum = 0;
  switch (depth) {
    case 0:
      sum = loss_sum_at_depth<0>(phi, mean_disorder);
      break;
    case 1:
      sum = loss_sum_at_depth<1>(phi, mean_disorder);
      break;
    case 2:
      sum = loss_sum_at_depth<2>(phi, mean_disorder);
      break;
    default:
      sum = base::fixed_order_sum(
          phi.size(), [&](Eigen::Index i) { return effective_loss(phi[i], depth, mean_disorder); });
  }
  return sum / static_cast<double>(phi.size());
}

double weighted_effective_loss(const Eigen::ArrayXd& phi, const Eigen::ArrayXd& weights, int depth,
                               double mean_disorder) {
  return base::fixed_order_sum(phi.size(), [&](Eigen::Index i) {
    return weights[i] * effective_loss(phi[i], depth, mean_disorder);
  });
}

}  // namespace cdl::theory
