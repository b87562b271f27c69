// Locating the ordered window of a sweep (issue 6): the onset σ_c1 and end σ_c2 of collective
// learning from the realization-averaged order parameter (or accuracy) on log σ, bootstrap
// intervals over realizations, and the hysteresis between adiabatic up and down sweeps.
//
// Estimator (also in analysis/cdl_analysis/transitions.py; the two must agree): take the
// points with σ > 0 sorted by σ, x = log10 σ, the mean curve y; k* the first maximum, P = y[k*],
// L and R the values at the smallest and largest σ.
// - σ_c1: if P − L ≥ max(0.2|P|, 0.01), the first upward crossing of h1 = (L + P)/2 before k*,
// linearly
//   interpolated in x (y_k < h1 ≤ y_{k+1}); else NaN.
// - σ_c2: if P − R ≥ max(0.2|P|, 0.01), the first downward crossing of h2 = (P + R)/2 after k*
//   (y_k ≥ h2 > y_{k+1}); else NaN.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace cdl::estimators {

struct Window {
  double sigma_c1, sigma_c2;
};

// `sigma` and `y` in grid order (points with σ ≤ 0 are ignored).
Window locate_window(const std::vector<double>& sigma, const std::vector<double>& y);

// The mean of the finite entries of `values` and its standard error √(s²/n) with the sample
// variance s² (two passes, in order); mean NaN without entries, variance and error NaN with
// fewer than two.
struct MeanError {
  double mean, variance, se;
  int count;
};
MeanError mean_and_error(std::span<const double> values);

// The mean over realizations of values[run][σ] (NaN entries skipped) and its standard error.
struct Curve {
  std::vector<double> mean, se, variance;
  std::vector<int> count;
};
Curve average_over_runs(const std::vector<std::vector<double>>& values);

// 95 % percentile intervals of σ_c1 and σ_c2 from `resamples` bootstrap resamples of the
// realizations (a fixed seed: reproducible); NaN when fewer than half the resamples have a
// value.
struct WindowInterval {
  std::array<double, 2> sigma_c1, sigma_c2;
};
WindowInterval bootstrap_window(const std::vector<double>& sigma,
                                const std::vector<std::vector<double>>& values, int resamples,
                                std::uint64_t seed);

// Hysteresis of an up/down pair on the same grid: widths in decades, log10(σ_up/σ_down), of
// each transition, and the area ∫ |y_up − y_down| d log10 σ (trapezoid over σ > 0, sorted).
struct Hysteresis {
  double width_c1, width_c2, area;
};
Hysteresis hysteresis(const std::vector<double>& sigma, const std::vector<double>& up,
                      const std::vector<double>& down);

}  // namespace cdl::estimators
