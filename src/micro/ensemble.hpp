// The ensemble of N coupled networks and its coupled step (docs/physics.md §1):
//
//   θ_i(t+1) = θ_i(t) − τ ∇L_i(θ_i(t)) + τ (σ/N) Σ_j A_ij (θ_j(t) − θ_i(t)),
//   L_i(θ) = mean over the unit's batch of ℓ(f(x; θ), y) + (γ/2) ‖θ‖²,
//
// with the coupling evaluated on the parameters from before the step. The parameters of all
// units are one matrix, a column per unit.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <vector>

#include "base/distribution.hpp"
#include "base/random.hpp"
#include "coupling/graph.hpp"
#include "micro/network.hpp"
#include "micro/task.hpp"

namespace cdl::micro {

// `--weights normal:SCALE | fanin | balanced`
struct WeightInit {
  enum class Kind { normal, fanin, balanced };
  Kind kind = Kind::fanin;
  double scale = 0.1;  // normal: standard deviation
  std::string to_string() const;
};
// Throws cdl::InputError naming `option`.
WeightInit parse_weights(const std::string& text, const std::string& option);

// The initial parameters of realization `run` (P × N), a pure function of (seed, run):
// normal(0, scale) weights and zero biases; fanin: uniform(±1/√fan_in) weights and biases, the
// default of common frameworks; balanced: every weight of unit i equal to its initial state
// φ_i(0) drawn from `init` exactly as `cdl theory` draws it (width-1 networks, no biases).
template <class S>
Matrix<S> initial_parameters(const Architecture& architecture, int units, const WeightInit& init,
                             const base::Distribution& initial_state, std::uint64_t seed, int run);

template <class S>
class Ensemble {
 public:
  // batch = 0: full batch (every sample of the unit at every step).
  Ensemble(const Architecture& architecture, const TaskData<S>& data, int batch,
           const coupling::CouplingGraph& graph, std::uint64_t seed, int run);

  Matrix<S>& parameters() { return theta_; }
  const Matrix<S>& parameters() const { return theta_; }
  const Architecture& architecture() const { return architecture_; }
  // Restarts the minibatch sequence: every coupling's point sees the same batches.
  void restart_batches();
  // The threads that share the units of one step (default 1). Each unit's update is computed
  // from the same inputs whichever thread takes it, so results do not depend on this.
  void set_threads(int threads);
  // One coupled step. Without local learning only the coupling acts (for tests).
  void step(S tau, S gamma, S sigma, bool local_learning = true) {
    advance(1, tau, gamma, sigma, local_learning);
  }
  // `count` coupled steps; on several threads they share one parallel region, so a step costs
  // two barriers and no thread start-up.
  void advance(long count, S tau, S gamma, S sigma, bool local_learning = true);

 private:
  // What one thread needs to update a unit: its network's buffers and a minibatch.
  struct UnitScratch {
    explicit UnitScratch(const Architecture& architecture) : network(architecture) {}
    NetworkWorkspace<S> network;
    Vector<S> gradient;
    Matrix<S> batch_inputs, batch_targets;
    std::vector<int> batch_labels;
  };
  UnitScratch make_scratch() const;
  // The minibatch of `unit` at step `step` since restart_batches().
  Batch<S> next_batch(int unit, long step, UnitScratch& scratch);
  Architecture architecture_;
  const TaskData<S>& data_;
  int batch_;
  const coupling::CouplingGraph& graph_;
  base::CounterRng batch_rng_;
  Matrix<S> theta_, coupling_;
  Vector<S> scratch_;
  std::vector<UnitScratch> unit_scratch_;  // one per thread
  std::vector<std::vector<int>> order_;    // per unit: this epoch's permutation of its samples
  std::vector<long> epoch_;                // per unit: the epoch order_ holds (−1: none)
  long steps_ = 0;                         // since restart_batches()
};

}  // namespace cdl::micro
