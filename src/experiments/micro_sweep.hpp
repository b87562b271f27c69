// `cdl micro`: ensembles of coupled networks (docs/physics.md §1) swept over protocol × depth ×
// realization × σ with the driver, grid, protocols and seeding of `cdl theory`.
#pragma once

#include <Eigen/Core>
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "base/distribution.hpp"
#include "coupling/graph.hpp"
#include "experiments/chain_result.hpp"
#include "experiments/sweep_grid.hpp"
#include "experiments/vocabulary.hpp"
#include "micro/ensemble.hpp"
#include "micro/network.hpp"
#include "micro/partition.hpp"
#include "micro/scheme.hpp"
#include "micro/task.hpp"

namespace cdl::experiments {

enum class Precision { float32, float64 };
std::string name(Precision precision);
// `--precision float32 | float64`; cdl::InputError naming `option`.
Precision parse_precision(const std::string& text, const std::string& option);

// The complete, validated description of a microscopic sweep: the grid (horizons as record
// indices) and the ensembles its points train.
struct MicroSweep : SweepGrid {
  double learning_rate = 0.005;  // τ
  int batch = 32;                // 0: full batch
  long transient_steps = 1000;
  long measure_steps = 1000;
  long record_every = 100;
  micro::TaskSpec task;              // includes the units, the data and the disorder
  micro::Architecture architecture;  // the depth is set per chain
  micro::WeightInit weights;
  Precision precision = Precision::float32;
  micro::Scheme scheme;        // how the units exchange parameters (default diffusion)
  micro::Partition partition;  // classes task: which training samples each unit gets
  micro::Failures failures;    // failing units and links (default none)

  int units() const { return task.units; }
  // Recorded steps 0, k, 2k, …, transient + measured; the time axis is τ × step.
  std::vector<std::int64_t> sample_steps() const;
  std::vector<double> sample_times() const;
  // Records with an index ≥ this lie in the measured part and enter the time averages.
  int first_measured_sample() const { return static_cast<int>(transient_steps / record_every) + 1; }

  // Horizon k (a record index, SweepGrid::horizon_samples; step h) is measured over the records
  // after step h × transient / (transient + measure), as a run of h steps in the same
  // proportion would be. The initial state φ_i(0) gives the balanced weights.
  std::vector<std::int64_t> horizon_steps() const;
  std::vector<double> horizon_axis() const;  // the same steps, as the `horizon` coordinate
  std::vector<SampleWindow> horizon_windows() const;
};

// The scalar observables, each a time average over the measured part (summary) and a trace.
enum class Observable {
  m,
  loss,
  loss_test,
  accuracy,
  accuracy_vote,
  consensus,
  parameter_norm,
  alignment,
  accuracy_own,
  accuracy_other,
  accuracy_mean_model,
  loss_test_mean_model,
  accuracy_center,
};
inline constexpr std::array<const char*, 13> observable_names = {"m",
                                                                 "loss",
                                                                 "loss_test",
                                                                 "accuracy",
                                                                 "accuracy_vote",
                                                                 "consensus",
                                                                 "parameter_norm",
                                                                 "alignment",
                                                                 "accuracy_own",
                                                                 "accuracy_other",
                                                                 "accuracy_mean_model",
                                                                 "loss_test_mean_model",
                                                                 "accuracy_center"};

// Everything one chain (protocol, depth, realization) produces, indexed by the grid's σ index.
struct MicroChainResult {
  Chain chain;
  Eigen::ArrayXd disorder, initial_state;  // per unit
  std::vector<double> label_histogram;     // classes: [unit, class] training label counts
  std::vector<double> order_parameter;     // |time average of m|
  std::vector<double> m_abs;               // time average of |m|
  std::array<std::vector<double>, observable_names.size()> average;  // [observable][σ]
  std::array<RowMatrix, observable_names.size()> trace;              // [observable][σ, time]
  // [observable][σ, horizon]: each observable's time average over a horizon's window, and
  // |the average of m| as the order parameter.
  std::array<RowMatrix, observable_names.size()> horizon_average;
  RowMatrix order_parameter_horizon;
  std::vector<double> relaxation_time;  // the time τ·step m settled at (sweep/horizon.hpp)
  RowMatrix unit_accuracy;              // [σ, unit], time-averaged
  RowMatrix cross_accuracy;             // [σ, unit × unit] at the end of each point
  std::vector<double> rank1_r2;
  // Parameters sent per unit per step over the point (the scheme's communication).
  std::vector<double> communication;
  // With --crash: time averages over the units not crashed at each record: |⟨m⟩|, test
  // accuracy and test loss; and the fraction of such units at the end of the point.
  std::vector<double> order_parameter_live, accuracy_live, loss_test_live, live_fraction;
  // classes task: test accuracy of one network of the same depth trained on all the training
  // data for as many steps (the reference the collective phase approaches); NaN otherwise.
  double all_data_accuracy = 0;
  std::vector<std::int8_t> status;
  std::vector<std::int64_t> steps;
};

struct MicroWorkspace {
  MicroChainResult result;
};

MicroWorkspace make_micro_workspace(const MicroSweep& sweep);
// The sweep's work items with their estimated costs; with split_nonadiabatic, every
// non-adiabatic point is an item of its own.
std::vector<WorkItem> micro_work_items(const MicroSweep& sweep, bool split_nonadiabatic);

// The images of an IDX data set in the sweep's precision (the other pointer empty): read once
// and shared by every item and unit.
struct IdxTaskData {
  std::shared_ptr<const micro::TaskData<float>> single;
  std::shared_ptr<const micro::TaskData<double>> dual;
};
// Reads them on `threads` threads, if the sweep's task uses IDX files (else both empty).
IdxTaskData load_idx_images(const MicroSweep& sweep, int threads);

// Runs `items` with `threads` OpenMP threads, handing each result to `deliver`. Once `stop`
// is requested no item starts and points in flight are abandoned as not_run. `images`: the
// IDX data already read (load_idx_images), or nullptr to read it here.
SweepOutcome run_micro_sweep(
    const MicroSweep& sweep, const std::vector<WorkItem>& items, int threads,
    base::StopRequest& stop,
    const std::function<void(const MicroChainResult&, const WorkItem&)>& deliver,
    const IdxTaskData* images = nullptr);
// Runs every chain whole.
SweepOutcome run_micro_sweep(const MicroSweep& sweep, int threads,
                             const std::function<void(const MicroChainResult&)>& deliver);

}  // namespace cdl::experiments
