// The Rosenbrock integrator of the N → ∞ populations: its order, its stability on stiff
// decays, its accuracy against DOPRI5 on the mean-field dynamics, and its determinism.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <vector>

#include "coupling/graph.hpp"
#include "theory/dopri5.hpp"
#include "theory/effective_dynamics.hpp"
#include "theory/rosenbrock4.hpp"

using namespace cdl;
using theory::IntegrationStatus;
using theory::Rosenbrock4;
using Array = Eigen::ArrayXd;

namespace {

struct Samples {
  std::vector<Array> values;
  void sample(int k, const Array& y) {
    if (static_cast<int>(values.size()) <= k) values.resize(static_cast<std::size_t>(k) + 1);
    values[static_cast<std::size_t>(k)] = y;
  }
};

// A weighted mean-field population of the effective theory: n disorder values spread over
// [−Δmax, Δmax] and initial states over [−1.7, 2.3], weights ∝ 1 + i mod 3. N → ∞ rules reach
// Δ = ±12 (six standard deviations of the published normal:0:2), where units are stiff.
struct Population {
  Array disorder, initial_state, weight;
  coupling::CouplingGraph graph;
  Population(int n, double disorder_max)
      : disorder(Array::LinSpaced(n, -disorder_max, disorder_max)),
        initial_state(Array::LinSpaced(n, -1.7, 2.3)),
        weight(n),
        graph(coupling::CouplingGraph::complete(1)) {
    for (int i = 0; i < n; ++i) weight[i] = 1 + i % 3;
    weight /= weight.sum();
    graph = coupling::CouplingGraph::weighted_complete(weight);
  }
};

// y(1) of D = 2, σ = 2 with `steps` fixed steps, against a DOPRI5 reference at rtol 1e-13.
double fixed_step_error(int steps) {
  const Population p(12, 4);
  theory::EffectiveDynamics f(2, 0.01, p.disorder, p.graph);
  f.set_sigma(2);
  Array reference = p.initial_state;
  Samples none;
  theory::Dopri5({1e-13, 1e-15, 1000000}).integrate(f, reference, 0.0, 1.0, {}, none);
  Array y = p.initial_state;
  Rosenbrock4 stepper;
  for (int k = 0; k < steps; ++k) stepper.fixed_step(f, y, 1.0 / steps);
  return (y - reference).abs().maxCoeff();
}

bool same_bits(const Array& a, const Array& b) {
  return a.size() == b.size() &&
         std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.size()) * sizeof(double)) == 0;
}

}  // namespace

TEST_CASE("fixed-step Rosenbrock is fourth order on the mean-field dynamics") {
  // A wrong coefficient or a wrong Sherman–Morrison solve (the mean field's column of the
  // Jacobian) drops the order.
  for (int steps : {160, 320}) {
    const double ratio = fixed_step_error(steps) / fixed_step_error(2 * steps);
    INFO("steps " << steps << " ratio " << ratio);
    CHECK(ratio > 13);
    CHECK(ratio < 19);
  }
}

TEST_CASE("Rosenbrock takes accuracy-limited steps on a stiff decay") {
  // y' = −1000 y: DOPRI5 needs ~3000 stability-limited steps over [0, 10] (integrator_test).
  struct Decay {
    double mean_field_strength() const { return 0; }
    const double* mean_field_weights() const { return nullptr; }
    void local_force(Eigen::Index, Eigen::Index n, const double* y, double* force) const {
      for (Eigen::Index i = 0; i < n; ++i) force[i] = -1000.0 * y[i];
    }
    void local_force_and_slope(Eigen::Index first, Eigen::Index n, const double* y, double* force,
                               double* slope) const {
      local_force(first, n, y, force);
      for (Eigen::Index i = 0; i < n; ++i) slope[i] = -1000.0;
    }
  } decay;
  Rosenbrock4 stepper;
  Array y = Array::Constant(4, 1.0);
  Samples samples;
  const std::vector<double> times{0.0, 10.0};
  const auto result = stepper.integrate(decay, y, 0.0, 10.0, times, samples);
  REQUIRE(result.status == IntegrationStatus::done);
  CHECK(y.abs().maxCoeff() < 1e-5);
  CHECK(result.accepted_steps < 100);
}

TEST_CASE("adaptive Rosenbrock meets its tolerance at D = 8, in far fewer steps than DOPRI5") {
  const Population p(200, 12);
  theory::EffectiveDynamics f(8, 0.001, p.disorder, p.graph);
  f.set_sigma(10);
  std::vector<double> times;
  for (int k = 0; k <= 20; ++k) times.push_back(0.5 * k);
  Array reference = p.initial_state;
  Samples exact;
  theory::Dopri5({1e-12, 1e-14, 10000000}).integrate(f, reference, 0.0, 10.0, times, exact);
  for (double rtol : {1e-3, 1e-6}) {
    Array y = p.initial_state;
    Samples samples;
    Rosenbrock4 stepper({rtol, rtol * 1e-3, 100000});
    const auto result = stepper.integrate(f, y, 0.0, 10.0, times, samples);
    REQUIRE(result.status == IntegrationStatus::done);
    REQUIRE(samples.values.size() == times.size());
    double worst = 0;
    for (std::size_t k = 0; k < times.size(); ++k)
      worst = std::max(worst, (samples.values[k] - exact.values[k]).abs().maxCoeff());
    Array explicit_y = p.initial_state;
    Samples explicit_samples;
    const auto explicit_result = theory::Dopri5({rtol, rtol * 1e-3, 1000000})
                                     .integrate(f, explicit_y, 0.0, 10.0, times, explicit_samples);
    INFO("rtol " << rtol << ": worst sample error " << worst << ", " << result.accepted_steps
                 << " steps against DOPRI5's " << explicit_result.accepted_steps);
    CHECK(worst < 20 * rtol);
    CHECK(same_bits(samples.values.back(), y));  // the last sample is the final state
    if (rtol == 1e-3) CHECK(result.accepted_steps * 4 < explicit_result.accepted_steps);
  }
}

TEST_CASE("Rosenbrock gives the same bits on 1, 2 and 3 threads") {
  const Population p(20000, 12);  // several chunks of base::sum_chunk
  std::vector<Array> finals;
  for (int threads : {1, 2, 3}) {
    theory::EffectiveDynamics f(3, 0.001, p.disorder, p.graph);
    f.set_sigma(5);
    f.set_threads(threads);
    Rosenbrock4 stepper;
    stepper.set_threads(threads);
    Array y = p.initial_state;
    Samples samples;
    const std::vector<double> times{0.0, 1.0, 2.0};
    REQUIRE(stepper.integrate(f, y, 0.0, 2.0, times, samples).status == IntegrationStatus::done);
    finals.push_back(y);
  }
  CHECK(same_bits(finals[0], finals[1]));
  CHECK(same_bits(finals[0], finals[2]));
}

TEST_CASE("Rosenbrock agrees with DOPRI5 over several chunks, with uniform and node weights") {
  // 10 000 units: two full chunks of base::sum_chunk and a partial one, so a unit placed in the
  // wrong chunk, or a chunk's sum added twice, moves the mean field.
  const int n = 10000;
  const Population weighted(n, 6);
  const auto uniform = coupling::CouplingGraph::complete(n);
  for (const coupling::CouplingGraph* graph : {&weighted.graph, &uniform}) {
    theory::EffectiveDynamics f(3, 0.01, weighted.disorder, *graph);
    f.set_sigma(3);
    f.set_threads(2);
    const std::vector<double> times{0.0, 1.0, 2.0};
    Array reference = weighted.initial_state;
    Samples exact;
    theory::Dopri5({1e-11, 1e-13, 10000000}).integrate(f, reference, 0.0, 2.0, times, exact);
    Rosenbrock4 stepper({1e-7, 1e-10, 100000});
    stepper.set_threads(2);
    Array y = weighted.initial_state;
    Samples samples;
    REQUIRE(stepper.integrate(f, y, 0.0, 2.0, times, samples).status == IntegrationStatus::done);
    const double worst = (y - reference).abs().maxCoeff();
    INFO((graph == &uniform ? "uniform" : "node") << " weights: worst final error " << worst);
    CHECK(worst < 1e-5);
  }
}

TEST_CASE("Rosenbrock reports a non-finite force or a blow-up, also in a unit of zero weight") {
  // y' = y² (blows up at t = 1/y(0)), or a force that is NaN beyond y = 0.9 (so at the start
  // for the last unit); the mean field is weighted, the last unit with weight 0 (as the N → ∞
  // riders are). A NaN met only at a stage rejects the step instead (a smaller one may avoid it).
  struct Blowup {
    bool nan_beyond = false;
    Array weight;
    double mean_field_strength() const { return 0.5; }
    const double* mean_field_weights() const { return weight.data(); }
    void local_force(Eigen::Index, Eigen::Index n, const double* y, double* force) const {
      for (Eigen::Index i = 0; i < n; ++i)
        force[i] = nan_beyond && y[i] > 0.9 ? std::nan("") : y[i] * y[i];
    }
    void local_force_and_slope(Eigen::Index first, Eigen::Index n, const double* y, double* force,
                               double* slope) const {
      local_force(first, n, y, force);
      for (Eigen::Index i = 0; i < n; ++i) slope[i] = 2 * y[i];
    }
  };
  const std::vector<double> times{0.0, 2.0};
  for (const bool nan_beyond : {false, true}) {
    Blowup blowup{nan_beyond, Array(3)};
    blowup.weight << 0.5, 0.5, 0.0;
    Array y(3);
    y << 0.1, 0.1, 1.0;  // the unit of weight 0 runs away
    Samples samples;
    Rosenbrock4 stepper;
    const auto status = stepper.integrate(blowup, y, 0.0, 2.0, times, samples).status;
    INFO("NaN beyond 0.9: " << nan_beyond << ", status " << static_cast<int>(status));
    if (nan_beyond)
      CHECK(status == IntegrationStatus::diverged);
    else
      CHECK((status == IntegrationStatus::step_underflow || status == IntegrationStatus::diverged));
  }
}
