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
// The System is a mean-field population, dy_i/dt = F_i(y_i) + s (m − y_i) with m = Σ_j w_j y_j.
// Its Jacobian diag(F_i' − s) + s 1 wᵀ is inverted in O(N) by the Sherman–Morrison formula.
// The System provides mean_field_strength() (s), mean_field_weights() (w; nullptr: every
// w_j = 1/N), and, for the units [first, first + n) at states y, local_force(first, n, y, F)
// and local_force_and_slope(first, n, y, F, F'). Steps land exactly on the sample times (no
// interpolation).
//
// Why fused: a step is five passes over the units, one per global sum it needs (the
// Sherman–Morrison mean of each of the four stages and the new mean field; the mean fields of
// the stages follow from those sums, m + Σ a_k M_k). Written stage by stage it was ~20 passes
// reading and writing ~100 arrays of N doubles: a population larger than the core's cache
// (D = 3 at the onset, ~100 000 nodes) ran at 23–29 ns a node and step against 8–9 ns for one
// that fits; fused, 16 ns (bench/rosenbrock_step_bench.cpp, bench/RESULTS.md "Every depth").
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif

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
  // Threads that share the units of long states, in whole chunks of base::sum_chunk (every sum
  // is over the same chunks, added in chunk order, whatever the count: results do not depend
  // on it).
  void set_threads(int threads) { threads_ = threads < 1 ? 1 : threads; }
  int threads() const { return threads_; }

  // Integrates y from t0 to t_end in place; at every time of `sample_times` (ascending, within
  // [t0, t_end]) the observer's sample(k, y_k) receives the state, steps landing on each.
  // Allocation-free once the workspace has the system's size.
  template <class System, class Observer>
  IntegrationResult integrate(System& f, Array& y, double t0, double t_end,
                              std::span<const double> sample_times, Observer& observer);

  // One step of size h without error control (to verify the method's order); returns the
  // embedded error estimate's RMS (unscaled).
  template <class System>
  double fixed_step(System& f, Array& y, double h);

 private:
  // Sums per pass: at most this many, each a fixed-order sum over every chunk.
  static constexpr int max_sums = 2;
  // A trial step from y (mean field m) of size h: y_new_ and, below, what it gives.
  struct Trial {
    bool derivative_finite = true;  // f(y): false means the state diverged
    double error = 0;  // RMS of the error estimate in units of atol + rtol·|y| (NaN: reject)
    double mean = 0;   // the mean field of y_new_
  };
  template <class System>
  Trial trial_step(System& f, const Array& y, double m, double h, double atol, double rtol);
  // One pass over the units: chunk(first, n, work, terms) handles units [first, first + n)
  // with its thread's work columns and fills `sums` terms (work columns terms_column + k, one
  // per unit); returns the terms' sums, each a fixed-order sum per chunk added in chunk order.
  template <int Sums, class Chunk>
  std::array<double, Sums> pass(Eigen::Index n, Chunk chunk);
  template <class System>
  double weighted_mean(const System& f, const Array& y);
  // The system's mean-field weights, or uniform_ filled with 1/n.
  template <class System>
  const double* weights(const System& f, Eigen::Index n);
  void resize(Eigen::Index n);

  // Work columns per thread: the stage state, the local force, then the terms of the sums.
  static constexpr Eigen::Index stage_column = 0, force_column = 1, terms_column = 2;

  Dopri5Settings settings_;
  int threads_ = 1;
  // inverse_ = 1/(1/(γh) − F' + s); residual_ holds r1, r2, r3 in turn, residual4_ r4; g1–g3
  // the solved stages (g4 is used where it is formed).
  Array inverse_, residual_, residual4_, g1_, g2_, g3_, y_new_, uniform_;
  std::vector<Eigen::ArrayXXd> work_;  // per thread: sum_chunk × (terms_column + max_sums)
  std::vector<double> partial_;        // per chunk and sum
};

inline void Rosenbrock4::resize(Eigen::Index n) {
  const int threads = std::max(threads_, 1);
  if (static_cast<int>(work_.size()) < threads)
    work_.resize(static_cast<std::size_t>(threads),
                 Eigen::ArrayXXd(base::sum_chunk, terms_column + max_sums));
  const Eigen::Index chunks = (n + base::sum_chunk - 1) / base::sum_chunk;
  if (static_cast<Eigen::Index>(partial_.size()) < chunks * max_sums)
    partial_.resize(static_cast<std::size_t>(chunks * max_sums));
  if (inverse_.size() == n) return;
  for (Array* a : {&inverse_, &residual_, &residual4_, &g1_, &g2_, &g3_, &y_new_}) a->resize(n);
}

template <int Sums, class Chunk>
std::array<double, Sums> Rosenbrock4::pass(Eigen::Index n, Chunk chunk) {
  static_assert(Sums <= max_sums);
  const Eigen::Index chunks = (n + base::sum_chunk - 1) / base::sum_chunk;
  double* partial = partial_.data();
  const auto one = [&](Eigen::Index c, Eigen::ArrayXXd& work) {
    const Eigen::Index first = c * base::sum_chunk, size = std::min(base::sum_chunk, n - first);
    chunk(first, size, work);
    for (int k = 0; k < Sums; ++k) {
      const double* term = work.col(terms_column + k).data();
      partial[c * Sums + k] = base::fixed_order_sum(size, [&](Eigen::Index i) { return term[i]; });
    }
  };
  // No OpenMP construct on one thread (see base::chunked_sum).
  if (threads_ <= 1 || n < base::parallel_min_size) {
    for (Eigen::Index c = 0; c < chunks; ++c) one(c, work_[0]);
  } else {
#pragma omp parallel for num_threads(threads_) schedule(static)
    for (Eigen::Index c = 0; c < chunks; ++c) {
#ifdef _OPENMP
      one(c, work_[static_cast<std::size_t>(omp_get_thread_num())]);
#else
      one(c, work_[0]);
#endif
    }
  }
  std::array<double, Sums> sums{};
  for (Eigen::Index c = 0; c < chunks; ++c)
    for (int k = 0; k < Sums; ++k) sums[static_cast<std::size_t>(k)] += partial[c * Sums + k];
  return sums;
}

template <class System>
const double* Rosenbrock4::weights(const System& f, Eigen::Index n) {
  if (const double* w = f.mean_field_weights()) return w;
  if (uniform_.size() != n) uniform_.setConstant(n, 1.0 / static_cast<double>(n));
  return uniform_.data();
}

template <class System>
double Rosenbrock4::weighted_mean(const System& f, const Array& y) {
  const double* w = weights(f, y.size());
  return base::chunked_sum(
      y.size(), [&](Eigen::Index i) { return w[i] * y[i]; }, threads_);
}

template <class System>
Rosenbrock4::Trial Rosenbrock4::trial_step(System& f, const Array& y, double m, double h,
                                           double atol, double rtol) {
  using namespace rosenbrock4_coefficients;
  const Eigen::Index units = y.size();
  const double s = f.mean_field_strength();
  const double* w = weights(f, units);
  const double* y0 = y.data();
  const double shift = 1 / (gamma * h);
  Trial trial;
  // Pass 1: r1 = f(y), the shifted inverse of the Jacobian's diagonal, and the sums of the
  // Sherman–Morrison denominator and of g1's mean. The sums check finiteness too: w·x is not
  // finite for a non-finite x even where w = 0 (0·∞ is NaN).
  const auto first_pass =
      pass<2>(units, [&](Eigen::Index a, Eigen::Index n, Eigen::ArrayXXd& work) {
        double* r = residual_.data() + a;
        double* inverse = inverse_.data() + a;
        f.local_force_and_slope(a, n, y.data() + a, r, inverse);
        double* t0 = work.col(terms_column).data();
        double* t1 = work.col(terms_column + 1).data();
#pragma GCC ivdep
        for (Eigen::Index j = 0; j < n; ++j) {
          const double weight = w[a + j];
          r[j] += s * (m - y0[a + j]);
          inverse[j] = 1 / (shift - inverse[j] + s);
          t0[j] = weight * inverse[j];
          t1[j] = weight * inverse[j] * r[j];
        }
      });
  trial.error = std::numeric_limits<double>::quiet_NaN();
  // A non-finite inverse (a unit's growth rate at 1/(γh)): a smaller step.
  if (!std::isfinite(first_pass[0])) return trial;
  // Every w·inverse finite, so (w·inverse)·r is not finite only for a non-finite r = f(y) (or
  // one beyond ~1e300): the state diverged.
  if (!std::isfinite(first_pass[1])) {
    trial.derivative_finite = false;
    return trial;
  }
  const double denominator = s == 0 ? 1.0 : 1 - s * first_pass[0];
  // A near-singular system (a unit's growth rate close to 1/(γh)): a smaller step.
  if (!(std::abs(denominator) > 1e-8)) return trial;
  // M_k = Σ w g_k, the mean of stage k, shifts every unit's solve by s M_k.
  const double mean1 = first_pass[1] / denominator;

  // Pass 2: g1, the stage state y + a21 g1 and r2 = f(·) + (c21/h) g1.
  const double m2 = m + a21 * mean1;
  const auto sum2 = pass<1>(units, [&](Eigen::Index a, Eigen::Index n, Eigen::ArrayXXd& work) {
    const double* inverse = inverse_.data() + a;
    double* r = residual_.data() + a;
    double* g1 = g1_.data() + a;
    double* stage = work.col(stage_column).data();
    double* force = work.col(force_column).data();
    double* t0 = work.col(terms_column).data();
#pragma GCC ivdep
    for (Eigen::Index j = 0; j < n; ++j) {
      g1[j] = inverse[j] * (r[j] + s * mean1);
      stage[j] = y0[a + j] + a21 * g1[j];
    }
    f.local_force(a, n, stage, force);
#pragma GCC ivdep
    for (Eigen::Index j = 0; j < n; ++j) {
      r[j] = force[j] + s * (m2 - stage[j]) + (c21 / h) * g1[j];
      t0[j] = w[a + j] * inverse[j] * r[j];
    }
  });
  const double mean2 = sum2[0] / denominator;

  // Pass 3: g2, the stage state y + a31 g1 + a32 g2 evaluated once for r3 and (without g3) r4.
  const double m3 = m + a31 * mean1 + a32 * mean2;
  const auto sum3 = pass<1>(units, [&](Eigen::Index a, Eigen::Index n, Eigen::ArrayXXd& work) {
    const double* inverse = inverse_.data() + a;
    const double* g1 = g1_.data() + a;
    double* r = residual_.data() + a;
    double* r4 = residual4_.data() + a;
    double* g2 = g2_.data() + a;
    double* stage = work.col(stage_column).data();
    double* force = work.col(force_column).data();
    double* t0 = work.col(terms_column).data();
#pragma GCC ivdep
    for (Eigen::Index j = 0; j < n; ++j) {
      g2[j] = inverse[j] * (r[j] + s * mean2);
      stage[j] = y0[a + j] + a31 * g1[j] + a32 * g2[j];
    }
    f.local_force(a, n, stage, force);
#pragma GCC ivdep
    for (Eigen::Index j = 0; j < n; ++j) {
      const double f3 = force[j] + s * (m3 - stage[j]);
      r[j] = f3 + (c31 / h) * g1[j] + (c32 / h) * g2[j];
      r4[j] = f3 + (c41 / h) * g1[j] + (c42 / h) * g2[j];
      t0[j] = w[a + j] * inverse[j] * r[j];
    }
  });
  const double mean3 = sum3[0] / denominator;

  // Pass 4: g3, and r4 completed with it.
  const auto sum4 = pass<1>(units, [&](Eigen::Index a, Eigen::Index n, Eigen::ArrayXXd& work) {
    const double* inverse = inverse_.data() + a;
    const double* r = residual_.data() + a;
    double* r4 = residual4_.data() + a;
    double* g3 = g3_.data() + a;
    double* t0 = work.col(terms_column).data();
#pragma GCC ivdep
    for (Eigen::Index j = 0; j < n; ++j) {
      g3[j] = inverse[j] * (r[j] + s * mean3);
      r4[j] += (c43 / h) * g3[j];
      t0[j] = w[a + j] * inverse[j] * r4[j];
    }
  });
  const double mean4 = sum4[0] / denominator;

  // Pass 5: g4, the new state, its error estimate and its mean field (not finite when a new
  // state is not).
  const auto last_pass = pass<2>(units, [&](Eigen::Index a, Eigen::Index n, Eigen::ArrayXXd& work) {
    const double* inverse = inverse_.data() + a;
    const double* r4 = residual4_.data() + a;
    const double* g1 = g1_.data() + a;
    const double* g2 = g2_.data() + a;
    const double* g3 = g3_.data() + a;
    double* y_new = y_new_.data() + a;
    double* t0 = work.col(terms_column).data();
    double* t1 = work.col(terms_column + 1).data();
#pragma GCC ivdep
    for (Eigen::Index j = 0; j < n; ++j) {
      const double g4 = inverse[j] * (r4[j] + s * mean4);
      const double start = y0[a + j];
      y_new[j] = start + b1 * g1[j] + b2 * g2[j] + b3 * g3[j] + b4 * g4;
      const double scale = atol + rtol * std::max(std::abs(start), std::abs(y_new[j]));
      const double scaled = (e1 * g1[j] + e2 * g2[j] + e4 * g4) / scale;
      t0[j] = scaled * scaled;
      t1[j] = w[a + j] * y_new[j];
    }
  });
  if (!std::isfinite(last_pass[1])) return trial;
  trial.error = std::sqrt(last_pass[0] / static_cast<double>(units));
  trial.mean = last_pass[1];
  return trial;
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
  if (!all_finite(y)) {
    result.status = IntegrationStatus::diverged;
    return result;
  }
  double m = weighted_mean(f, y);
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
    const Trial trial = trial_step(f, y, m, step, settings_.atol, settings_.rtol);
    result.rhs_evaluations += 3;
    if (!trial.derivative_finite) {
      result.status = IntegrationStatus::diverged;
      return result;
    }
    const double err = trial.error;
    if (!(err <= 1.0)) {  // also a singular or non-finite trial
      h = step * (std::isfinite(err) ? std::max(shrink, safety * std::pow(err, -0.25)) : shrink);
      last_rejected = true;
      ++result.rejected_steps;
      continue;
    }
    ++result.accepted_steps;
    y.swap(y_new_);
    m = trial.mean;
    t = lands ? target : t + step;
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
  resize(y.size());
  const Trial trial = trial_step(f, y, weighted_mean(f, y), h, 1.0, 0.0);
  y.swap(y_new_);
  return trial.error;
}

}  // namespace cdl::theory
