// The ordered-window estimator recovers prescribed critical couplings and hysteresis widths.
#include "estimators/transitions.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "base/random.hpp"

using namespace cdl::estimators;

namespace {

// A disorder–order–disorder curve on log σ: 0.1 + 0.7 (rise at c1) (fall at c2), logistic.
double window_curve(double sigma, double c1, double c2) {
  const double x = std::log10(sigma);
  const double rise = 1 / (1 + std::exp(-(x - std::log10(c1)) / 0.08));
  const double fall = 1 / (1 + std::exp((x - std::log10(c2)) / 0.08));
  return 0.1 + 0.7 * rise * fall;
}

std::vector<double> log_grid(double a, double b, int n) {
  std::vector<double> sigma;
  for (int k = 0; k < n; ++k) sigma.push_back(std::pow(10.0, a + (b - a) * k / (n - 1)));
  return sigma;
}

}  // namespace

TEST_CASE("the half-height crossings of a noiseless window are its critical couplings") {
  const auto sigma = log_grid(-2, 3, 400);
  std::vector<double> y;
  for (double s : sigma) y.push_back(window_curve(s, 0.5, 40));
  const Window w = locate_window(sigma, y);
  // Half height of a symmetric logistic step is its centre.
  CHECK(w.sigma_c1 == Approx(0.5).epsilon(0.01));
  CHECK(w.sigma_c2 == Approx(40).epsilon(0.01));
  // A flat curve (D = 0) has no window.
  const Window flat = locate_window(sigma, std::vector<double>(sigma.size(), 0.3));
  CHECK(std::isnan(flat.sigma_c1));
  CHECK(std::isnan(flat.sigma_c2));
}

TEST_CASE("bootstrap intervals over noisy realizations cover the true couplings") {
  const auto sigma = log_grid(-2, 3, 60);
  int covered_c1 = 0, covered_c2 = 0;
  const int trials = 20;
  for (int trial = 0; trial < trials; ++trial) {
    const cdl::base::CounterRng noise(static_cast<std::uint64_t>(trial), cdl::base::Purpose::data,
                                      9);
    std::vector<std::vector<double>> runs(30, std::vector<double>(sigma.size()));
    for (std::size_t r = 0; r < runs.size(); ++r)
      for (std::size_t s = 0; s < sigma.size(); ++s)
        runs[r][s] = window_curve(sigma[s], 0.5, 40) + 0.1 * noise.normal(r, s);
    const WindowInterval ci = bootstrap_window(sigma, runs, 400, 1);
    const Window w = locate_window(sigma, average_over_runs(runs).mean);
    CHECK(w.sigma_c1 == Approx(0.5).epsilon(0.15));
    CHECK(w.sigma_c2 == Approx(40).epsilon(0.15));
    covered_c1 += ci.sigma_c1[0] <= 0.5 && 0.5 <= ci.sigma_c1[1];
    covered_c2 += ci.sigma_c2[0] <= 40 && 40 <= ci.sigma_c2[1];
  }
  // Nominal 95 %; the linear interpolation between grid points adds a small bias.
  CHECK(covered_c1 >= 16);
  CHECK(covered_c2 >= 16);
}

TEST_CASE("the hysteresis of shifted up and down sweeps is their shift and the enclosed area") {
  const auto sigma = log_grid(-2, 3, 500);
  std::vector<double> up, down;
  for (double s : sigma) {
    up.push_back(window_curve(s, 1.0, 50));
    down.push_back(window_curve(s, 0.5, 25));
  }
  const Hysteresis h = hysteresis(sigma, up, down);
  CHECK(h.width_c1 == Approx(std::log10(2.0)).epsilon(0.01));
  CHECK(h.width_c2 == Approx(std::log10(2.0)).epsilon(0.01));
  // Two logistic steps shifted by log10 2 each enclose 0.7 × log10 2 each.
  CHECK(h.area == Approx(2 * 0.7 * std::log10(2.0)).epsilon(0.02));
}

TEST_CASE("mean and standard error skip NaN and need one and two values") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> values = {1.0, nan, 2.0, 4.0};
  const MeanError m = mean_and_error(values);
  CHECK(m.count == 3);
  CHECK(m.mean == Approx(7.0 / 3));
  // s² = Σ (x − x̄)² / (n − 1) = (16/9 + 1/9 + 25/9) / 2 = 7/3; se = √(s²/3).
  CHECK(m.variance == Approx(7.0 / 3));
  CHECK(m.se == Approx(std::sqrt(7.0 / 9)));
  const MeanError one = mean_and_error(std::vector<double>{5.0, nan});
  CHECK(one.mean == 5.0);
  CHECK(std::isnan(one.se));
  CHECK(std::isnan(mean_and_error(std::vector<double>{nan}).mean));
  // average_over_runs is the same estimate per coupling.
  const Curve curve = average_over_runs({{1.0, 0.0}, {nan, 0.0}, {2.0, 1.0}, {4.0, 1.0}});
  CHECK(curve.mean[0] == m.mean);
  CHECK(curve.se[0] == m.se);
  CHECK(curve.count[1] == 4);
}
