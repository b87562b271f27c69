#include "experiments/theory_output.hpp"

#include <cstdint>
#include <span>
#include <type_traits>
#include <variant>
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

// The values a dataset takes from one chain's result, at the points of the item.
using DatasetValues = std::variant<std::span<const double>, std::span<const std::int64_t>,
                                   std::span<const std::int8_t>>;

// Which sweeps a dataset belongs to.
enum class Present { always, final_states, infinite_population };

// One per-protocol dataset of a theory file: its name, shape and description, when it is
// there, and its values in a chain result. Declaring and writing both follow this table, so an
// observable is added in one place.
struct TheoryDataset {
  const char* name;
  Shape shape;
  Present present;
  const char* long_name;
  DatasetValues (*values)(const TheoryChainResult&);
};

template <class T>
std::span<const T> span_of(const std::vector<T>& v) {
  return {v.data(), v.size()};
}

const TheoryDataset theory_datasets[] = {
    {"order_parameter", Shape::summary, Present::always,
     "|time average of m(t)| over the second half of the samples",
     [](const TheoryChainResult& r) -> DatasetValues { return span_of(r.order_parameter); }},
    {"loss", Shape::summary, Present::always,
     "effective loss averaged over units and the second half",
     [](const TheoryChainResult& r) -> DatasetValues { return span_of(r.loss); }},
    {"steps", Shape::summary, Present::always, "accepted integrator steps",
     [](const TheoryChainResult& r) -> DatasetValues { return span_of(r.steps); }},
    {"order_parameter_horizon", Shape::horizon, Present::always,
     "|time average of m(t)| over the samples in [h/2, h]",
     [](const TheoryChainResult& r) -> DatasetValues { return all_of(r.order_parameter_horizon); }},
    {"loss_horizon", Shape::horizon, Present::always,
     "effective loss averaged over units and the samples in [h/2, h]",
     [](const TheoryChainResult& r) -> DatasetValues { return all_of(r.loss_horizon); }},
    {"relaxation_time", Shape::summary, Present::always,
     "first sample time after which m(t) stays within 1 % of its range of m(t_end) "
     "(NaN: not settled before t_end)",
     [](const TheoryChainResult& r) -> DatasetValues { return span_of(r.relaxation_time); }},
    {"m", Shape::trace, Present::always, "mean field m(t)",
     [](const TheoryChainResult& r) -> DatasetValues { return all_of(r.m_trace); }},
    {"loss_trace", Shape::trace, Present::always, "effective loss averaged over units at time t",
     [](const TheoryChainResult& r) -> DatasetValues { return all_of(r.loss_trace); }},
    {"final_state", Shape::unit, Present::final_states, "state phi_i at t_end",
     [](const TheoryChainResult& r) -> DatasetValues { return all_of(r.final_state); }},
    {"order_parameter_error", Shape::summary, Present::infinite_population,
     "estimated quadrature error of order_parameter (difference to a coarser rule)",
     [](const TheoryChainResult& r) -> DatasetValues { return span_of(r.order_parameter_error); }},
    {"loss_error", Shape::summary, Present::infinite_population,
     "estimated quadrature error of loss (difference to a coarser rule)",
     [](const TheoryChainResult& r) -> DatasetValues { return span_of(r.loss_error); }},
    {"order_parameter_horizon_error", Shape::horizon, Present::infinite_population,
     "estimated quadrature error of order_parameter_horizon",
     [](const TheoryChainResult& r) -> DatasetValues {
       return all_of(r.order_parameter_horizon_error);
     }},
    {"loss_horizon_error", Shape::horizon, Present::infinite_population,
     "estimated quadrature error of loss_horizon",
     [](const TheoryChainResult& r) -> DatasetValues { return all_of(r.loss_horizon_error); }},
    {"status_horizon", Shape::horizon, Present::infinite_population,
     "outcome of the horizon's estimate: done within the accuracy, else not_converged (or the "
     "point's failure)",
     [](const TheoryChainResult& r) -> DatasetValues {
       return std::span<const std::int8_t>(r.horizon_status.data(),
                                           static_cast<std::size_t>(r.horizon_status.size()));
     }},
    {"separatrix", Shape::unit, Present::infinite_population,
     "initial state of the disorder node whose path ends at the unstable root at t_end",
     [](const TheoryChainResult& r) -> DatasetValues { return all_of(r.separatrix); }},
};

bool present_in(const TheoryDataset& dataset, const TheorySweep& sweep) {
  switch (dataset.present) {
    case Present::always:
      return true;
    case Present::final_states:
      return sweep.save_final_states;
    case Present::infinite_population:
      return sweep.infinite_population;
  }
  return false;
}

}  // namespace

TheoryFileWriter::TheoryFileWriter(const std::string& path, const TheorySweep& sweep,
                                   const Provenance& provenance)
    : TheoryFileWriter(h5::File::create(path), sweep, provenance) {}

TheoryFileWriter::TheoryFileWriter(h5::File file, const TheorySweep& sweep,
                                   const Provenance& provenance)
    : sweep_(sweep), file_(std::move(file), theory_axes(sweep), provenance, "theory") {
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
  const TheoryChainResult no_result;  // the values' types only
  for (const TheoryDataset& dataset : theory_datasets) {
    if (!present_in(dataset, sweep)) continue;
    std::visit(
        [&](auto values) {
          using T = typename decltype(values)::value_type;
          if constexpr (std::is_same_v<T, std::int8_t>)
            file_.add_status(dataset.name, dataset.shape, dataset.long_name);
          else
            file_.add<T>(dataset.name, dataset.shape, dataset.long_name);
        },
        dataset.values(no_result));
  }
}

TheoryFileWriter::TheoryFileWriter(const std::string& path, const TheorySweep& sweep)
    : sweep_(sweep), file_(path, theory_axes(sweep)) {}

void TheoryFileWriter::write(const TheoryChainResult& result, const sweep::WorkItem& item) {
  const int protocol = result.chain.protocol, d = result.chain.depth_index, r = result.chain.run;
  const std::span<const int> sigma = item.sigma;
  // Every item writes its realization's quenched inputs (the same values each time), so that
  // every shard holding a point of the realization has them.
  file_.write_quenched("disorder", d, r, all_of(result.disorder));
  file_.write_quenched("initial_state", d, r, all_of(result.initial_state));
  if (sweep_.infinite_population) file_.write_quenched("weight", d, r, all_of(result.weight));
  for (const TheoryDataset& dataset : theory_datasets) {
    if (!present_in(dataset, sweep_)) continue;
    std::visit(
        [&](auto values) {
          using T = typename decltype(values)::value_type;
          file_.write<std::remove_const_t<T>>(protocol, dataset.name, d, r, sigma, values);
        },
        dataset.values(result));
  }
  file_.finish_points(protocol, d, r, sigma, result.status);
}

}  // namespace cdl::experiments
