// `cdl micro`: sweeps of ensembles of coupled networks (docs/physics.md §1, §5), from configuration
// to HDF5.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <span>

#include "base/errors.hpp"
#include "base/parse.hpp"
#include "commands.hpp"
#include "config.hpp"
#include "estimators/transitions.hpp"
#include "experiments/micro_output.hpp"
#include "experiments/micro_sweep.hpp"
#include "open_sweep.hpp"
#include "options.hpp"
#include "progress.hpp"
#include "run_time_estimate.hpp"
#include "sweep_job.hpp"

namespace cdl::sim {

namespace fs = std::filesystem;
namespace po = boost::program_options;

// The published real-data grid (docs/physics.md §5): 25 values log-spaced over [1e-4, 10], then 25
// values from 25.2 to 390 in steps of 15.2.
constexpr const char* published_sigma_grid = "log:-4:1:25,lin:25.2:390:25";
constexpr const char* default_data = "synthetic:20:10";

const std::vector<std::string> micro_recorded_options{"units",
                                                      "runs",
                                                      "depths",
                                                      "sigma",
                                                      "protocols",
                                                      "gamma",
                                                      "disorder",
                                                      "init",
                                                      "topology",
                                                      "seed",
                                                      "task",
                                                      "data",
                                                      "width",
                                                      "activation",
                                                      "bias",
                                                      "loss",
                                                      "lr",
                                                      "batch",
                                                      "weights",
                                                      "train-size",
                                                      "test-size",
                                                      "noise",
                                                      "transient-steps",
                                                      "measure-steps",
                                                      "record-every",
                                                      "precision",
                                                      "scheme",
                                                      "partition",
                                                      "dropout",
                                                      "link-failure",
                                                      "crash",
                                                      "horizons"};

po::options_description micro_options() {
  po::options_description options("cdl micro options");
  const auto text = text_option;
  // clang-format off
  options.add_options()
      ("units", text("10"), "number of networks N (integer >= 2)")
      ("task", text("classes"), "effective | teacher | classes")
      ("data", text(default_data),
       "synthetic:DIM:K (teacher: DIM inputs and outputs, K modes; classes: DIM inputs, K "
       "classes) | idx:DIR[:K] (classes from IDX files, K = 10 by default)")
      ("width", text("20"), "hidden-layer width h (task effective: 1)")
      ("activation", text("linear"), "linear | relu | tanh (task effective: linear)")
      ("bias", po::bool_switch(), "give every layer a bias")
      ("loss", text("auto"), "mse | xent (auto: xent for classes, mse otherwise)")
      ("lr", text("0.005"), "learning rate tau (> 0)")
      ("batch", text("auto"),
       "minibatch size per unit, or full (auto: full for task effective, 32 otherwise)")
      ("weights", text("auto"),
       "normal:SCALE | fanin | balanced (auto: balanced for task effective, fanin otherwise)")
      ("train-size", text("100"), "training samples per class (classes) or per unit (teacher)")
      ("test-size", text("100"), "test samples per class (classes) or per unit (teacher)")
      ("noise", text("0.1"), "task teacher: standard deviation of the label noise")
      ("transient-steps", text("1000"), "coupled steps before measuring, per coupling")
      ("measure-steps", text("1000"), "coupled steps measured, per coupling")
      ("record-every", text("100"), "steps between recorded samples (divides both step counts)")
      ("precision", text("auto"),
       "float32 | float64 (auto: float64 for task effective, float32 otherwise)")
      ("scheme", text("diffusion"),
       "how units exchange parameters: diffusion | dsgd | fedavg:K[:C] | easgd | gossip")
      ("dropout", text("0"), "probability that a unit is offline at a step (no update, no messages)")
      ("link-failure", text("0"), "probability that an edge is down at a step")
      ("crash", text("none"), "F:STEP: a fraction F of the units stops for good at STEP of every point")
      ("partition", text("classes"),
       "task classes: which training samples each unit gets: classes | iid | dirichlet:ALPHA | shards:S");
  // clang-format on
  options.add(horizon_options("coupled steps (recorded steps; default the last)"));
  options.add(sweep_options({"1", "0,1,2", published_sigma_grid, "nonadiabatic"}));
  options.add(common_options("data/micro.h5"));
  options.add(job_options());
  return options;
}

namespace {

// A task-dependent default ("auto") or the user's value.
std::string resolved(const po::variables_map& values, const std::string& name,
                     const std::string& automatic) {
  const std::string value = text(values, name);
  return value == "auto" ? automatic : value;
}

// The task and the sweep's grid: --task, --units, the shared sweep options, the data set.
void read_task(const po::variables_map& values, experiments::MicroSweep& sweep) {
  auto& task = sweep.task;
  task.kind = micro::parse_task_kind(text(values, "task"), "task");
  task.units = static_cast<int>(integer_at_least(values, "units", 2, "need N >= 2"));
  if (task.units > 1000000) base::reject("units", text(values, "units"), "at most 10^6 units");
  task.disorder = read_sweep_options(values, task.units, sweep);
  task.seed = sweep.seed;

  task.data = micro::parse_data(text(values, "data"), "data");
  // The effective task has no data set; a configuration may still carry the default value.
  if (task.kind == micro::TaskKind::effective && text(values, "data") != default_data)
    base::reject("data", text(values, "data"), "task effective has no data set");
  if (task.kind == micro::TaskKind::teacher) {
    if (task.data.kind != micro::DataSpec::Kind::synthetic)
      base::reject("data", text(values, "data"), "task teacher needs synthetic:DIM:K");
    if (task.data.modes > task.data.dim)
      base::reject("data", text(values, "data"), "a teacher has at most DIM modes (K <= DIM)");
  }
  task.train_size = static_cast<int>(
      integer_between(values, "train-size", 1, 10000000, "need at least 1 sample"));
  task.test_size =
      static_cast<int>(integer_between(values, "test-size", 1, 10000000, "need at least 1 sample"));
  task.noise = base::parse_double(text(values, "noise"), "noise");
  if (task.noise < 0) base::reject("noise", text(values, "noise"), "must be >= 0");
}

// Every unit's network and its loss: --width, --activation, --bias, --loss.
void read_network(const po::variables_map& values, experiments::MicroSweep& sweep) {
  const bool effective = sweep.task.kind == micro::TaskKind::effective;
  auto& net = sweep.architecture;
  const std::string width = effective && values["width"].defaulted() ? "1" : text(values, "width");
  net.width = static_cast<int>(base::parse_integer(width, "width"));
  if (net.width < 1 || net.width > 100000)
    base::reject("width", width, "need an integer between 1 and 100000");
  if (effective && net.width != 1)
    base::reject("width", width, "task effective uses width-1 networks");
  const std::string activation = text(values, "activation");
  net.activation = micro::parse_activation(activation, "activation");
  net.bias = values["bias"].as<bool>();
  if (effective && (net.activation != micro::Activation::linear || net.bias))
    base::reject(net.bias ? "bias" : "activation", net.bias ? "true" : activation,
                 "task effective uses deep linear networks without biases");
  const bool classes = sweep.task.kind == micro::TaskKind::classes;
  const std::string loss = resolved(values, "loss", classes ? "xent" : "mse");
  sweep.task.loss = micro::parse_loss(loss, "loss");
  if (!classes && sweep.task.loss == micro::LossKind::xent)
    base::reject("loss", loss,
                 "cross-entropy needs classes; task " + text(values, "task") + " regresses");
}

// How the units learn and are recorded: --lr, --batch, --weights, the step counts, --precision.
// --horizons as record indices: each a whole number of steps, a multiple of --record-every up
// to the last step, so that its window holds recorded samples only.
std::vector<int> horizon_records(const po::variables_map& values,
                                 const experiments::MicroSweep& sweep) {
  const std::string given = text(values, "horizons");
  const long total = sweep.transient_steps + sweep.measure_steps;
  std::vector<int> records;
  for (const double h : read_horizons(values)) {
    const std::string shown = base::format_double(h);
    if (h > static_cast<double>(total))
      base::reject("horizons", given,
                   "horizon " + shown + " is after the last step " + std::to_string(total));
    if (h != std::floor(h) || static_cast<long>(h) % sweep.record_every != 0)
      base::reject("horizons", given,
                   "horizon " + shown + " is not a recorded step (a multiple of --record-every " +
                       std::to_string(sweep.record_every) + ")");
    records.push_back(static_cast<int>(static_cast<long>(h) / sweep.record_every));
  }
  return records;
}

void read_training(const po::variables_map& values, experiments::MicroSweep& sweep) {
  const bool effective = sweep.task.kind == micro::TaskKind::effective;
  sweep.learning_rate = positive(values, "lr");
  const std::string batch = resolved(values, "batch", effective ? "full" : "32");
  if (batch == "full") {
    sweep.batch = 0;
  } else {
    const long long b = base::parse_integer(batch, "batch");
    if (b < 1) base::reject("batch", batch, "need a size >= 1 or full");
    // The smallest private data set bounds the batch (for idx data, checked once read).
    const long long smallest = effective ? 1 : sweep.task.train_size;
    if (sweep.task.data.kind == micro::DataSpec::Kind::synthetic && b > smallest)
      base::reject("batch", batch,
                   "larger than a unit's training data (" + std::to_string(smallest) + " samples)");
    sweep.batch = static_cast<int>(b);
  }
  sweep.weights = micro::parse_weights(
      resolved(values, "weights", effective ? "balanced" : "fanin"), "weights");
  if (sweep.weights.kind == micro::WeightInit::Kind::balanced &&
      (sweep.architecture.width != 1 || sweep.architecture.bias))
    base::reject("weights", "balanced", "balanced weights need width 1 and no biases");

  sweep.transient_steps = integer_at_least(values, "transient-steps", 0, "must be >= 0");
  sweep.measure_steps = integer_at_least(values, "measure-steps", 1, "must be >= 1");
  sweep.record_every = integer_at_least(values, "record-every", 1, "must be >= 1");
  if (sweep.transient_steps % sweep.record_every != 0 ||
      sweep.measure_steps % sweep.record_every != 0)
    base::reject("record-every", text(values, "record-every"),
                 "must divide --transient-steps and --measure-steps");
  if ((sweep.transient_steps + sweep.measure_steps) / sweep.record_every > 1000000)
    base::reject("record-every", text(values, "record-every"), "more than 10^6 samples");
  sweep.horizon_samples = horizon_records(values, sweep);
  sweep.scheme = micro::parse_scheme(text(values, "scheme"), "scheme");
  sweep.partition = micro::parse_partition(text(values, "partition"), "partition");
  sweep.failures.dropout = micro::parse_probability(text(values, "dropout"), "dropout");
  sweep.failures.link_failure =
      micro::parse_probability(text(values, "link-failure"), "link-failure");
  micro::parse_crash(text(values, "crash"), "crash", sweep.failures);
  if (sweep.partition.kind != micro::Partition::Kind::classes &&
      sweep.task.kind != micro::TaskKind::classes)
    base::reject("partition", text(values, "partition"),
                 "only the classes task deals samples by label");
  sweep.precision = experiments::parse_precision(
      resolved(values, "precision", effective ? "float64" : "float32"), "precision");
}

// The networks' input and output sizes from the task. IDX files are read here, into `images`,
// so that their errors come before any output; without `images` they are not read.
void read_sizes(const po::variables_map& values, experiments::MicroSweep& sweep,
                experiments::IdxTaskData* images) {
  const auto& task = sweep.task;
  auto& net = sweep.architecture;
  if (task.kind == micro::TaskKind::effective) {
    net.input = net.output = 1;
  } else if (task.kind == micro::TaskKind::teacher) {
    net.input = net.output = task.data.dim;
  } else if (task.data.kind == micro::DataSpec::Kind::synthetic) {
    net.input = task.data.dim;
    net.output = task.data.modes;
    std::vector<int> labels;  // sorted by class, as the synthetic data are drawn
    for (int k = 0; k < task.data.modes; ++k) labels.insert(labels.end(), task.train_size, k);
    micro::check_partition(sweep.partition, task, sweep.runs, labels, task.data.modes,
                           std::max(1, sweep.batch));
  } else if (images) {
    *images = experiments::load_idx_images(sweep, thread_count(values));
    const auto check = [&](const auto& data) {
      net.input = data.input;
      net.output = data.output;
      micro::check_partition(sweep.partition, task, sweep.runs, data.train_labels, data.classes,
                             std::max(1, sweep.batch));
      const bool private_classes = sweep.partition.kind == micro::Partition::Kind::classes;
      for (int i = 0; i < task.units && sweep.batch > 0 && private_classes; ++i)
        if (data.unit_count[i] < sweep.batch)
          base::reject("batch", resolved(values, "batch", "32"),
                       "larger than the training data of unit " + std::to_string(i) + " (" +
                           std::to_string(data.unit_count[i]) + " images of class " +
                           std::to_string(data.unit_class[i]) + ")");
    };
    if (images->single)
      check(*images->single);
    else
      check(*images->dual);
  }
}

// The sweep of the options. IDX images are read into `images` (once: the run uses them too);
// without `images` they are not read (the grid and the layout do not need them).
experiments::MicroSweep sweep_from_options(const po::variables_map& values,
                                           experiments::IdxTaskData* images = nullptr) {
  experiments::MicroSweep sweep;
  read_task(values, sweep);
  read_network(values, sweep);
  read_training(values, sweep);
  read_sizes(values, sweep, images);
  return sweep;
}

// The resolved values of the "auto" options, recorded in the file's configuration.
std::map<std::string, std::string> canonical_values(const experiments::MicroSweep& sweep) {
  return {{"disorder", sweep.task.disorder.to_string()},
          {"init", sweep.initial_state.to_string()},
          {"data", sweep.task.data.to_string()},
          {"width", std::to_string(sweep.architecture.width)},
          {"loss", micro::name(sweep.task.loss)},
          {"batch", sweep.batch == 0 ? std::string("full") : std::to_string(sweep.batch)},
          {"weights", sweep.weights.to_string()},
          {"precision", experiments::name(sweep.precision)},
          {"horizons", horizon_text(sweep.horizon_axis())},
          {"scheme", sweep.scheme.to_string()},
          {"partition", sweep.partition.to_string()},
          {"dropout", base::format_double(sweep.failures.dropout)},
          {"link-failure", base::format_double(sweep.failures.link_failure)},
          {"crash", sweep.failures.crash_text()}};
}

double parameters_per_unit(const experiments::MicroSweep& sweep, int depth) {
  micro::Architecture net = sweep.architecture;
  net.depth = depth;
  return static_cast<double>(net.parameter_count());
}

// Peak memory, roughly, per thread (one realization's data and ensemble in flight each): the
// synthetic data set (inputs and targets of the training and test samples, in double), and
// per unit of the ensemble its parameters with gradients and coupling buffers plus the
// activations of a batch (or of the whole training set for full batch and the accuracy).
struct MemoryEstimate {
  double data = 0, networks = 0;
  double total(int threads) const { return threads * (data + networks); }
};

MemoryEstimate estimated_memory(const experiments::MicroSweep& sweep) {
  const auto& task = sweep.task;
  const auto& net = sweep.architecture;
  const double groups = task.kind == micro::TaskKind::classes ? task.data.modes : task.units;
  MemoryEstimate m;
  if (task.kind != micro::TaskKind::effective)
    m.data = 8.0 * (static_cast<double>(task.train_size) + task.test_size) * groups *
             (net.input + net.output);
  double parameters = 0;
  for (int d : sweep.depths) parameters = std::max(parameters, parameters_per_unit(sweep, d));
  const int deepest = *std::max_element(sweep.depths.begin(), sweep.depths.end());
  const double samples = std::max<double>(sweep.batch, task.train_size);
  m.networks = 8.0 * task.units *
               (8 * parameters +
                3 * samples * (net.input + static_cast<double>(net.width) * deepest + net.output));
  return m;
}

// The grid, the work and its wall time (per shard with `shard_count` > 1; sim/run_time_estimate),
// measured by shortened points run on this machine (`images`: the IDX data already read).
void print_dry_run(const experiments::MicroSweep& sweep, int threads, int shard_count,
                   const experiments::IdxTaskData& images) {
  std::cout << "cdl micro (dry run): task " << micro::name(sweep.task.kind)
            << ", N = " << sweep.units() << ", " << sweep.runs << " realizations, depths";
  for (int d : sweep.depths)
    std::cout << " " << d << " (" << parameters_per_unit(sweep, d) << " parameters per unit)";
  std::cout << ", protocols";
  for (auto p : sweep.protocols) std::cout << " " << sweep::name(p);
  std::cout << "\nsigma (" << sweep.sigma.size() << " values):";
  for (double s : sweep.sigma) std::printf(" %.4g", s);
  const double steps =
      static_cast<double>(sweep.transient_steps + sweep.measure_steps) *
      static_cast<double>(sweep.sigma.size() * sweep.depths.size() * sweep.protocols.size()) *
      sweep.runs;
  std::printf("\nwork: %.3g coupled steps of %d networks on %d threads\n", steps, sweep.units(),
              threads);
  const double memory = estimated_memory(sweep).total(threads);
  std::printf("memory: about %s\n", byte_text(memory).c_str());
  std::fflush(stdout);  // the grid before the probe runs
  print_run_time(estimate_micro_run_time(sweep, threads, shard_count, images, memory));
}

// The table of the headline observable (test accuracy for classes, |<m>| otherwise), mean and
// standard error over realizations, read back from the written file.
void print_summary(const std::string& path, const experiments::MicroSweep& sweep) {
  const bool classes = sweep.task.kind == micro::TaskKind::classes;
  const io::SweepReader reader = open_sweep_file(path, "output");
  PointCounts counts;
  for (const auto protocol : sweep.protocols) {
    const std::string name = sweep::name(protocol);
    const auto values = reader.points<double>(name, classes ? "accuracy" : "order_parameter");
    const auto vote = reader.points<double>(name, "accuracy_vote");
    const auto status = reader.points<std::int8_t>(name, "status");
    std::printf("\n%s: mean +- standard error over realizations, protocol %s\n%10s",
                classes ? "test accuracy per unit [and of the vote]" : "|<m>|", name.c_str(),
                "sigma");
    for (int d : sweep.depths) std::printf("   %6s D=%-*d", "", classes ? 16 : 9, d);
    std::printf("\n");
    for (std::size_t s = 0; s < status.sigmas; ++s) {
      std::printf("%10.4g", sweep.sigma[s]);
      for (std::size_t d = 0; d < status.depths; ++d) {
        std::vector<double> done_values, done_vote;  // failed points never enter a summary
        for (std::size_t r = 0; r < status.runs; ++r) {
          if (!sweep::is_done(status.at(d, r, s))) continue;
          done_values.push_back(values.at(d, r, s));
          done_vote.push_back(vote.at(d, r, s));
        }
        const estimators::MeanError m = estimators::mean_and_error(done_values);
        if (classes)
          std::printf("   %6.3f +- %-5.3f [%5.3f]", m.mean, m.se,
                      estimators::mean_and_error(done_vote).mean);
        else
          std::printf("   %8.4f +- %-7.4f", m.mean, m.se);
      }
      std::printf("\n");
    }
    counts += count_points(reader, name);
  }
  if (classes) {
    // The reference the collective phase approaches: one network trained on all the data.
    const auto reference = reader.per_run("all_data_accuracy");
    std::printf("\none network on all the training data, as many steps: test accuracy");
    for (std::size_t d = 0; d < sweep.depths.size(); ++d) {
      // Runs whose reference was not computed (NaN) are left out of the mean.
      const auto runs =
          std::span<const double>(reference).subspan(d * reader.runs(), reader.runs());
      std::printf("%s D=%d %.3f", d ? "," : "", sweep.depths[d],
                  estimators::mean_and_error(runs).mean);
    }
    std::printf("\n");
  }
  std::printf("\npoints: %s\n", count_text(counts, reader).c_str());
}

// The micro experiment as run_job runs it: every non-adiabatic point is an item of its own.
struct MicroJob {
  using Writer = experiments::MicroFileWriter;
  static constexpr const char* name = "micro";
  const experiments::MicroSweep& sweep;
  int threads;
  const experiments::IdxTaskData& images;

  std::vector<sweep::WorkItem> items() const {
    return experiments::micro_work_items(sweep, /*split_nonadiabatic=*/true);
  }
  int protocols() const { return static_cast<int>(sweep.protocols.size()); }
  Writer create(const std::string& path, const io::Provenance& provenance) const {
    return Writer(path, sweep, provenance);
  }
  Writer reopen(const std::string& path) const { return Writer(path, sweep); }
  template <class Deliver>
  sweep::SweepOutcome run(const std::vector<sweep::WorkItem>& items, const Deliver& deliver) const {
    return experiments::run_micro_sweep(sweep, items, threads, stop_request(), deliver, &images);
  }
  void print_summary(const std::string& path) const { cdl::sim::print_summary(path, sweep); }
};

}  // namespace

int run_micro(const std::vector<std::string>& arguments, const std::string& command_line) {
  const auto parsed = parse_command("micro", micro_options(), arguments);
  if (!parsed) return 0;  // --help or --version
  const po::variables_map& values = *parsed;
  experiments::IdxTaskData images;
  const experiments::MicroSweep sweep = sweep_from_options(values, &images);
  const int threads = thread_count(values);
  const MemoryEstimate memory = estimated_memory(sweep);
  // Name what makes it large: the input dimension enters every term; otherwise the data set
  // (train size) or the ensemble (units).
  const std::string dominant = sweep.architecture.input > 100000 ? "data"
                               : memory.data > memory.networks   ? "train-size"
                                                                 : "units";
  check_memory(memory.total(threads), values, dominant);
  const Job job = read_job(values);
  const io::Provenance provenance{
      command_line, resolved_ini("micro", values, micro_recorded_options, canonical_values(sweep))};
  if (values["dry-run"].as<bool>()) {
    check_job_output(job, provenance);  // the run's every check, nothing created
    print_dry_run(sweep, threads, job.shard.count, images);
    return 0;
  }
  return run_job(job, provenance, MicroJob{sweep, threads, images});
}

h5::File micro_layout(const std::string& config_ini, h5::File file,
                      const std::string& command_line) {
  // The layout needs only the grid: data files are not read (the file may have moved).
  const experiments::MicroSweep sweep =
      sweep_from_options(parse_config_text("micro", micro_options(), config_ini, "config"));
  return lay_out_unsharded<experiments::MicroFileWriter>(std::move(file), sweep,
                                                         io::Provenance{command_line, config_ini});
}

}  // namespace cdl::sim
