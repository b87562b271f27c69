// The ensemble of N coupled networks and its coupled step (docs/physics.md §1):
//
//   θ_i(t+1) = θ_i(t) − τ ∇L_i(θ_i(t)) + τ (σ/N) Σ_j A_ij (θ_j(t) − θ_i(t)),
//   L_i(θ) = mean over the unit's batch of ℓ(f(x; θ), y) + (γ/2) ‖θ‖²,
//
// with the coupling evaluated on the parameters from before the step (the diffusion scheme;
// the others of micro/scheme.hpp replace the coupling term). The parameters of all units are
// one matrix, a column per unit.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/distribution.hpp"
#include "base/random.hpp"
#include "coupling/graph.hpp"
#include "micro/failures.hpp"
#include "micro/network.hpp"
#include "micro/scheme.hpp"
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

// What the last step did, for the tests that replay each scheme's published update from the
// same inputs (tests/e2e/test_scheme_reference.py): the minibatch gradients the units used and
// who exchanged. Filled only when attached with Ensemble::set_trace.
template <class S>
struct StepTrace {
  Matrix<S> gradients;            // [parameter, unit]: ∇ of the batch loss, without weight decay
  std::vector<int> participants;  // fedavg, after the step's round: who took part
  std::vector<std::pair<int, int>> gossip_pairs;  // gossip: the pairs that averaged
};

template <class S>
class Ensemble {
 public:
  // batch = 0: full batch (every sample of the unit at every step).
  Ensemble(const Architecture& architecture, const TaskData<S>& data, int batch,
           const coupling::CouplingGraph& graph, std::uint64_t seed, int run);

  Matrix<S>& parameters() { return theta_; }
  const Matrix<S>& parameters() const { return theta_; }
  // Sets every unit's parameters and starts easgd's centre at their mean.
  void set_parameters(const Matrix<S>& theta);
  // How the units exchange parameters (default: diffusion).
  void set_scheme(const Scheme& scheme) { scheme_ = scheme; }
  const Scheme& scheme() const { return scheme_; }
  // Failing units and links, drawn from (seed, run) of this ensemble (default: none).
  void set_failures(const Failures& failures);
  // `step` counts from restart_batches() (the point), as the minibatches and the dropout and
  // link draws do; a crash counts the steps since set_parameters() (the whole chain of an
  // adiabatic sweep), so a crashed unit stays down at later couplings.
  bool online(int unit, long step) const {
    return !failures_ || (!crashed(unit, step) && failures_->online(unit, step));
  }
  bool crashed(int unit, long step) const {
    return failures_ && failures_->crashed(unit, chain_steps_ + (step - steps_));
  }
  // Steps since restart_batches().
  long steps() const { return steps_; }
  // easgd: the centre variable, one parameter vector.
  const Vector<S>& centre() const { return centre_; }
  // Parameters sent by all units (and the server or centre) since restart_batches().
  double parameters_sent() const { return parameters_sent_; }
  const Architecture& architecture() const { return architecture_; }
  // Restarts the minibatch sequence: every coupling's point sees the same batches.
  void restart_batches();
  // The threads that share the units of one step (default 1). Each unit's update is computed
  // from the same inputs whichever thread takes it, so results do not depend on this.
  void set_threads(int threads);
  // Records every following step into `trace` (nullptr: stop); sizes it.
  void set_trace(StepTrace<S>* trace);
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
  // The exchanges after the units' updates of `step` (easgd's centre, fedavg's average, a
  // gossip pair), if the scheme makes one then: chosen once per step, then done row block by
  // row block.
  bool exchanges_after(long step) const;
  void choose_exchange(long step);
  void exchange_rows(Eigen::Index first, Eigen::Index rows, S tau, S sigma);
  // Parameters sent in one step (and at its exchange).
  double sent_in_step(long step) const;
  // The minibatch of `unit` at step `step` since restart_batches().
  Batch<S> next_batch(int unit, long step, UnitScratch& scratch);
  Architecture architecture_;
  const TaskData<S>& data_;
  int batch_;
  const coupling::CouplingGraph& graph_;
  // With failures: the coupling of every online unit from its online neighbours over links
  // that are up, on the rows [first, first + rows) (diffusion, dsgd).
  void couple_online_rows(long step, S sigma, Eigen::Index first, Eigen::Index rows);
  // The mean over the units online at `step` on those rows into scratch_; their number.
  int online_mean_rows(long step, Eigen::Index first, Eigen::Index rows);
  std::uint64_t seed_;
  int run_;
  std::optional<FailureModel> failures_;
  base::CounterRng batch_rng_, exchange_rng_;
  Scheme scheme_;
  Matrix<S> theta_, coupling_;
  Vector<S> scratch_, centre_;
  std::vector<int> participants_;  // fedavg: the units of this average, first participant_count_
  int participant_count_ = 0;
  // gossip: this step's pairs that exchange (a random matching of the graph, without pairs
  // with an offline end or a link that is down), and the matching's buffers.
  std::vector<std::pair<int, int>> gossip_pairs_;
  std::vector<int> gossip_order_, gossip_candidates_;
  std::vector<char> gossip_free_;
  int easgd_listeners_ = 1;  // units online at this step (the centre follows their mean)
  double parameters_sent_ = 0;
  StepTrace<S>* trace_ = nullptr;
  std::vector<UnitScratch> unit_scratch_;  // one per thread
  std::vector<std::vector<int>> order_;    // per unit: this epoch's permutation of its samples
  std::vector<long> epoch_;                // per unit: the epoch order_ holds (−1: none)
  long steps_ = 0;                         // since restart_batches()
  long chain_steps_ = 0;                   // since set_parameters()
};

}  // namespace cdl::micro
