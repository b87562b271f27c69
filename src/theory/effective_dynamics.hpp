// The effective theory of docs/physics.md §2: a deformed Ginzburg–Landau gradient flow with
// quenched disorder,
//     dφ_i/dt = Δ_i φ_i^D − φ_i^{2D+1} − γ φ_i + (σ/N) Σ_j A_ij (φ_j − φ_i),
// its Lyapunov function H and the effective loss ℓ(φ) = φ^{2(D+1)} − 2 Δ̄ φ^{D+1}.
#pragma once

#include <Eigen/Core>

#include "coupling/graph.hpp"

namespace cdl::theory {

class EffectiveDynamics {
 public:
  EffectiveDynamics(int depth, double gamma, const Eigen::ArrayXd& disorder,
                    const coupling::CouplingGraph& graph);

  void set_sigma(double sigma) { sigma_ = sigma; }
  // Threads that share the units of one evaluation, in whole chunks of base::sum_chunk;
  // the mean field is a chunked sum whatever the count, so results do not depend on it.
  void set_threads(int threads) { threads_ = threads < 1 ? 1 : threads; }
  double sigma() const { return sigma_; }
  int depth() const { return depth_; }
  Eigen::Index units() const { return disorder_.size(); }

  // dφ/dt; the system callable of the integrator. Allocation-free.
  void operator()(const Eigen::ArrayXd& phi, Eigen::ArrayXd& dphi_dt) const;
  // For the Rosenbrock integrator (theory/rosenbrock4.hpp), on the complete graph only: the
  // mean field's strength s = σ and weights w (nullptr: uniform; throws on other graphs), and
  // for the units [first, first + n) at states phi the local force F = −U'(φ) and its slope
  // F' = −U''(φ), the dynamics being F_i + σ (m − φ_i).
  double mean_field_strength() const { return sigma_; }
  const double* mean_field_weights() const;
  void local_force(Eigen::Index first, Eigen::Index n, const double* phi, double* force) const;
  void local_force_and_slope(Eigen::Index first, Eigen::Index n, const double* phi, double* force,
                             double* slope) const;
  // H(φ), non-increasing along exact trajectories.
  double lyapunov(const Eigen::ArrayXd& phi) const;

 private:
  int depth_;
  double gamma_;
  double sigma_ = 0;
  int threads_ = 1;
  const Eigen::ArrayXd& disorder_;
  const coupling::CouplingGraph& graph_;
};

// φ^n for a small non-negative integer n, by repeated multiplication (exact for the
// polynomial terms, and vectorisable).
template <class Expr>
auto integer_power(const Expr& x, int n) {
  typename Expr::PlainObject result = Expr::PlainObject::Ones(x.size());
  for (int k = 0; k < n; ++k) result *= x;
  return result;
}

// ℓ(φ) = φ^{2(D+1)} − 2 Δ̄ φ^{D+1} of one unit's parameter on the whole population's data.
// `Depth` is an int or std::integral_constant<int, D> (theory/unit_potential.hpp).
template <class Depth>
double effective_loss(double phi, Depth depth, double mean_disorder) {
  const int d = depth;
  double p = phi;  // φ^{D+1}
  for (int k = 0; k < d; ++k) p *= phi;
  return p * (p - 2 * mean_disorder);
}

// Mean over units of the effective loss, allocation-free.
double mean_effective_loss(const Eigen::ArrayXd& phi, int depth, double mean_disorder);
// Σ w_i ℓ(φ_i) for a weighted (N → ∞) population.
double weighted_effective_loss(const Eigen::ArrayXd& phi, const Eigen::ArrayXd& weights, int depth,
                               double mean_disorder);

}  // namespace cdl::theory
