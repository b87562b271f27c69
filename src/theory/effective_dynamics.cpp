#include "theory/effective_dynamics.hpp"

#include <type_traits>

#include "base/errors.hpp"
#include "base/fixed_order_sum.hpp"
#include "theory/unit_potential.hpp"

namespace cdl::theory {

EffectiveDynamics::EffectiveDynamics(int depth, double gamma, const Eigen::ArrayXd& disorder,
                                     const coupling::CouplingGraph& graph)
    : depth_(depth), gamma_(gamma), disorder_(disorder), graph_(graph) {}

namespace {

// Calls body(std::integral_constant<int, D>{}) for the depths up to 8, so that the powers
// unroll and the loops vectorise, and body(depth) beyond: the arithmetic is the same.
template <class Body>
void with_depth(int depth, const Body& body) {
  switch (depth) {
    case 0:
      return body(std::integral_constant<int, 0>{});
    case 1:
      return body(std::integral_constant<int, 1>{});
    case 2:
      return body(std::integral_constant<int, 2>{});
    case 3:
      return body(std::integral_constant<int, 3>{});
    case 4:
      return body(std::integral_constant<int, 4>{});
    case 5:
      return body(std::integral_constant<int, 5>{});
    case 6:
      return body(std::integral_constant<int, 6>{});
    case 7:
      return body(std::integral_constant<int, 7>{});
    case 8:
      return body(std::integral_constant<int, 8>{});
    default:
      return body(depth);
  }
}

// The local force −U'(φ) of n units.
template <class Depth>
void local_force_of(Depth depth, const double* x, const double* delta, double gamma, double* f,
                    Eigen::Index n) {
  for (Eigen::Index i = 0; i < n; ++i) f[i] = unit_force(depth, gamma, delta[i], x[i]);
}

}  // namespace

void EffectiveDynamics::operator()(const Eigen::ArrayXd& phi, Eigen::ArrayXd& dphi_dt) const {
  // All-to-all, the coupling is σ (m − φ_i): the mean first, then every unit on its own.
  const bool all_to_all = sigma_ != 0 && graph_.is_complete();
  const double m = all_to_all ? graph_.mean_field(phi, threads_) : 0.0;
  base::for_chunks(phi.size(), threads_, [&](Eigen::Index first, Eigen::Index n) {
    with_depth(depth_, [&](auto depth) {
      local_force_of(depth, phi.data() + first, disorder_.data() + first, gamma_,
                     dphi_dt.data() + first, n);
    });
    if (all_to_all) dphi_dt.segment(first, n) += sigma_ * (m - phi.segment(first, n));
  });
  if (sigma_ != 0 && !all_to_all) graph_.add_coupling(sigma_, phi, dphi_dt);
}

const double* EffectiveDynamics::mean_field_weights() const {
  if (!graph_.is_complete())
    throw RuntimeError(
        "effective dynamics: a Jacobian of rank-one coupling needs the complete graph");
  return graph_.node_weights().size() == 0 ? nullptr : graph_.node_weights().data();
}

void EffectiveDynamics::local_force(Eigen::Index first, Eigen::Index n, const double* phi,
                                    double* force) const {
  with_depth(depth_, [&](auto depth) {
    local_force_of(depth, phi, disorder_.data() + first, gamma_, force, n);
  });
}

void EffectiveDynamics::local_force_and_slope(Eigen::Index first, Eigen::Index n, const double* phi,
                                              double* force, double* slope) const {
  const double* delta = disorder_.data() + first;
  with_depth(depth_, [&](auto depth) {
    for (Eigen::Index i = 0; i < n; ++i) {
      force[i] = unit_force(depth, gamma_, delta[i], phi[i]);
      slope[i] = -unit_curvature(depth, gamma_, delta[i], phi[i]);
    }
  });
}

double EffectiveDynamics::lyapunov(const Eigen::ArrayXd& phi) const {
  const double local = base::fixed_order_sum(phi.size(), [&](Eigen::Index i) {
    return unit_potential(depth_, gamma_, disorder_[i], phi[i]);
  });
  return local + graph_.coupling_energy(sigma_, phi);
}

double mean_effective_loss(const Eigen::ArrayXd& phi, int depth, double mean_disorder) {
  double sum = 0;
  with_depth(depth, [&](auto d) {
    sum = base::fixed_order_sum(
        phi.size(), [&](Eigen::Index i) { return effective_loss(phi[i], d, mean_disorder); });
  });
  return sum / static_cast<double>(phi.size());
}

double weighted_effective_loss(const Eigen::ArrayXd& phi, const Eigen::ArrayXd& weights, int depth,
                               double mean_disorder) {
  double sum = 0;
  with_depth(depth, [&](auto d) {
    sum = base::fixed_order_sum(phi.size(), [&](Eigen::Index i) {
      return weights[i] * effective_loss(phi[i], d, mean_disorder);
    });
  });
  return sum;
}

}  // namespace cdl::theory
