#include "experiments/micro_output.hpp"

#include <span>
#include <string>
#include <vector>

namespace cdl::experiments {

namespace {

SweepAxes micro_axes(const MicroSweep& sweep) {
  return {sweep.depths,
          sweep.runs,
          sweep.units(),
          sweep.sigma,
          sweep.sample_times(),
          sweep.protocols,
          "learning-rate time tau * step (docs/physics.md section 2)",
          sweep.horizon_axis(),
          "observation horizon h in coupled steps, measured over the records after step "
          "h * transient / (transient + measure)"};
}

// Summary names follow `cdl theory`: the order parameter is |⟨m⟩|; the traces of the other
// observables carry a _trace suffix, m keeps its name.
std::string trace_name(std::size_t o) {
  return o == 0 ? std::string("m") : std::string(observable_names[o]) + "_trace";
}

std::string horizon_name(std::size_t o) { return std::string(observable_names[o]) + "_horizon"; }

constexpr const char* descriptions[] = {
    "magnetization m: mean over units of the mean of all parameters",
    "data loss of each unit on its own training data, mean over units",
    "data loss of each unit on the shared test data, mean over units",
    "test accuracy of each unit, mean over units",
    "test accuracy of the units' plurality vote",
    "consensus distance: mean Euclidean distance between two units' parameters",
    "parameter norm |theta_i|, mean over units",
    "cosine of each unit's end-to-end map with its teacher's top mode, mean over units",
    "test accuracy on the classes of the unit's own training data, mean over units",
    "test accuracy on the classes outside the unit's training data, mean over units",
    "test accuracy of the mean model (the network with the units' mean parameters)",
    "data loss of the mean model (the units' mean parameters) on the shared test data",
    "easgd: test accuracy of the centre variable (NaN for the other schemes)",
};
static_assert(std::size(descriptions) == observable_names.size());

using MicroDataset = PointDataset<MicroChainResult>;

// The per-protocol datasets of the sweep's files, in the order they are laid out.
std::vector<MicroDataset> micro_datasets(const MicroSweep& sweep) {
  using R = MicroChainResult;
  std::vector<MicroDataset> datasets{
      {"order_parameter", Shape::summary, "|time average of m| over the measured steps",
       [](const R& r) -> DatasetValues { return span_of(r.order_parameter); }},
      {"m_abs", Shape::summary, "time average of |m| over the measured steps",
       [](const R& r) -> DatasetValues { return span_of(r.m_abs); }}};
  for (std::size_t o = 1; o < observable_names.size(); ++o)
    datasets.push_back({observable_names[o], Shape::summary,
                        std::string(descriptions[o]) + ", time-averaged over the measured steps",
                        [o](const R& r) -> DatasetValues { return span_of(r.average[o]); }});
  for (std::size_t o = 0; o < observable_names.size(); ++o)
    datasets.push_back({trace_name(o), Shape::trace, descriptions[o],
                        [o](const R& r) -> DatasetValues { return all_of(r.trace[o]); }});
  const std::vector<MicroDataset> per_point{
      {"unit_accuracy", Shape::unit,
       "test accuracy of each unit, time-averaged over the measured steps",
       [](const R& r) -> DatasetValues { return all_of(r.unit_accuracy); }},
      {"cross_accuracy", Shape::unit_pair,
       "accuracy of unit i (first unit axis) on the test class of unit j, at the end",
       [](const R& r) -> DatasetValues { return all_of(r.cross_accuracy); }},
      {"rank1_r2", Shape::summary,
       "fraction of |cross_accuracy|^2 in its best rank-one approximation",
       [](const R& r) -> DatasetValues { return span_of(r.rank1_r2); }},
      {"steps", Shape::summary, "coupled steps taken",
       [](const R& r) -> DatasetValues { return span_of(r.steps); }},
      {"communication", Shape::summary,
       "parameters sent per unit per step over the point (README, schemes)",
       [](const R& r) -> DatasetValues { return span_of(r.communication); }}};
  datasets.insert(datasets.end(), per_point.begin(), per_point.end());
  if (sweep.failures.crash_fraction > 0) {
    // --crash: observables over the units that did not crash.
    const std::vector<MicroDataset> live{
        {"order_parameter_live", Shape::summary,
         "|time average of m| over the units not crashed at each record",
         [](const R& r) -> DatasetValues { return span_of(r.order_parameter_live); }},
        {"accuracy_live", Shape::summary,
         "test accuracy averaged over the units not crashed at each record",
         [](const R& r) -> DatasetValues { return span_of(r.accuracy_live); }},
        {"loss_test_live", Shape::summary,
         "test loss averaged over the units not crashed at each record",
         [](const R& r) -> DatasetValues { return span_of(r.loss_test_live); }},
        {"live_fraction", Shape::summary,
         "fraction of the units not crashed at the end of the point",
         [](const R& r) -> DatasetValues { return span_of(r.live_fraction); }}};
    datasets.insert(datasets.end(), live.begin(), live.end());
  }
  datasets.push_back(
      {"order_parameter_horizon", Shape::horizon, "|time average of m| over each horizon's window",
       [](const R& r) -> DatasetValues { return all_of(r.order_parameter_horizon); }});
  for (std::size_t o = 0; o < observable_names.size(); ++o)
    datasets.push_back({horizon_name(o), Shape::horizon,
                        std::string(descriptions[o]) + ", time-averaged over each horizon's window",
                        [o](const R& r) -> DatasetValues { return all_of(r.horizon_average[o]); }});
  datasets.push_back({"relaxation_time", Shape::summary,
                      "first sample time after which m stays within 1 % of its range of its final "
                      "value (NaN: not settled before the end)",
                      [](const R& r) -> DatasetValues { return span_of(r.relaxation_time); }});
  return datasets;
}

}  // namespace

MicroFileWriter::MicroFileWriter(const std::string& path, const MicroSweep& sweep,
                                 const Provenance& provenance)
    : MicroFileWriter(h5::File::create(path), sweep, provenance) {}

MicroFileWriter::MicroFileWriter(h5::File file, const MicroSweep& sweep,
                                 const Provenance& provenance)
    : datasets_(micro_datasets(sweep)),
      file_(std::move(file), micro_axes(sweep), provenance, "micro") {
  file_.add_quenched("disorder",
                     "quenched disorder: Delta_i (effective), s_i0 (teacher), "
                     "the class (classes)");
  file_.add_quenched("initial_state", "mean of the unit's initial parameters");
  if (sweep.task.kind == micro::TaskKind::classes)
    file_.add_quenched_per_class("label_histogram",
                                 "training samples of each class a unit holds (--partition)",
                                 sweep.task.data.modes);
  file_.add_per_run("all_data_accuracy",
                    "classes: test accuracy of one network trained on all the training data "
                    "for as many steps as a point");
  file_.root().set_attribute("task", micro::name(sweep.task.kind));
  file_.root().set_attribute("data", sweep.task.data.to_string());
  for (const MicroDataset& dataset : datasets_) add_dataset(file_, dataset);
  const std::vector<std::int64_t> steps = sweep.sample_steps();
  file_.add_time_coordinate<std::int64_t>("step", steps, "coupled steps at each sample time");
}

MicroFileWriter::MicroFileWriter(const std::string& path, const MicroSweep& sweep)
    : datasets_(micro_datasets(sweep)), file_(path, micro_axes(sweep)) {}

void MicroFileWriter::write(const MicroChainResult& result, const sweep::WorkItem& item) {
  const int protocol = result.chain.protocol, d = result.chain.depth_index, r = result.chain.run;
  const std::span<const int> sigma = item.sigma;
  // Every item writes its realization's quenched inputs (the same values each time); the
  // all-data reference is computed with the first point of the first protocol only.
  file_.write_quenched("disorder", d, r, all_of(result.disorder));
  file_.write_quenched("initial_state", d, r, all_of(result.initial_state));
  if (!result.label_histogram.empty())
    file_.write_quenched("label_histogram", d, r, result.label_histogram);
  if (protocol == 0 && item.covers(0))
    file_.write_per_run("all_data_accuracy", d, r, result.all_data_accuracy);
  for (const MicroDataset& dataset : datasets_)
    write_dataset(file_, dataset, result, protocol, d, r, sigma);
  file_.finish_points(protocol, d, r, sigma, result.status);
}

}  // namespace cdl::experiments
