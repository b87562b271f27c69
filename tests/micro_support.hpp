// What the tests of the microscopic simulator share: seeded random parameters, a small
// synthetic classes task, a tiny micro sweep, the effective task of the bridge to the theory
// and its small-τ set-up, and an observer that records nothing.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "base/distribution.hpp"
#include "base/random.hpp"
#include "coupling/graph.hpp"
#include "experiments/micro_sweep.hpp"
#include "micro/ensemble.hpp"
#include "micro/task.hpp"
#include "sweep/grid.hpp"
#include "theory/dopri5.hpp"
#include "theory/effective_dynamics.hpp"

namespace cdl::test {

// Standard normal entries, a function of `stream` only.
inline Eigen::MatrixXd random_matrix(Eigen::Index rows, Eigen::Index cols, std::uint64_t stream) {
  const base::CounterRng rng(7, base::Purpose::data, stream);
  Eigen::MatrixXd m(rows, cols);
  for (Eigen::Index k = 0; k < m.size(); ++k)
    m.data()[k] = rng.normal(0, static_cast<std::uint64_t>(k));
  return m;
}

// 3 synthetic classes of 4 inputs, `train_size` training samples per class.
inline micro::TaskData<double> small_classes(int units, int train_size) {
  micro::TaskSpec spec;
  spec.units = units;
  spec.data = micro::parse_data("synthetic:4:3", "data");
  spec.train_size = train_size;
  spec.test_size = 5;
  return micro::make_task_data<double>(spec, 0, nullptr);
}

// A tiny classes sweep: 6 ReLU networks 5 → 7 → 3 with biases on 3 synthetic classes, couplings
// 0, 0.3 and 3, 40 + 40 steps recorded every 20, batch 8. One realization at D = 0,
// non-adiabatic; tests set runs, depths and protocols as they need.
inline experiments::MicroSweep tiny_micro_sweep() {
  experiments::MicroSweep sweep;
  sweep.runs = 1;
  sweep.depths = {0};
  sweep.sigma = sweep::parse_sigma_grid("0,0.3,3", "sigma");
  sweep.protocols = {sweep::Protocol::nonadiabatic};
  sweep.transient_steps = 40;
  sweep.measure_steps = 40;
  sweep.record_every = 20;
  sweep.batch = 8;
  sweep.learning_rate = 0.05;
  sweep.task.units = 6;
  sweep.task.data = micro::parse_data("synthetic:5:3", "data");
  sweep.task.train_size = 20;
  sweep.task.test_size = 10;
  sweep.architecture = {5, 3, 7, 0, micro::Activation::relu, true};
  sweep.initial_state = base::parse_distribution("uniform:-1.7:2.3", "init", {"uniform"});
  return sweep;
}

// The effective task (docs/physics.md §2): Δ_i ~ Normal(0, 2), the exact population loss.
inline micro::TaskSpec effective_spec(int units) {
  micro::TaskSpec spec;
  spec.kind = micro::TaskKind::effective;
  spec.units = units;
  spec.disorder = base::parse_distribution("normal:0:2", "disorder", {"normal"});
  spec.loss = micro::LossKind::mse;
  return spec;
}

struct NoObserver {
  void sample(int, const Eigen::ArrayXd&) {}
};

// The effective theory (docs/physics.md §2) at t_end from φ(0) = `initial`, integrated at
// tolerances 10⁻¹²: the reference the micro effective task approaches as τ → 0.
inline Eigen::ArrayXd effective_theory_at(int depth, double gamma, double sigma,
                                          const Eigen::ArrayXd& disorder,
                                          const coupling::CouplingGraph& graph,
                                          const Eigen::ArrayXd& initial, double t_end) {
  theory::EffectiveDynamics dynamics(depth, gamma, disorder, graph);
  dynamics.set_sigma(sigma);
  Eigen::ArrayXd phi = initial;
  theory::Dopri5 integrator({1e-12, 1e-12, 1000000});
  NoObserver none;
  const std::vector<double> times{t_end};
  if (integrator.integrate(dynamics, phi, 0.0, t_end, times, none).status !=
      theory::IntegrationStatus::done)
    throw std::runtime_error("the reference integration failed");
  return phi;
}

// The small-τ bridge (docs/physics.md §2): 10 width-1 deep linear networks of depth 2 on the
// effective task, with balanced weights from φ(0) ~ uniform(−1.7, 2.3).
struct EffectiveBridge {
  static constexpr int units = 10, depth = 2;
  micro::TaskSpec spec = effective_spec(units);
  micro::TaskData<double> data = micro::make_task_data<double>(spec, 0, nullptr);
  micro::Architecture net{1, 1, 1, depth, micro::Activation::linear, false};
  Eigen::MatrixXd initial = micro::initial_parameters<double>(
      net, units, micro::WeightInit{micro::WeightInit::Kind::balanced, 0},
      base::parse_distribution("uniform:-1.7:2.3", "init", {"uniform"}), spec.seed, 0);

  // The effective theory at t_end with coupling `sigma` on `graph`, from the same φ(0).
  Eigen::ArrayXd theory_at(double gamma, double sigma, const coupling::CouplingGraph& graph,
                           double t_end) const {
    return effective_theory_at(depth, gamma, sigma, data.disorder, graph,
                               initial.row(0).transpose().array(), t_end);
  }
  // The largest distance of the units' φ (any weight, all equal under balance) from `exact`.
  static double error(const Eigen::MatrixXd& parameters, const Eigen::ArrayXd& exact) {
    return (parameters.row(0).transpose().array() - exact).abs().maxCoeff();
  }
};

}  // namespace cdl::test
