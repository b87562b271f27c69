// What the tests of the microscopic simulator share: seeded random parameters, a small
// synthetic classes task, the effective task of the bridge to the theory, and an observer that
// records nothing.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "base/distribution.hpp"
#include "base/random.hpp"
#include "coupling/graph.hpp"
#include "micro/task.hpp"
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

}  // namespace cdl::test
