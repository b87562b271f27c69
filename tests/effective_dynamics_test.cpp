// The effective dynamics of docs/physics.md §2 against exact solutions and its Lyapunov function.
#include "theory/effective_dynamics.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <type_traits>
#include <vector>

#include "base/distribution.hpp"
#include "base/random.hpp"
#include "theory/dopri5.hpp"
#include "theory/root_finding.hpp"
#include "theory/stationary.hpp"
#include "theory/unit_potential.hpp"

using cdl::coupling::CouplingGraph;
using cdl::coupling::Topology;
using cdl::coupling::TopologyKind;
using cdl::theory::Dopri5;
using cdl::theory::EffectiveDynamics;
using Array = Eigen::ArrayXd;

namespace {

Array normal_sample(int n, double mean, double std, std::uint64_t key) {
  const cdl::base::CounterRng rng(key, cdl::base::Purpose::disorder, 0);
  Array x(n);
  for (int i = 0; i < n; ++i) x[i] = mean + std * rng.normal(static_cast<std::uint64_t>(i), 0);
  return x;
}

Array uniform_sample(int n, double lo, double hi, std::uint64_t key) {
  const cdl::base::CounterRng rng(key, cdl::base::Purpose::initial_state, 0);
  Array x(n);
  for (int i = 0; i < n; ++i) x[i] = lo + (hi - lo) * rng.uniform(static_cast<std::uint64_t>(i), 0);
  return x;
}

struct Recorder {
  std::vector<Array> samples;
  void sample(int, const Array& phi) { samples.push_back(phi); }
};

// H after every accepted step.
struct LyapunovRecorder {
  const EffectiveDynamics& dynamics;
  std::vector<double> values;
  void sample(int, const Array&) {}
  void step(double, const Array& phi) { values.push_back(dynamics.lyapunov(phi)); }
};

std::vector<double> linspace(double a, double b, int n) {
  std::vector<double> x;
  for (int k = 0; k < n; ++k) x.push_back(a + (b - a) * k / (n - 1));
  return x;
}

}  // namespace

TEST_CASE("D = 0 with all-to-all coupling follows the closed-form linear solution") {
  // dφ_i/dt = Δ_i − (1+γ)φ_i + σ(m − φ_i): the mean relaxes on its own,
  // m(t) = M + (m0 − M) e^{−gt} with g = 1+γ, M = Δ̄/g, and with a = g + σ each unit follows
  // φ_i(t) = φ_i(0) e^{−at} + (Δ_i + σM)(1 − e^{−at})/a + (m0 − M)(e^{−gt} − e^{−at}).
  const int n = 200;
  const double gamma = 0.001;
  const Array disorder = normal_sample(n, 0.0, 2.0, 7);
  const Array initial = uniform_sample(n, -1.7, 2.3, 7);
  const CouplingGraph graph = CouplingGraph::complete(n);
  const auto times = linspace(0, 10, 100);
  for (double sigma : {0.0, 0.3, 5.0, 150.0}) {
    for (double rtol : {1e-3, 1e-8}) {
      EffectiveDynamics dynamics(0, gamma, disorder, graph);
      dynamics.set_sigma(sigma);
      Dopri5 stepper({rtol, rtol * 1e-3, 100000});
      Array phi = initial;
      Recorder recorder;
      REQUIRE(stepper.integrate(dynamics, phi, 0.0, 10.0, times, recorder).status ==
              cdl::theory::IntegrationStatus::done);
      const double g = 1 + gamma, a = g + sigma, m0 = initial.mean(), M = disorder.mean() / g;
      double worst_unit = 0, worst_mean = 0;
      for (std::size_t k = 0; k < times.size(); ++k) {
        const double t = times[k];
        const Array expected = initial * std::exp(-a * t) +
                               (disorder + sigma * M) * (1 - std::exp(-a * t)) / a +
                               (m0 - M) * (std::exp(-g * t) - std::exp(-a * t));
        worst_unit = std::max(worst_unit, (recorder.samples[k] - expected).abs().maxCoeff());
        worst_mean = std::max(
            worst_mean, std::abs(recorder.samples[k].mean() - (M + (m0 - M) * std::exp(-g * t))));
      }
      INFO("sigma " << sigma << " rtol " << rtol << " unit error " << worst_unit << " mean error "
                    << worst_mean);
      CHECK(worst_unit < 30 * rtol);
      CHECK(worst_mean < 30 * rtol);
    }
  }
}

TEST_CASE("the right-hand side is minus the gradient of the Lyapunov function") {
  const int n = 30;
  const Array disorder = normal_sample(n, 0.3, 2.0, 11);
  const Array phi = uniform_sample(n, -1.7, 2.3, 11);
  const std::vector<Topology> topologies{{TopologyKind::complete, 0, 0},
                                         {TopologyKind::erdos_renyi, 0, 0.2},
                                         {TopologyKind::watts_strogatz, 4, 0.3},
                                         {TopologyKind::star, 0, 0}};
  for (const auto& topology : topologies)
    for (int depth : {0, 1, 2, 3, 5}) {
      const CouplingGraph graph = CouplingGraph::draw(topology, n, 3);
      EffectiveDynamics dynamics(depth, 0.01, disorder, graph);
      dynamics.set_sigma(2.5);
      Array force(n);
      dynamics(phi, force);
      for (int i = 0; i < n; ++i) {
        const double h = 1e-6;
        Array plus = phi, minus = phi;
        plus[i] += h;
        minus[i] -= h;
        const double gradient = (dynamics.lyapunov(plus) - dynamics.lyapunov(minus)) / (2 * h);
        INFO("topology " << static_cast<int>(topology.kind) << " depth " << depth << " unit " << i);
        CHECK(force[i] == Approx(-gradient).epsilon(1e-6).margin(1e-6));
      }
    }
}

TEST_CASE("the Lyapunov function never increases along integrated trajectories") {
  const int n = 100;
  const Array disorder = normal_sample(n, 0.0, 2.0, 5);
  const Array initial = uniform_sample(n, -1.7, 2.3, 5);
  const std::vector<Topology> topologies{{TopologyKind::complete, 0, 0},
                                         {TopologyKind::erdos_renyi, 0, 0.1},
                                         {TopologyKind::watts_strogatz, 6, 0.2},
                                         {TopologyKind::ring, 2, 0},
                                         {TopologyKind::star, 0, 0}};
  const std::vector<double> times{0.0, 10.0};
  for (const auto& topology : topologies) {
    const CouplingGraph graph = CouplingGraph::draw(topology, n, 9);
    for (int depth : {0, 1, 2})
      for (double sigma : {0.0, 0.7, 30.0}) {
        EffectiveDynamics dynamics(depth, 0.001, disorder, graph);
        dynamics.set_sigma(sigma);
        // Exact flows never increase H; a tightly controlled integration may only wiggle at
        // round-off level. At the published tolerances (rtol 1e-3) the local error may show as
        // a small increase near rest, bounded by the tolerance.
        for (const double rtol : {1e-10, 1e-3}) {
          Dopri5 stepper({rtol, rtol * 1e-3, 1000000});
          Array phi = initial;
          LyapunovRecorder recorder{dynamics, {dynamics.lyapunov(initial)}};
          stepper.integrate(dynamics, phi, 0.0, 10.0, times, recorder);
          double worst_increase = 0;
          for (std::size_t k = 1; k < recorder.values.size(); ++k)
            worst_increase = std::max(worst_increase, recorder.values[k] - recorder.values[k - 1]);
          INFO("topology " << static_cast<int>(topology.kind) << " depth " << depth << " sigma "
                           << sigma << " rtol " << rtol << " steps " << recorder.values.size()
                           << " worst increase " << worst_increase);
          const double allowed = rtol < 1e-6 ? 1e-11 : 0.1 * rtol;
          CHECK(worst_increase <= allowed * std::abs(recorder.values.front()));
          CHECK(recorder.values.back() < recorder.values.front());
        }
      }
  }
}

TEST_CASE("without coupling every unit ends at a stable root of Δφ^D − φ^{2D+1} − γφ") {
  const int n = 60;
  const double gamma = 0.1;
  const Array disorder = normal_sample(n, 0.0, 2.0, 21);
  const Array initial = uniform_sample(n, -1.7, 2.3, 21);
  const CouplingGraph graph = CouplingGraph::complete(n);
  for (int depth : {0, 1, 2}) {
    EffectiveDynamics dynamics(depth, gamma, disorder, graph);
    dynamics.set_sigma(0);
    Dopri5 stepper({1e-10, 1e-12, 10000000});
    Array phi = initial;
    Recorder recorder;
    const std::vector<double> times{2000.0};
    REQUIRE(stepper.integrate(dynamics, phi, 0.0, 2000.0, times, recorder).status ==
            cdl::theory::IntegrationStatus::done);
    for (int i = 0; i < n; ++i) {
      // Roots located independently: sign changes of the force on a fine grid, refined by
      // bisection.
      const auto force = [&](double x) {
        return disorder[i] * std::pow(x, depth) - std::pow(x, 2 * depth + 1) - gamma * x;
      };
      std::vector<double> stable_roots;
      const double lo = -4, step = 1e-3;
      for (double x = lo; x < 4; x += step) {
        double a = x, b = x + step;
        if (force(a) == 0) {
          if (force(a - 1e-9) > 0 && force(a + 1e-9) < 0) stable_roots.push_back(a);
          continue;
        }
        if (force(a) > 0 && force(b) < 0) {  // downward crossing: a stable root
          for (int it = 0; it < 60; ++it) {
            const double mid = 0.5 * (a + b);
            (force(mid) > 0 ? a : b) = mid;
          }
          stable_roots.push_back(0.5 * (a + b));
        }
      }
      double nearest = 1e9;
      for (double r : stable_roots) nearest = std::min(nearest, std::abs(phi[i] - r));
      INFO("depth " << depth << " unit " << i << " delta " << disorder[i] << " phi " << phi[i]);
      CHECK(nearest < 1e-4);
    }
  }
}

TEST_CASE("the unit's force and curvature are the derivatives of its potential, at every depth") {
  using cdl::theory::unit_curvature;
  using cdl::theory::unit_force;
  using cdl::theory::unit_potential;
  const double gamma = 0.01, h = 1e-5;
  for (int depth = 0; depth <= 9; ++depth) {
    const cdl::theory::UnitModel model{depth, gamma};
    for (const double disorder : {-1.3, 0.0, 0.7, 2.1}) {
      for (const double phi : {-1.1, -0.4, 0.3, 0.9, 1.2}) {
        const auto u = [&](double x) { return unit_potential(depth, gamma, disorder, x); };
        const auto f = [&](double x) { return unit_force(depth, gamma, disorder, x); };
        const double du = (u(phi + h) - u(phi - h)) / (2 * h);
        const double dforce = (f(phi + h) - f(phi - h)) / (2 * h);
        const double scale = 1 + std::abs(du) + std::abs(dforce);
        CHECK(-f(phi) == Approx(du).margin(1e-8 * scale));
        CHECK(unit_curvature(depth, gamma, disorder, phi) == Approx(-dforce).margin(1e-7 * scale));
        // The stationary theory's evaluation: the same U and U'' to rounding.
        CHECK(model.potential(disorder, phi) == unit_potential(depth, gamma, disorder, phi));
        CHECK(model.curvature(disorder, phi) ==
              Approx(unit_curvature(depth, gamma, disorder, phi)).epsilon(1e-14).margin(1e-14));
      }
    }
  }
  // The compile-time depths give the runtime depth's bits.
  CHECK(unit_force(std::integral_constant<int, 7>{}, gamma, 0.7, 0.93) ==
        unit_force(7, gamma, 0.7, 0.93));
}

TEST_CASE("Newton's method: quadratic convergence, and the bracketed form stays in its bracket") {
  using cdl::theory::bracketed_newton;
  using cdl::theory::newton;
  // √2 from 1: six steps reach the double nearest √2.
  const double root = newton([](double x) { return (x * x - 2) / (2 * x); }, 1.0, 1e-15, 50);
  CHECK(root == Approx(std::sqrt(2.0)).epsilon(1e-15));
  // A guess outside the bracket starts at its midpoint; the root of x³ − x − 1 in [1, 2].
  const auto f = [](double x) { return x * x * x - x - 1; };
  const auto slope = [](double x) { return 3 * x * x - 1; };
  const double r = bracketed_newton(f, slope, 1.0, 2.0, 1.0 / std::sqrt(3.0));
  CHECK(std::abs(f(r)) < 1e-14);
  CHECK(r > 1.0);
  CHECK(r < 2.0);
}
