// The Dormand–Prince integrator on problems with known solutions.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "theory/dopri5.hpp"

using cdl::theory::Dopri5;
using cdl::theory::IntegrationStatus;
using Array = Eigen::ArrayXd;

namespace {

// y' = y cos t, y(0) = 1: y = exp(sin t). Two copies with different initial values.
struct Oscillating {
  double t = 0;  // the stepper is autonomous; time enters as an extra state component
  void operator()(const Array& y, Array& dydt) const {
    dydt[0] = y[0] * std::cos(y[2]);
    dydt[1] = y[1] * std::cos(y[2]);
    dydt[2] = 1;
  }
};

double exact(double t, double y0) { return y0 * std::exp(std::sin(t)); }

struct Samples {
  std::vector<Array> values;
  void sample(int k, const Array& y) {
    if (static_cast<int>(values.size()) <= k) values.resize(k + 1);
    values[k] = y;
  }
};

double fixed_step_error(int steps) {
  Oscillating f;
  Dopri5 stepper;
  Array y(3);
  y << 1.0, 2.0, 0.0;
  const double h = 1.0 / steps;
  for (int k = 0; k < steps; ++k) stepper.fixed_step(f, y, h);
  return std::max(std::abs(y[0] - exact(1, 1)), std::abs(y[1] - exact(1, 2)));
}

}  // namespace

TEST_CASE("fixed-step Dormand-Prince is fifth order: halving h divides the error by about 2^5") {
  for (int steps : {10, 20, 40}) {
    const double ratio = fixed_step_error(steps) / fixed_step_error(2 * steps);
    INFO("steps " << steps << " ratio " << ratio);
    CHECK(ratio > 28);
    CHECK(ratio < 36);
  }
}

TEST_CASE("adaptive integration meets its tolerance and dense output hits the sample times") {
  Oscillating f;
  std::vector<double> times;
  for (int k = 0; k <= 40; ++k) times.push_back(0.25 * k);
  for (double rtol : {1e-3, 1e-6, 1e-9}) {
    Dopri5 stepper({rtol, rtol * 1e-3, 100000});
    Array y(3);
    y << 1.0, 2.0, 0.0;
    Samples samples;
    const auto result = stepper.integrate(f, y, 0.0, 10.0, times, samples);
    REQUIRE(result.status == IntegrationStatus::done);
    REQUIRE(samples.values.size() == times.size());
    double worst = 0;
    for (std::size_t k = 0; k < times.size(); ++k) {
      worst = std::max(worst, std::abs(samples.values[k][0] - exact(times[k], 1)));
      CHECK(samples.values[k][2] == Approx(times[k]).margin(1e-12));  // time itself: exact
    }
    INFO("rtol " << rtol << " worst sample error " << worst << " steps " << result.accepted_steps);
    CHECK(worst < 20 * rtol);
    CHECK(y[0] == Approx(exact(10, 1)).epsilon(20 * rtol));
    CHECK(samples.values.back()[0] == y[0]);  // the last sample is the final state itself
  }
}

TEST_CASE("the step controller stays stable on a stiff linear decay") {
  // y' = -λ y with λ h far outside the stability region if the step were not limited.
  const auto decay = [](const Array& y, Array& dydt) { dydt = -1000.0 * y; };
  Dopri5 stepper;
  Array y = Array::Constant(4, 1.0);
  Samples samples;
  const std::vector<double> times{0.0, 10.0};
  const auto result = stepper.integrate(decay, y, 0.0, 10.0, times, samples);
  REQUIRE(result.status == IntegrationStatus::done);
  CHECK(y.abs().maxCoeff() < 1e-5);
  // Stability-limited: |hλ| ≈ 3.3 gives ~3000 steps; a runaway controller would need far more.
  CHECK(result.accepted_steps < 6000);
}

TEST_CASE("failures are reported, not hidden") {
  Samples samples;
  const std::vector<double> times{0.0, 2.0};
  SECTION("a non-finite initial state diverges at once") {
    const auto identity = [](const Array& y, Array& dydt) { dydt = y; };
    Dopri5 stepper;
    Array y = Array::Constant(2, std::nan(""));
    CHECK(stepper.integrate(identity, y, 0.0, 2.0, times, samples).status ==
          IntegrationStatus::diverged);
  }
  SECTION("finite-time blow-up y' = y^2 collapses the step size") {
    const auto blowup = [](const Array& y, Array& dydt) { dydt = y.square(); };
    Dopri5 stepper;
    Array y = Array::Constant(1, 1.0);  // y = 1/(1 − t) blows up at t = 1
    const auto status = stepper.integrate(blowup, y, 0.0, 2.0, times, samples).status;
    CHECK((status == IntegrationStatus::step_underflow || status == IntegrationStatus::diverged));
  }
  SECTION("the step budget is enforced") {
    const auto rotation = [](const Array& y, Array& dydt) {
      dydt[0] = y[1];
      dydt[1] = -y[0];
    };
    Dopri5 stepper({1e-3, 1e-6, 3});
    Array y(2);
    y << 1, 0;
    CHECK(stepper.integrate(rotation, y, 0.0, 2.0, times, samples).status ==
          IntegrationStatus::step_budget);
  }
}

TEST_CASE("chunked sums: fixed_order_sum on short arrays, the same bits on any thread count") {
  using cdl::base::chunked_sum;
  using cdl::base::fixed_order_sum;
  const auto term = [](Eigen::Index i) { return std::sin(0.37 * static_cast<double>(i)) + 1e-3; };
  for (Eigen::Index n : {Eigen::Index{1}, Eigen::Index{1000}, cdl::base::sum_chunk})
    CHECK(chunked_sum(n, term) == fixed_order_sum(n, term));  // exactly
  const Eigen::Index n = cdl::base::parallel_min_size * 2 + 17;
  long double exact = 0;
  for (Eigen::Index i = 0; i < n; ++i) exact += term(i);
  const double one = chunked_sum(n, term, 1);
  CHECK(std::abs(one - static_cast<double>(exact)) < 1e-12 * static_cast<double>(n));
  for (int threads : {2, 3}) CHECK(chunked_sum(n, term, threads) == one);
  // for_chunks visits every index exactly once, on any thread count.
  for (int threads : {1, 2, 3}) {
    std::vector<int> visits(static_cast<std::size_t>(n), 0);
    cdl::base::for_chunks(n, threads, [&](Eigen::Index first, Eigen::Index size) {
      for (Eigen::Index i = first; i < first + size; ++i) ++visits[static_cast<std::size_t>(i)];
    });
    CHECK(std::all_of(visits.begin(), visits.end(), [](int v) { return v == 1; }));
  }
}
