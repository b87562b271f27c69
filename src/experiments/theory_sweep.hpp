// `cdl theory`: the effective dynamics (docs/physics.md §2) swept over protocol × depth ×
// realization × σ, with the observables of docs/physics.md §3.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <functional>
#include <vector>

#include "base/distribution.hpp"
#include "coupling/graph.hpp"
#include "experiments/chain_result.hpp"
#include "experiments/sweep_grid.hpp"
#include "experiments/vocabulary.hpp"
#include "theory/dopri5.hpp"
#include "theory/population.hpp"
#include "theory/population_solver.hpp"

namespace cdl::experiments {

// The complete, validated description of an effective-theory sweep: the grid (realizations,
// depths, σ, protocols, horizons as sample indices) and what its points integrate. Defaults
// are the published experiment (docs/physics.md §3) except the number of realizations.
struct TheorySweep : SweepGrid {
  TheorySweep() {
    runs = 20;
    protocols = {Protocol::nonadiabatic, Protocol::adiabatic_up};
  }
  int units = 200;
  double t_end = 10;
  int samples = 100;
  theory::Dopri5Settings integrator;
  base::Distribution disorder;  // Δ_i, normal(0, 2)
  bool save_final_states = false;
  // N → ∞ (`--units inf`): a quadrature population instead of a sample; then runs = 1 and the
  // unit axis holds the disorder quadrature nodes.
  bool infinite_population = false;
  theory::PopulationRule population;
  // N → ∞: the target of the error estimate of ⟨m⟩ (absolute) and the budget of adaptive
  // refinements per non-adiabatic point; past it a point is not_converged.
  double accuracy = 1e-3;
  int refine_levels = 8;

  // Horizon k (a sample index, SweepGrid::horizon_samples) is measured over samples
  // (k + 1) / 2 … k, as a run with t_end = t_k would be.
  // Equally spaced sample times from 0 to t_end inclusive.
  std::vector<double> sample_times() const;
  // Samples whose index is ≥ this enter the time averages (the second half).
  int first_measured_sample() const { return samples / 2; }
  std::vector<double> horizon_times() const;
  std::vector<SampleWindow> horizon_windows() const;
  // N → ∞: the windows whose averages carry an error estimate, the measured half first, then
  // every horizon's that differs from it; window_of_horizon()[h] is horizon h's index there.
  std::vector<SampleWindow> estimated_windows() const;
  std::vector<int> window_of_horizon() const;
};

// The quenched inputs of one realization. They depend on (seed, realization) only, so every
// depth and protocol of realization r sees the same disorder, initial state and graph (common
// random numbers: differences between depths are not sampling noise).
struct Realization {
  Eigen::ArrayXd disorder;
  Eigen::ArrayXd initial_state;
  coupling::CouplingGraph graph;
};
Realization draw_realization(const TheorySweep& sweep, int run);

// Everything one chain (protocol, depth, realization) produces, indexed by the grid's σ index.
using HorizonStatus = Eigen::Matrix<std::int8_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct TheoryChainResult {
  Chain chain;
  Eigen::ArrayXd disorder, initial_state;
  std::vector<double> order_parameter, loss;  // NaN where status != done
  std::vector<std::int8_t> status;
  std::vector<std::int64_t> steps;  // accepted integrator steps
  RowMatrix m_trace, loss_trace;    // [σ, time]
  // Per horizon: |time average of m| and the mean loss over its window; [σ, horizon].
  RowMatrix order_parameter_horizon, loss_horizon;
  std::vector<double> relaxation_time;  // the sample time m(t) settled at (sweep/horizon.hpp)
  RowMatrix final_state;                // [σ, unit], only with save_final_states
  // N → ∞ only: error estimates (difference to a refined rule), the disorder nodes' weights
  // and the separatrix in φ(0) of each disorder node at each σ (NaN: none).
  std::vector<double> order_parameter_error, loss_error;
  // N → ∞ only, per horizon [σ, horizon]: the estimates of order_parameter_horizon and
  // loss_horizon, and whether the horizon's estimate is within the accuracy (done) or not
  // (not_converged; the point's own status then says why there is no value at all).
  RowMatrix order_parameter_horizon_error, loss_horizon_error;
  HorizonStatus horizon_status;
  Eigen::ArrayXd weight;
  RowMatrix separatrix;  // [σ, disorder node]
};

// Per-thread scratch: the integrator's workspace and the result buffers, reused by chains.
struct TheoryWorkspace {
  theory::Dopri5 integrator;            // finite N
  theory::PopulationSolver population;  // N → ∞
  Eigen::ArrayXd phi;
  TheoryChainResult result;
};

TheoryWorkspace make_theory_workspace(const TheorySweep& sweep);
// Computes one work item (a chain, or some of its points; the others are not_run).
void compute_theory_item(const TheorySweep& sweep, const WorkItem& item,
                         TheoryWorkspace& workspace);
// The whole chain.
void compute_theory_chain(const TheorySweep& sweep, const Chain& chain, TheoryWorkspace& workspace);

// The integration steps a point at coupling σ takes, roughly: accuracy-limited at weak
// coupling, stability-limited (h ≈ 3.3/σ) at strong coupling.
inline double estimated_steps(double t_end, double sigma) { return 40 + t_end * sigma / 3.0; }

// The sweep's work items with their estimated costs; with split_nonadiabatic, every
// independent non-adiabatic point is an item of its own.
std::vector<WorkItem> theory_work_items(const TheorySweep& sweep, bool split_nonadiabatic);

// Runs `items` with `threads` OpenMP threads, handing each result to `deliver`.
// No item starts once `stop` is requested; a failed item requests it.
SweepOutcome run_theory_sweep(
    const TheorySweep& sweep, const std::vector<WorkItem>& items, int threads,
    base::StopRequest& stop,
    const std::function<void(const TheoryChainResult&, const WorkItem&)>& deliver);

// Runs every chain whole with `threads` OpenMP threads, handing each result to `deliver`.
SweepOutcome run_theory_sweep(const TheorySweep& sweep, int threads,
                              const std::function<void(const TheoryChainResult&)>& deliver);

}  // namespace cdl::experiments
