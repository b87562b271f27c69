#include "experiments/theory_output.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace cdl::experiments {

namespace {

SweepAxes theory_axes(const TheorySweep& sweep) {
  return {sweep.depths,
          sweep.runs,
          sweep.units,
          sweep.sigma,
          sweep.sample_times(),
          sweep.protocols,
          "integration time t",
          sweep.horizon_times(),
          "observation horizon h in integration time, measured over the samples in [h/2, h]"};
}

using TheoryDataset = PointDataset<TheoryChainResult>;

// The per-protocol datasets of the sweep's files, in the order they are laid out.
std::vector<TheoryDataset> theory_datasets(const TheorySweep& sweep) {
  std::vector<TheoryDataset> datasets{
      {"order_parameter", Shape::summary,
       "|time average of m(t)| over the second half of the samples",
       [](const TheoryChainResult& r) -> DatasetValues { return span_of(r.order_parameter); }},
      {"loss", Shape::summary, "effective loss averaged over units and the second half",
       [](const TheoryChainResult& r) -> DatasetValues { return span_of(r.loss); }},
      {"steps", Shape::summary, "accepted integrator steps",
       [](const TheoryChainResult& r) -> DatasetValues { return span_of(r.steps); }},
      {"order_parameter_horizon", Shape::horizon,
       "|time average of m(t)| over the samples in [h/2, h]",
       [](const TheoryChainResult& r) -> DatasetValues {
         return all_of(r.order_parameter_horizon);
       }},
      {"loss_horizon", Shape::horizon,
       "effective loss averaged over units and the samples in [h/2, h]",
       [](const TheoryChainResult& r) -> DatasetValues { return all_of(r.loss_horizon); }},
      {"relaxation_time", Shape::summary,
       "first sample time after which m(t) stays within 1 % of its range of m(t_end) "
       "(NaN: not settled before t_end)",
       [](const TheoryChainResult& r) -> DatasetValues { return span_of(r.relaxation_time); }},
      {"m", Shape::trace, "mean field m(t)",
       [](const TheoryChainResult& r) -> DatasetValues { return all_of(r.m_trace); }},
      {"loss_trace", Shape::trace, "effective loss averaged over units at time t",
       [](const TheoryChainResult& r) -> DatasetValues { return all_of(r.loss_trace); }}};
  if (sweep.save_final_states)
    datasets.push_back(
        {"final_state", Shape::unit, "state phi_i at t_end",
         [](const TheoryChainResult& r) -> DatasetValues { return all_of(r.final_state); }});
  if (!sweep.infinite_population) return datasets;
  // N → ∞: the error estimates and the separatrices.
  const std::vector<TheoryDataset> estimates{
      {"order_parameter_error", Shape::summary,
       "estimated quadrature error of order_parameter (difference to a coarser rule)",
       [](const TheoryChainResult& r) -> DatasetValues {
         return span_of(r.order_parameter_error);
       }},
      {"loss_error", Shape::summary,
       "estimated quadrature error of loss (difference to a coarser rule)",
       [](const TheoryChainResult& r) -> DatasetValues { return span_of(r.loss_error); }},
      {"order_parameter_horizon_error", Shape::horizon,
       "estimated quadrature error of order_parameter_horizon",
       [](const TheoryChainResult& r) -> DatasetValues {
         return all_of(r.order_parameter_horizon_error);
       }},
      {"loss_horizon_error", Shape::horizon, "estimated quadrature error of loss_horizon",
       [](const TheoryChainResult& r) -> DatasetValues { return all_of(r.loss_horizon_error); }},
      {"status_horizon", Shape::horizon,
       "outcome of the horizon's estimate: done within the accuracy, else not_converged (or the "
       "point's failure)",
       [](const TheoryChainResult& r) -> DatasetValues {
         return std::span<const std::int8_t>(r.horizon_status.data(),
                                             static_cast<std::size_t>(r.horizon_status.size()));
       }},
      {"separatrix", Shape::unit,
       "initial state of the disorder node whose path ends at the unstable root at t_end",
       [](const TheoryChainResult& r) -> DatasetValues { return all_of(r.separatrix); }}};
  datasets.insert(datasets.end(), estimates.begin(), estimates.end());
  return datasets;
}

}  // namespace

TheoryFileWriter::TheoryFileWriter(const std::string& path, const TheorySweep& sweep,
                                   const Provenance& provenance)
    : TheoryFileWriter(h5::File::create(path), sweep, provenance) {}

TheoryFileWriter::TheoryFileWriter(h5::File file, const TheorySweep& sweep,
                                   const Provenance& provenance)
    : sweep_(sweep),
      datasets_(theory_datasets(sweep)),
      file_(std::move(file), theory_axes(sweep), provenance, "theory") {
  file_.add_quenched("disorder", "quenched disorder Delta_i")
      .set_attribute("distribution", sweep.disorder.to_string());
  file_.add_quenched("initial_state", "initial state phi_i(0)")
      .set_attribute("distribution", sweep.initial_state.to_string());
  if (sweep.infinite_population) {
    // N → ∞: `unit` indexes the disorder quadrature nodes; the initial states are integrated
    // by Gauss–Legendre panels split at the separatrix (see `separatrix`), so they are NaN here.
    file_.add_quenched("weight", "quadrature weight of the disorder node");
    file_.root().set_attribute("population", std::string("N -> infinity quadrature"));
  }
  for (const TheoryDataset& dataset : datasets_) add_dataset(file_, dataset);
}

TheoryFileWriter::TheoryFileWriter(const std::string& path, const TheorySweep& sweep)
    : sweep_(sweep), datasets_(theory_datasets(sweep)), file_(path, theory_axes(sweep)) {}

void TheoryFileWriter::write(const TheoryChainResult& result, const sweep::WorkItem& item) {
  const int protocol = result.chain.protocol, d = result.chain.depth_index, r = result.chain.run;
  const std::span<const int> sigma = item.sigma;
  // Every item writes its realization's quenched inputs (the same values each time), so that
  // every shard holding a point of the realization has them.
  file_.write_quenched("disorder", d, r, all_of(result.disorder));
  file_.write_quenched("initial_state", d, r, all_of(result.initial_state));
  if (sweep_.infinite_population) file_.write_quenched("weight", d, r, all_of(result.weight));
  for (const TheoryDataset& dataset : datasets_)
    write_dataset(file_, dataset, result, protocol, d, r, sigma);
  file_.finish_points(protocol, d, r, sigma, result.status);
}

}  // namespace cdl::experiments
