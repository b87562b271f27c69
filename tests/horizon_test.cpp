// Observation horizons: each horizon's window of one trajectory equals a run that ends there,
// and the relaxation time against the closed-form relaxation of the mean field.
#include "sweep/horizon.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <map>

#include "experiments/micro_sweep.hpp"
#include "experiments/theory_sweep.hpp"
#include "micro/task.hpp"
#include "micro_support.hpp"

using namespace cdl;
using experiments::MicroChainResult;
using experiments::MicroSweep;
using experiments::TheoryChainResult;
using experiments::TheorySweep;

namespace {

base::Distribution distribution(const std::string& text) {
  return base::parse_distribution(text, "test", {"normal", "uniform"});
}

TheoryChainResult run_one_chain(const TheorySweep& sweep) {
  TheoryChainResult result;
  experiments::run_theory_sweep(sweep, 1, [&](const TheoryChainResult& r) { result = r; });
  return result;
}

// A non-adiabatic sweep of D = 2 at tight tolerances: the samples of two runs that share a
// beginning agree to ~1e-9, far below the differences between horizons.
TheorySweep tight_sweep() {
  TheorySweep sweep;
  sweep.units = 50;
  sweep.runs = 1;
  sweep.depths = {2};
  sweep.sigma = {0.3, 3};
  sweep.protocols = {sweep::Protocol::nonadiabatic};
  sweep.t_end = 8;
  sweep.samples = 41;  // every 0.2
  sweep.integrator.rtol = 1e-10;
  sweep.integrator.atol = 1e-12;
  sweep.disorder = distribution("normal:0:2");
  sweep.initial_state = distribution("uniform:-1.7:2.3");
  return sweep;
}

// Every horizon k of `sweep` against a run with t_end = t_k and k + 1 samples.
void check_horizons_against_shorter_runs(const TheorySweep& sweep, double tolerance) {
  const TheoryChainResult whole = run_one_chain(sweep);
  const std::vector<double> times = sweep.sample_times();
  for (std::size_t h = 0; h < sweep.horizon_samples.size(); ++h) {
    const int k = sweep.horizon_samples[h];
    TheorySweep shorter = sweep;
    shorter.t_end = times[static_cast<std::size_t>(k)];
    shorter.samples = k + 1;
    shorter.horizon_samples.clear();
    const TheoryChainResult part = run_one_chain(shorter);
    for (std::size_t s = 0; s < sweep.sigma.size(); ++s) {
      INFO("horizon " << shorter.t_end << ", sigma " << sweep.sigma[s]);
      const auto column = static_cast<Eigen::Index>(h);
      const auto row = static_cast<Eigen::Index>(s);
      CHECK(std::abs(whole.order_parameter_horizon(row, column) - part.order_parameter[s]) <
            tolerance);
      CHECK(std::abs(whole.loss_horizon(row, column) - part.loss[s]) < tolerance);
    }
  }
}

// Equal bits (NaN included: observables a task does not define are NaN in both).
bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

}  // namespace

TEST_CASE("a trace has settled from the first sample that stays near its final value") {
  Eigen::ArrayXd trace(6);
  trace << 1.0, 0.5, 0.2, 0.005, 0.001, 0.0;  // range 1: within 0.01 from index 3 on
  CHECK(sweep::settled_index(trace) == 3);
  CHECK(sweep::settled_index(Eigen::ArrayXd::Constant(4, 0.3)) == 0);
  Eigen::ArrayXd moving(4);
  moving << 0.0, 1.0, 0.0, 1.0;  // still moving at the end: not seen to settle
  CHECK(sweep::settled_index(moving) == -1);
  trace[2] = base::nan;
  CHECK(sweep::settled_index(trace) == -1);
  Eigen::ArrayXd samples(5);
  samples << 1, 2, 3, 4, 5;
  CHECK(sweep::window_mean(samples, {1, 3}) == 3);
}

TEST_CASE("horizon windows: [h/2, h] for the theory, the run's proportion for micro") {
  TheorySweep theory;
  theory.t_end = 10;
  theory.samples = 11;
  theory.horizon_samples = {1, 4, 10};
  const auto windows = theory.horizon_windows();
  REQUIRE(windows.size() == 3);
  CHECK((windows[0].first == 1 && windows[0].last == 1));
  CHECK((windows[1].first == 2 && windows[1].last == 4));
  // The last horizon's window is order_parameter's: the second half of the samples.
  CHECK((windows[2].first == theory.first_measured_sample() && windows[2].last == 10));
  theory.horizon_samples.clear();
  CHECK(theory.horizon_times() == std::vector<double>{10.0});

  MicroSweep micro;
  micro.transient_steps = 2000;
  micro.measure_steps = 1000;
  micro.record_every = 100;
  micro.horizon_samples = {15, 30};  // steps 1500 and 3000
  const auto records = micro.horizon_windows();
  CHECK((records[0].first == 11 && records[0].last == 15));  // after step 1000
  CHECK((records[1].first == micro.first_measured_sample() && records[1].last == 30));
}

TEST_CASE("a finite-N horizon equals a run that ends there, from the same trajectory") {
  TheorySweep sweep = tight_sweep();
  sweep.horizon_samples = {5, 10, 25, 40};  // t = 1, 2, 5, 8
  check_horizons_against_shorter_runs(sweep, 1e-7);
  // The horizons differ from each other by far more than that (the test has teeth), and the
  // last one is order_parameter itself.
  const TheoryChainResult whole = run_one_chain(sweep);
  CHECK(std::abs(whole.order_parameter_horizon(1, 0) - whole.order_parameter_horizon(1, 2)) > 1e-3);
  for (std::size_t s = 0; s < sweep.sigma.size(); ++s)
    CHECK(whole.order_parameter_horizon(static_cast<Eigen::Index>(s), 3) ==
          whole.order_parameter[s]);
}

TEST_CASE("an N -> infinity horizon is within its own estimate of a run that ends there") {
  // Every horizon's window is refined to the accuracy and carries its own estimate: the value
  // at horizon h of one run agrees with a separate run to h within the two estimates.
  TheorySweep sweep = tight_sweep();
  sweep.infinite_population = true;
  sweep.depths = {2};
  sweep.sigma = {1.0, 4.0};
  sweep.integrator.rtol = 1e-8;
  sweep.integrator.atol = 1e-10;
  sweep.accuracy = 1e-5;
  sweep.units = theory::PopulationQuadrature(sweep.disorder, sweep.initial_state, sweep.population)
                    .disorder_count();
  sweep.horizon_samples = {10, 25, 40};
  const TheoryChainResult whole = run_one_chain(sweep);
  const std::vector<double> times = sweep.sample_times();
  for (std::size_t h = 0; h < sweep.horizon_samples.size(); ++h) {
    const int k = sweep.horizon_samples[h];
    TheorySweep shorter = sweep;
    shorter.t_end = times[static_cast<std::size_t>(k)];
    shorter.samples = k + 1;
    shorter.horizon_samples.clear();
    const TheoryChainResult part = run_one_chain(shorter);
    for (std::size_t s = 0; s < sweep.sigma.size(); ++s) {
      const auto row = static_cast<Eigen::Index>(s), column = static_cast<Eigen::Index>(h);
      const double value = whole.order_parameter_horizon(row, column);
      const double estimate = whole.order_parameter_horizon_error(row, column);
      INFO("horizon " << shorter.t_end << ", sigma " << sweep.sigma[s] << ": " << value << " +- "
                      << estimate << ", separate run " << part.order_parameter[s] << " +- "
                      << part.order_parameter_error[s]);
      CHECK(whole.horizon_status(row, column) ==
            static_cast<std::int8_t>(sweep::PointStatus::done));
      CHECK(estimate <= sweep.accuracy);
      CHECK(std::abs(value - part.order_parameter[s]) <= estimate + part.order_parameter_error[s]);
      CHECK(std::abs(whole.loss_horizon(row, column) - part.loss[s]) <=
            whole.loss_horizon_error(row, column) + part.loss_error[s]);
    }
  }
  // The last horizon is the point's own window, with the same estimate.
  for (std::size_t s = 0; s < sweep.sigma.size(); ++s)
    CHECK(whole.order_parameter_horizon_error(static_cast<Eigen::Index>(s), 2) ==
          whole.order_parameter_error[s]);
}

TEST_CASE("relaxation_time at D = 0 is the closed-form relaxation of the mean field") {
  // D = 0 on the complete graph: the coupling drops out of the mean, dm/dt = Δ̄ − (1 + γ) m, so
  // m(t) = m∞ + (m(0) − m∞) e^{−(1+γ)t}. The trace settles (within 1 % of its range of m(t_end))
  // at the first sample t_k ≥ t*, with e^{−(1+γ)t*} − e^{−(1+γ)t_end} = 0.01 (1 − e^{−(1+γ)t_end}).
  TheorySweep sweep = tight_sweep();
  sweep.depths = {0};
  sweep.sigma = {0.1, 1, 10};
  sweep.gamma = 0.5;
  sweep.t_end = 12;
  sweep.samples = 121;  // every 0.1
  const TheoryChainResult result = run_one_chain(sweep);
  const double rate = 1 + sweep.gamma;
  const double tail = std::exp(-rate * sweep.t_end);
  const double t_star = -std::log(tail + 0.01 * (1 - tail)) / rate;
  const double expected = std::ceil(t_star / 0.1 - 1e-9) * 0.1;
  for (std::size_t s = 0; s < sweep.sigma.size(); ++s) {
    INFO("sigma " << sweep.sigma[s] << ", t* " << t_star);
    CHECK(std::abs(result.relaxation_time[s] - expected) < 1e-9);
  }
}

TEST_CASE("a micro horizon equals a run of that many steps, bit for bit") {
  MicroSweep sweep = test::tiny_micro_sweep();
  sweep.depths = {1};
  sweep.horizon_samples = {2, 4};  // steps 40 and 80
  const auto run = [](const MicroSweep& s) {
    MicroChainResult result;
    experiments::run_micro_sweep(s, 2, [&](const MicroChainResult& r) { result = r; });
    return result;
  };
  const MicroChainResult whole = run(sweep);
  MicroSweep shorter = sweep;
  shorter.transient_steps = 20;
  shorter.measure_steps = 20;
  shorter.horizon_samples.clear();
  const MicroChainResult part = run(shorter);
  for (std::size_t s = 0; s < sweep.sigma.size(); ++s) {
    const auto row = static_cast<Eigen::Index>(s);
    CHECK(whole.order_parameter_horizon(row, 0) == part.order_parameter[s]);
    CHECK(whole.order_parameter_horizon(row, 1) == whole.order_parameter[s]);
    for (std::size_t o = 0; o < experiments::observable_names.size(); ++o) {
      INFO(experiments::observable_names[o] << ", sigma " << sweep.sigma[s]);
      CHECK(same_bits(whole.horizon_average[o](row, 0), part.average[o][s]));
      CHECK(same_bits(whole.horizon_average[o](row, 1), whole.average[o][s]));
    }
  }
}
