// A 4th-order Rosenbrock method with an embedded 3rd-order error estimate, for the stiff N → ∞
// populations (docs/physics.md §4): the Kaps–Rentrop scheme with Shampine's coefficients
// (L. F. Shampine, "Implementation of Rosenbrock methods", ACM TOMS 8, 1982; the method of
// Boost.Odeint's rosenbrock4 and of Numerical Recipes' `stiff`). Each step solves four linear
// systems (I/(γh) − J) g = r with the exact Jacobian and evaluates the system three times.
//
// Why: a unit deep in its well at large disorder relaxes at a rate ~(D + 1) Δ^{2D/(D+1)}, so
// an explicit method's steps are bounded by stability, not accuracy — DOPRI5 took 1 700
// steps at D = 8 against 170 at D = 2. A Rosenbrock method is stable there (A-stable, γ = 1/2)
// and takes the steps the accuracy needs.
//
// The linear systems are O(N): a mean-field system has the Jacobian J = diag(d) + s 1 wᵀ (each
// unit's own derivative d_i, and the mean field m = Σ w_j y_j acting on every unit with
// strength s), inverted by the Sherman–Morrison formula. The System provides, besides
// f(y, dydt): jacobian_diagonal(y, d), mean_field_strength() (s) and mean_field(x) (Σ w_j x_j,
// summed in a fixed order). Steps land exactly on the sample times (no interpolation).
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>

#include "base/fixed_order_sum.hpp"
#include "theory/dopri5.hpp"

namespace cdl::theory {

namespace rosenbrock4_coefficients {
// Shampine (1982): γ = 1/2; stage 4 reuses stage 3's evaluation (a4j = a3j).
inline constexpr double gamma = 0.5;
inline constexpr double a21 = 2.0, a31 = 48.0 / 25, a32 = 6.0 / 25;
inline constexpr double c21 = -8.0, c31 = 372.0 / 25, c32 = 12.0 / 5;
inline constexpr double c41 = -112.0 / 125, c42 = -54.0 / 125, c43 = -2.0 / 5;
inline constexpr double b1 = 19.0 / 9, b2 = 1.0 / 2, b3 = 25.0 / 108, b4 = 125.0 / 108;
// e = b − b̂ (the 3rd-order embedded solution), e3 = 0.
inline constexpr double e1 = 17.0 / 54, e2 = 7.0 / 36, e4 = 125.0 / 108;
}  // namespace rosenbrock4_coefficients

class Rosenbrock4 {
 public:
  using Array = Eigen::ArrayXd;

  explicit Rosenbrock4(Dopri5Settings settings = {}) : settings_(settings) {}

  const Dopri5Settings& settings() const { return settings_; }
  // Threads that share the elementwise work of long states, in whole chunks (the sums are
  // chunked whatever the count, so results do not depend on it).
  void set_threads(int threads) { threads_ = threads < 1 ? 1 : threads; }
  int threads() const { return threads_; }

  // Integrates y from t0 to t_end in place; at every time of `sample_times` (ascending, within
  // [t0, t_end]) the observer's sample(k, y_k) receives the state, steps landing on each.
  template <class System, class Observer>
  IntegrationResult integrate(System& f, Array& y, double t0, double t_end,
                              std::span<const double> sample_times, Observer& observer);

  // One step of size h without error control (to verify the method's order); returns the
  // embedded error estimate's RMS (unscaled).
  template <class System>
  double fixed_step(System& f, Array& y, double h);

 private:
  // Stages of a step from y (f(y) in dydt_); false if the linear systems are singular.
  template <class System>
  bool trial_step(System& f, const Array& y, double h);
  template <class System>
  void solve(System& f, Array& g);
  double error_norm(const Array& y) const;
  void resize(Eigen::Index n);
  // out = y + combination(at) chunk by chunk, `at` giving each array's chunk.
  template <class Combination>
  void elementwise(Array& out, Combination combination) const;

  Dopri5Settings settings_;
  int threads_ = 1;
  Array dydt_, stage_dydt_, inverse_, scratch_, g1_, g2_, g3_, g4_, y_stage_, y_new_;
  double strength_ = 0, denominator_ = 1;
};

inline void Rosenbrock4::resize(Eigen::Index n) {
  if (dydt_.size() == n) return;
  for (Array* a :
       {&dydt_, &stage_dydt_, &inverse_, &scratch_, &g1_, &g2_, &g3_, &g4_, &y_stage_, &y_new_})
    a->resize(n);
}

template <class Combination>
void Rosenbrock4::elementwise(Array& out, Combination combination) const {
  base::for_chunks(out.size(), threads_, [&](Eigen::Index first, Eigen::Index n) {
    out.segment(first, n) = combination([&](const Array& a) { return a.segment(first, n); });
  });
}

// g ← (I/(γh) − diag(d) − s 1 wᵀ)⁻¹ g, with inverse_ = 1/(1/(γh) − d): Sherman–Morrison,
// x = inverse ∘ (g + s M 1), M = Σ w (inverse ∘ g) / (1 − s Σ w inverse).
template <class System>
void Rosenbrock4::solve(System& f, Array& g) {
  if (strength_ == 0) {
    elementwise(g, [&](auto at) { return at(inverse_) * at(g); });
    return;
  }
  elementwise(scratch_, [&](auto at) { return at(inverse_) * at(g); });
  const double mean = f.mean_field(scratch_) / denominator_;
  elementwise(g, [&](auto at) { return at(inverse_) * (at(g) + strength_ * mean); });
}

template <class System>
bool Rosenbrock4::trial_step(System& f, const Array& y, double h) {
  using namespace rosenbrock4_coefficients;
  // The Jacobian at y, its shifted inverse and the rank-one denominator.
  f.jacobian_diagonal(y, inverse_);
  const double shift = 1 / (gamma * h);
  elementwise(inverse_, [&](auto at) { return 1 / (shift - at(inverse_)); });
  if (!all_finite(inverse_)) return false;
  strength_ = f.mean_field_strength();
  denominator_ = strength_ == 0 ? 1.0 : 1 - strength_ * f.mean_field(inverse_);
  // A near-singular system (a unit's growth rate close to 1/(γh)): a smaller step.
  if (!(std::abs(denominator_) > 1e-8)) return false;

  g1_ = dydt_;
  solve(f, g1_);
  elementwise(y_stage_, [&](auto at) { return at(y) + a21 * at(g1_); });
  f(y_stage_, stage_dydt_);
  elementwise(g2_, [&](auto at) { return at(stage_dydt_) + (c21 / h) * at(g1_); });
  solve(f, g2_);
  elementwise(y_stage_, [&](auto at) { return at(y) + a31 * at(g1_) + a32 * at(g2_); });
  f(y_stage_, stage_dydt_);
  elementwise(g3_,
              [&](auto at) { return at(stage_dydt_) + (c31 / h) * at(g1_) + (c32 / h) * at(g2_); });
  solve(f, g3_);
  elementwise(g4_, [&](auto at) {
    return at(stage_dydt_) + (c41 / h) * at(g1_) + (c42 / h) * at(g2_) + (c43 / h) * at(g3_);
  });
  solve(f, g4_);
  elementwise(y_new_, [&](auto at) {
    return at(y) + b1 * at(g1_) + b2 * at(g2_) + b3 * at(g3_) + b4 * at(g4_);
  });
  return all_finite(y_new_);
}

// Root-mean-square of the local error estimate in units of atol + rtol·|y| (as DOPRI5's).
inline double Rosenbrock4::error_norm(const Array& y) const {
  using namespace rosenbrock4_coefficients;
  const double rtol = settings_.rtol, atol = settings_.atol;
  const double sum = base::chunked_sum(
      y.size(),
      [&](Eigen::Index i) {
        const double scale = atol + rtol * std::max(std::abs(y[i]), std::abs(y_new_[i]));
        const double scaled = (e1 * g1_[i] + e2 * g2_[i] + e4 * g4_[i]) / scale;
        return scaled * scaled;
      },
      threads_);
  return std::sqrt(sum / static_cast<double>(y.size()));
}

template <class System, class Observer>
IntegrationResult Rosenbrock4::integrate(System& f, Array& y, double t0, double t_end,
                                         std::span<const double> sample_times, Observer& observer) {
  constexpr double safety = 0.9, grow = 5, shrink = 0.2;
  resize(y.size());
  IntegrationResult result;
  std::size_t next_sample = 0;
  const auto emit_samples_at_or_before = [&](double t) {
    while (next_sample < sample_times.size() && sample_times[next_sample] <= t)
      observer.sample(static_cast<int>(next_sample++), y);
  };
  f(y, dydt_);
  result.rhs_evaluations = 1;
  if (!all_finite(y) || !all_finite(dydt_)) {
    result.status = IntegrationStatus::diverged;
    return result;
  }
  emit_samples_at_or_before(t0);
  if (t_end <= t0) return result;

  double t = t0;
  // A small first step; the controller grows it fivefold per step.
  double h = std::min(1e-4 * (t_end - t0), 1e-3);
  bool last_rejected = false;
  while (t < t_end) {
    if (result.accepted_steps + result.rejected_steps >= settings_.max_steps) {
      result.status = IntegrationStatus::step_budget;
      return result;
    }
    if (h < 16 * std::numeric_limits<double>::epsilon() * std::max(std::abs(t), 1.0)) {
      result.status = IntegrationStatus::step_underflow;
      return result;
    }
    // The step ends on the next sample time (or t_end) when it would reach it.
    const double target =
        next_sample < sample_times.size() ? std::min(sample_times[next_sample], t_end) : t_end;
    const bool lands = t + 1.01 * h >= target;
    const double step = lands ? target - t : h;
    const bool finite = trial_step(f, y, step);
    result.rhs_evaluations += 2;
    const double err = finite ? error_norm(y) : std::numeric_limits<double>::quiet_NaN();
    if (!(err <= 1.0)) {  // also a singular or non-finite trial
      h = step * (std::isfinite(err) ? std::max(shrink, safety * std::pow(err, -0.25)) : shrink);
      last_rejected = true;
      ++result.rejected_steps;
      continue;
    }
    ++result.accepted_steps;
    y.swap(y_new_);
    t = lands ? target : t + step;
    f(y, dydt_);
    result.rhs_evaluations += 1;
    if (!all_finite(dydt_)) {
      result.status = IntegrationStatus::diverged;
      return result;
    }
    emit_samples_at_or_before(t);
    if constexpr (requires { observer.step(t, y); }) observer.step(t, y);
    double h_new = step * std::min(grow, safety * std::pow(std::max(err, 1e-12), -0.25));
    if (last_rejected) h_new = std::min(h_new, step);
    // A step shortened to land on a sample does not shrink the next one.
    if (lands && !last_rejected) h_new = std::max(h_new, h);
    last_rejected = false;
    h = h_new;
  }
  return result;
}

template <class System>
double Rosenbrock4::fixed_step(System& f, Array& y, double h) {
  using namespace rosenbrock4_coefficients;
  resize(y.size());
  f(y, dydt_);
  trial_step(f, y, h);
  const Array error = e1 * g1_ + e2 * g2_ + e4 * g4_;
  y.swap(y_new_);
  return std::sqrt(error.square().mean());
}

}  // namespace cdl::theory
