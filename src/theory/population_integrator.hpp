// The integrator of an N → ∞ population: DOPRI5 where its steps are set by accuracy, the
// Rosenbrock method where the deepest wells would set them by stability (docs/physics.md §4).
#pragma once

#include <cmath>
#include <span>

#include "theory/dopri5.hpp"
#include "theory/rosenbrock4.hpp"

namespace cdl::theory {

// DOPRI5's stability-limited steps over [0, t_end] for units of disorder up to
// `largest_disorder` (in absolute value): a unit in its outer well φ*^{D+1} ≈ |Δ| relaxes at
// the rate (D + 1)|Δ|^{2D/(D+1)} + γ + σ, and |hλ| stays below about 3.3.
inline double explicit_stability_steps(int depth, double gamma, double sigma,
                                       double largest_disorder, double t_end) {
  const double rate =
      (depth + 1) * std::pow(largest_disorder, 2.0 * depth / (depth + 1)) + gamma + sigma;
  return t_end * rate / 3.3;
}

// Above this many stability-limited steps the Rosenbrock method is cheaper: it takes about
// 150–450 accuracy-limited steps at the N → ∞ tolerances whatever the stiffness, each
// costing about twice a DOPRI5 step (bench/RESULTS.md, "N → ∞ at every depth").
inline constexpr double stiff_steps_threshold = 400;

class PopulationIntegrator {
 public:
  explicit PopulationIntegrator(Dopri5Settings settings) : explicit_(settings), stiff_(settings) {}
  void set_threads(int threads) {
    explicit_.set_threads(threads);
    stiff_.set_threads(threads);
  }
  int threads() const { return explicit_.threads(); }
  // Chooses the method for the next integrations from the explicit one's stability steps.
  void choose(double stability_steps) { stiff_chosen_ = stability_steps > stiff_steps_threshold; }
  bool stiff() const { return stiff_chosen_; }

  template <class System, class Observer>
  IntegrationResult integrate(System& f, Eigen::ArrayXd& y, double t0, double t_end,
                              std::span<const double> sample_times, Observer& observer) {
    return stiff_chosen_ ? stiff_.integrate(f, y, t0, t_end, sample_times, observer)
                         : explicit_.integrate(f, y, t0, t_end, sample_times, observer);
  }

 private:
  Dopri5 explicit_;
  Rosenbrock4 stiff_;
  bool stiff_chosen_ = false;
};

}  // namespace cdl::theory
