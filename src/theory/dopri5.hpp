// Dormand–Prince 5(4) with error control and dense output (Hairer, Nørsett & Wanner,
// "Solving ODEs I", §II.4–5, code DOPRI5). The stepper is separate from the system (any
// callable f(y, dydt)) and from the observer that records samples, as in Boost.Odeint.
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>

#include "base/fixed_order_sum.hpp"

namespace cdl::theory {

struct Dopri5Settings {
  double rtol = 1e-3;
  double atol = 1e-6;
  std::int64_t max_steps = 100000;  // accepted + rejected trial steps per integration
};

enum class IntegrationStatus { done, diverged, step_underflow, step_budget };

struct IntegrationResult {
  IntegrationStatus status = IntegrationStatus::done;
  std::int64_t accepted_steps = 0;
  std::int64_t rejected_steps = 0;
  std::int64_t rhs_evaluations = 0;
};

class Dopri5 {
 public:
  using Array = Eigen::ArrayXd;

  explicit Dopri5(Dopri5Settings settings = {}) : settings_(settings) {}

  const Dopri5Settings& settings() const { return settings_; }
  // Threads that share the stage arithmetic and the error norm of long states (whole chunks
  // of base::sum_chunk elements; default 1). The sums are chunked whatever the count, so
  // results do not depend on it. The system shares its own work (e.g. EffectiveDynamics).
  void set_threads(int threads) { threads_ = threads < 1 ? 1 : threads; }
  int threads() const { return threads_; }

  // Integrates y from t0 to t_end in place. At every time of `sample_times` (ascending,
  // within [t0, t_end]) the observer's sample(k, y_k) receives the state from the dense
  // output; if the observer has step(t, y) it also sees every accepted step. Allocation-free
  // once the workspace has the system's size.
  template <class System, class Observer>
  IntegrationResult integrate(System& f, Array& y, double t0, double t_end,
                              std::span<const double> sample_times, Observer& observer);

  // One step of size h without error control (used to verify the method's order).
  template <class System>
  void fixed_step(System& f, Array& y, double h);

 private:
  template <class System>
  void trial_step(System& f, const Array& y, double h);
  double error_norm(const Array& y, double h) const;
  template <class System>
  double initial_step(System& f, const Array& y, double t0, double t_end);
  void dense_output(const Array& y, double h, double theta, Array& out) const;
  void resize(Eigen::Index n);

  Dopri5Settings settings_;
  int threads_ = 1;
  Array k1_, k2_, k3_, k4_, k5_, k6_, k7_, y_stage_, y_new_, y_sample_;
};

// Butcher tableau of Dormand & Prince (1980), with e = b5 − b4 and Hairer's dense output.
namespace dopri5_coefficients {
inline constexpr double c2 = 1.0 / 5, c3 = 3.0 / 10, c4 = 4.0 / 5, c5 = 8.0 / 9;
inline constexpr double a21 = 1.0 / 5;
inline constexpr double a31 = 3.0 / 40, a32 = 9.0 / 40;
inline constexpr double a41 = 44.0 / 45, a42 = -56.0 / 15, a43 = 32.0 / 9;
inline constexpr double a51 = 19372.0 / 6561, a52 = -25360.0 / 2187, a53 = 64448.0 / 6561,
                        a54 = -212.0 / 729;
inline constexpr double a61 = 9017.0 / 3168, a62 = -355.0 / 33, a63 = 46732.0 / 5247,
                        a64 = 49.0 / 176, a65 = -5103.0 / 18656;
inline constexpr double a71 = 35.0 / 384, a73 = 500.0 / 1113, a74 = 125.0 / 192,
                        a75 = -2187.0 / 6784, a76 = 11.0 / 84;
inline constexpr double e1 = 71.0 / 57600, e3 = -71.0 / 16695, e4 = 71.0 / 1920,
                        e5 = -17253.0 / 339200, e6 = 22.0 / 525, e7 = -1.0 / 40;
inline constexpr double d1 = -12715105075.0 / 11282082432, d3 = 87487479700.0 / 32700410799,
                        d4 = -10690763975.0 / 1880347072, d5 = 701980252875.0 / 199316789632,
                        d6 = -1453857185.0 / 822651844, d7 = 69997945.0 / 29380423;
}  // namespace dopri5_coefficients

// Whether every entry is finite: 0·x is 0, or NaN for an infinite or NaN entry. A plain
// vectorised sum, checked after every step; Eigen's allFinite() is not always inlined there.
inline bool all_finite(const Eigen::ArrayXd& x) { return std::isfinite((x * 0.0).sum()); }

inline void Dopri5::resize(Eigen::Index n) {
  if (k1_.size() == n) return;
  for (Array* a : {&k1_, &k2_, &k3_, &k4_, &k5_, &k6_, &k7_, &y_stage_, &y_new_, &y_sample_})
    a->resize(n);
}

// Stages 2..7 from k1 = f(y); leaves the 5th-order solution in y_new_ and f(y_new_) in k7_.
template <class System>
void Dopri5::trial_step(System& f, const Array& y, double h) {
  using namespace dopri5_coefficients;
  // Every stage is elementwise: chunks of it may go to different threads.
  const auto stage = [&](Array& out, auto combination) {
    base::for_chunks(y.size(), threads_, [&](Eigen::Index first, Eigen::Index n) {
      const auto at = [&](const Array& a) { return a.segment(first, n); };
      out.segment(first, n) = at(y) + combination(at);
    });
  };
  // The products associate exactly as in y + h · Σ a_ij k_j (with h · a21 first in stage 2).
  stage(y_stage_, [&](auto at) { return h * a21 * at(k1_); });
  f(y_stage_, k2_);
  stage(y_stage_, [&](auto at) { return h * (a31 * at(k1_) + a32 * at(k2_)); });
  f(y_stage_, k3_);
  stage(y_stage_, [&](auto at) { return h * (a41 * at(k1_) + a42 * at(k2_) + a43 * at(k3_)); });
  f(y_stage_, k4_);
  stage(y_stage_, [&](auto at) {
    return h * (a51 * at(k1_) + a52 * at(k2_) + a53 * at(k3_) + a54 * at(k4_));
  });
  f(y_stage_, k5_);
  stage(y_stage_, [&](auto at) {
    return h * (a61 * at(k1_) + a62 * at(k2_) + a63 * at(k3_) + a64 * at(k4_) + a65 * at(k5_));
  });
  f(y_stage_, k6_);
  stage(y_new_, [&](auto at) {
    return h * (a71 * at(k1_) + a73 * at(k3_) + a74 * at(k4_) + a75 * at(k5_) + a76 * at(k6_));
  });
  f(y_new_, k7_);
}

// Root-mean-square of the local error estimate in units of atol + rtol·|y| (Hairer's norm).
// NaN when the trial produced non-finite values, which the controller treats as a rejection.
inline double Dopri5::error_norm(const Array& y, double h) const {
  using namespace dopri5_coefficients;
  const double rtol = settings_.rtol, atol = settings_.atol;
  const double sum = base::chunked_sum(
      y.size(),
      [&](Eigen::Index i) {
        const double scale = atol + rtol * std::max(std::abs(y[i]), std::abs(y_new_[i]));
        const double local_error =
            h * (e1 * k1_[i] + e3 * k3_[i] + e4 * k4_[i] + e5 * k5_[i] + e6 * k6_[i] + e7 * k7_[i]);
        const double scaled = local_error / scale;
        return scaled * scaled;
      },
      threads_);
  return std::sqrt(sum / static_cast<double>(y.size()));
}

template <class System>
double Dopri5::initial_step(System& f, const Array& y, double t0, double t_end) {
  // Hairer's starting step: a first guess from |y|/|f|, refined by a second-derivative estimate.
  const double rtol = settings_.rtol, atol = settings_.atol;
  const double n = static_cast<double>(y.size());
  const double span = t_end - t0;
  const auto scale = atol + rtol * y.abs();
  const auto rms = [&](const auto& x) {
    return std::sqrt(
        base::chunked_sum(y.size(), [&](Eigen::Index i) { return x.coeff(i) * x.coeff(i); }) / n);
  };
  const double d0 = rms(y / scale);
  const double d1 = rms(k1_ / scale);
  double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
  h0 = std::min(h0, span);
  y_stage_ = y + h0 * k1_;
  f(y_stage_, k2_);
  const double d2 = rms((k2_ - k1_) / scale) / h0;
  const double dmax = std::max(d1, d2);
  const double h1 = dmax <= 1e-15 ? std::max(1e-6, h0 * 1e-3) : std::pow(0.01 / dmax, 1.0 / 5);
  return std::min({100 * h0, h1, span});
}

inline void Dopri5::dense_output(const Array& y, double h, double theta, Array& out) const {
  using namespace dopri5_coefficients;
  const double theta1 = 1 - theta;
  // Hairer's CONTD5 in Horner form: y + θ(Δy + (1−θ)(hk1 − Δy + θ(Δy − hk7 − hk1 + Δy + (1−θ)
  // r5))).
  const auto dy = y_new_ - y;
  const auto bspl = h * k1_ - dy;
  const auto r4 = dy - h * k7_ - bspl;
  const auto r5 = h * (d1 * k1_ + d3 * k3_ + d4 * k4_ + d5 * k5_ + d6 * k6_ + d7 * k7_);
  out = y + theta * (dy + theta1 * (bspl + theta * (r4 + theta1 * r5)));
}

template <class System, class Observer>
IntegrationResult Dopri5::integrate(System& f, Array& y, double t0, double t_end,
                                    std::span<const double> sample_times, Observer& observer) {
  constexpr double safety = 0.9, fac_min = 0.2, fac_max = 10.0, beta = 0.04;
  constexpr double expo = 0.2 - beta * 0.75;  // PI controller of DOPRI5 (stabilises stiff runs)
  resize(y.size());
  IntegrationResult result;
  std::size_t next_sample = 0;
  auto emit_samples_at_or_before = [&](double t, const Array& state) {
    while (next_sample < sample_times.size() && sample_times[next_sample] <= t)
      observer.sample(static_cast<int>(next_sample++), state);
  };

  f(y, k1_);
  result.rhs_evaluations = 1;
  if (!all_finite(y) || !all_finite(k1_)) {
    result.status = IntegrationStatus::diverged;
    return result;
  }
  emit_samples_at_or_before(t0, y);
  if (t_end <= t0) return result;

  double t = t0;
  double h = initial_step(f, y, t0, t_end);
  result.rhs_evaluations += 1;
  double err_old = 1e-4;
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
    const bool last_step = t + 1.01 * h >= t_end;
    if (last_step) h = t_end - t;
    trial_step(f, y, h);
    result.rhs_evaluations += 6;
    const double err = error_norm(y, h);
    if (!(err <= 1.0)) {  // also rejects NaN from a non-finite trial
      const double shrink =
          std::isfinite(err) ? std::min(1 / fac_min, std::pow(err, expo) / safety) : 1 / fac_min;
      h /= shrink;
      last_rejected = true;
      ++result.rejected_steps;
      continue;
    }
    ++result.accepted_steps;
    const double t_new = last_step ? t_end : t + h;
    // Samples strictly inside the step come from the interpolant; one at t_new is exact.
    while (next_sample < sample_times.size() && sample_times[next_sample] < t_new) {
      dense_output(y, h, (sample_times[next_sample] - t) / h, y_sample_);
      observer.sample(static_cast<int>(next_sample++), y_sample_);
    }
    y.swap(y_new_);
    k1_.swap(k7_);  // first-same-as-last
    t = t_new;
    if (!all_finite(y)) {
      result.status = IntegrationStatus::diverged;
      return result;
    }
    emit_samples_at_or_before(t, y);
    if constexpr (requires { observer.step(t, y); }) observer.step(t, y);

    double fac = std::pow(err, expo) / std::pow(err_old, beta);
    fac = std::clamp(fac / safety, 1 / fac_max, 1 / fac_min);
    double h_new = h / fac;
    if (last_rejected) h_new = std::min(h_new, h);
    err_old = std::max(err, 1e-4);
    last_rejected = false;
    h = h_new;
  }
  return result;
}

template <class System>
void Dopri5::fixed_step(System& f, Array& y, double h) {
  resize(y.size());
  f(y, k1_);
  trial_step(f, y, h);
  y.swap(y_new_);
}

}  // namespace cdl::theory
