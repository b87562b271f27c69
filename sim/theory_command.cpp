// `cdl theory`: finite-N sweeps of the effective dynamics, from configuration to HDF5.

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "base/errors.hpp"
#include "base/parse.hpp"
#include "commands.hpp"
#include "config.hpp"
#include "estimators/transitions.hpp"
#include "experiments/theory_output.hpp"
#include "experiments/theory_sweep.hpp"
#include "open_sweep.hpp"
#include "options.hpp"
#include "progress.hpp"
#include "run_time_estimate.hpp"
#include "sweep_job.hpp"
#include "theory/population.hpp"

namespace cdl::sim {

namespace fs = std::filesystem;
namespace po = boost::program_options;

constexpr const char* published_sigma_grid = "log:-2.2:-1:15,log:-1:1:30,log:1:2.2:15";

const std::vector<std::string> theory_recorded_options{
    "units",          "runs",        "depths",     "sigma",
    "protocols",      "gamma",       "t-end",      "samples",
    "rtol",           "atol",        "max-steps",  "disorder",
    "init",           "topology",    "seed",       "save-final-states",
    "disorder-nodes", "init-panels", "init-order", "accuracy",
    "refine-levels",  "horizons"};

po::options_description theory_options() {
  po::options_description options("cdl theory options");
  const auto text = text_option;
  // clang-format off
  options.add_options()
      ("units", text("200"),
       "number of units N (integer >= 2), or inf for the N -> infinity population by quadrature")
      ("t-end", text("10"), "integration time per coupling")
      ("samples", text("100"), "equally spaced samples on [0, t_end] (>= 2)")
      ("rtol", text("1e-3"), "relative tolerance of the integrator (1e-5 by default with --units inf)")
      ("atol", text("1e-6"), "absolute tolerance of the integrator (1e-8 by default with --units inf)")
      ("max-steps", text("100000"), "step budget of one integration")
      ("disorder-nodes", text("32"),
       "--units inf: points over the disorder bulk (panels of 4 equal in probability; tails add more)")
      ("init-panels", text("4"), "--units inf: Gauss-Legendre panels over the initial states")
      ("init-order", text("6"), "--units inf: points per initial-state panel")
      ("accuracy", text("1e-3"),
       "--units inf: target of the error estimate of <m> (absolute); refine each point until it is met")
      ("refine-levels", text("8"),
       "--units inf: adaptive refinements per non-adiabatic point before it is not_converged")
      ("save-final-states", po::bool_switch(), "also write final_state [depth, run, sigma, unit]");
  // clang-format on
  options.add(
      horizon_options("integration time (sample times t_end*k/(samples-1); default t_end)"));
  options.add(sweep_options({"50", "0,1,2", published_sigma_grid, "nonadiabatic,adiabatic_up"}));
  options.add(common_options("data/theory.h5"));
  options.add(job_options());
  return options;
}

namespace {

// --horizons as sample indices: each a sample time t_end·k/(samples − 1) with k ≥ 1, so that
// its window holds recorded samples only and equals a run that ends there.
std::vector<int> horizon_samples(const po::variables_map& values, double t_end, int samples) {
  const std::string given = text(values, "horizons");
  std::vector<int> indices;
  for (const double h : read_horizons(values)) {
    const std::string shown = base::format_double(h);
    if (h > t_end * (1 + 1e-12))
      base::reject("horizons", given,
                   "horizon " + shown + " is after --t-end " + base::format_double(t_end));
    const double k = h * (samples - 1) / t_end, nearest = std::round(k);
    if (nearest < 1 || std::abs(k - nearest) > 1e-9 * std::max(1.0, k)) {
      const double below = std::max(1.0, std::floor(k)) * t_end / (samples - 1);
      base::reject("horizons", given,
                   "horizon " + shown + " is not a sample time t_end*k/(samples-1); nearest " +
                       base::format_double(below) + " and " +
                       base::format_double(below + t_end / (samples - 1)));
    }
    indices.push_back(static_cast<int>(nearest));
  }
  return indices;
}

experiments::TheorySweep sweep_from_options(const po::variables_map& values) {
  experiments::TheorySweep sweep;
  const std::string units = text(values, "units");
  sweep.infinite_population = units == "inf";
  if (!sweep.infinite_population) {
    sweep.units = static_cast<int>(integer_at_least(values, "units", 2, "need N >= 2 or inf"));
    if (sweep.units > 100000000) base::reject("units", units, "at most 10^8 units");
  }
  sweep.population.disorder_nodes = static_cast<int>(
      integer_between(values, "disorder-nodes", 4, 100000, "need at least one panel of 4 nodes"));
  sweep.accuracy = positive(values, "accuracy");
  sweep.refine_levels =
      static_cast<int>(integer_at_least(values, "refine-levels", 0, "must be >= 0"));
  if (sweep.refine_levels > 30)
    base::reject("refine-levels", text(values, "refine-levels"), "at most 30");
  sweep.population.init_panels =
      static_cast<int>(integer_between(values, "init-panels", 1, 10000, "need at least 1 panel"));
  sweep.population.init_order = static_cast<int>(
      integer_between(values, "init-order", 2, 64, "quadrature order must be >= 2"));
  sweep.disorder = read_sweep_options(values, sweep.units, sweep);
  sweep.t_end = positive(values, "t-end");
  sweep.samples =
      static_cast<int>(integer_between(values, "samples", 2, 1000000, "need at least 2 samples"));
  sweep.horizon_samples = horizon_samples(values, sweep.t_end, sweep.samples);
  sweep.integrator.rtol = positive(values, "rtol");
  sweep.integrator.atol = positive(values, "atol");
  // The N → ∞ curve is a reference with a 1e-3 error budget, which the published rtol of 1e-3
  // alone would use up at strong coupling: tighter defaults unless set explicitly.
  if (units == "inf" && values["rtol"].defaulted()) sweep.integrator.rtol = 1e-5;
  if (units == "inf" && values["atol"].defaulted()) sweep.integrator.atol = 1e-8;
  sweep.integrator.max_steps = integer_at_least(values, "max-steps", 1, "must be >= 1");
  sweep.save_final_states = values["save-final-states"].as<bool>();
  if (sweep.infinite_population) {
    // One deterministic N → ∞ trajectory: the unit axis holds the disorder quadrature nodes.
    if (sweep.topology.kind != coupling::TopologyKind::complete)
      base::reject("topology", text(values, "topology"),
                   "--units inf needs all-to-all coupling (complete)");
    if (sweep.disorder.kind == base::Distribution::Kind::file)
      base::reject("disorder", text(values, "disorder"),
                   "--units inf needs a distribution (normal, uniform, bimodal), not a sample");
    if (sweep.save_final_states)
      base::reject("save-final-states", "true",
                   "--units inf stores the separatrix per disorder node, not final states");
    sweep.runs = 1;
    sweep.units =
        theory::PopulationQuadrature(sweep.disorder, sweep.initial_state, sweep.population)
            .disorder_count();
  }
  return sweep;
}

// Whether non-adiabatic chains are split into single points: when sharded (to balance the
// shards) or when there are too few chains to keep every thread busy; otherwise a chain is one
// item, since a finite-N point is cheap and its own write would cost as much as its integration.
bool split_chains(const experiments::TheorySweep& sweep, int threads, int shard_count) {
  return shard_count > 1 || sweep.chains() < 4L * threads;
}

// Peak memory, roughly: per thread the integrator's ~12 arrays over the population, the
// realization and the result buffers ([σ, time] traces, final states); N → ∞ populations
// counted at their largest refinement of φ(0) (16×), with rules A, B and the riders.
double estimated_memory(const experiments::TheorySweep& sweep, int threads) {
  const double n_sigma = static_cast<double>(sweep.sigma.size());
  double population = sweep.units;
  if (sweep.infinite_population)
    population = 3.0 * sweep.units *
                 (16.0 * sweep.population.init_panels * (sweep.population.init_order + 4) + 24);
  const double per_thread = 16.0 * 8 * population + 4.0 * 8 * n_sigma * sweep.samples +
                            (sweep.save_final_states ? 2.0 * 8 * n_sigma * sweep.units : 0.0);
  return threads * per_thread;
}

// The option whose size dominates the estimate, for the message.
std::string dominant_size_option(const experiments::TheorySweep& sweep) {
  if (sweep.infinite_population) return "disorder-nodes";
  const double traces = 4.0 * sweep.sigma.size() * sweep.samples;
  const double units = 16.0 * sweep.units * (sweep.save_final_states ? sweep.sigma.size() : 1);
  return traces > units ? "samples" : "units";
}

// The grid, the work and its wall time (per shard with `shard_count` > 1; sim/run_time_estimate),
// measured by a short probe on this machine.
void print_dry_run(const experiments::TheorySweep& sweep, int threads, int shard_count) {
  if (sweep.infinite_population)
    std::cout << "cdl theory (dry run): N = inf (" << sweep.units << " disorder nodes), depths";
  else
    std::cout << "cdl theory (dry run): N = " << sweep.units << ", " << sweep.runs
              << " realizations, depths";
  for (int d : sweep.depths) std::cout << " " << d;
  std::cout << ", protocols";
  for (auto p : sweep.protocols) std::cout << " " << sweep::name(p);
  std::cout << "\nsigma (" << sweep.sigma.size() << " values):";
  for (double s : sweep.sigma) std::printf(" %.4g", s);
  const double integrations =
      static_cast<double>(sweep.sigma.size() * sweep.depths.size() * sweep.protocols.size()) *
      sweep.runs;
  // Chains are split into single points as run_theory splits them, so that the shards are the
  // ones it will run.
  const bool split = split_chains(sweep, threads, shard_count);
  const double memory = estimated_memory(sweep, threads);
  const RunTimeEstimate estimate =
      estimate_theory_run_time(sweep, threads, shard_count, split, memory);
  std::printf("\nwork: %.0f integrations, about %.3g integrator steps (accepted and rejected)\n",
              integrations, estimate.trials);
  std::printf("memory: about %s\n", byte_text(memory).c_str());
  print_run_time(estimate);
}

// The ⟨m⟩ table and the failure count, read back from the written file.
void print_summary(const std::string& path, const experiments::TheorySweep& sweep) {
  const io::SweepReader reader = open_sweep_file(path, "output");
  PointCounts counts;
  bool any_not_converged = false;
  for (const auto protocol : sweep.protocols) {
    const std::string name = sweep::name(protocol);
    const auto order = reader.points<double>(name, "order_parameter");
    const auto status = reader.points<std::int8_t>(name, "status");
    counts += count_points(reader, name);
    // N → ∞: one trajectory; the ± is the quadrature error estimate.
    const auto error = sweep.infinite_population
                           ? reader.points<double>(name, "order_parameter_error")
                           : io::PointTable<double>{};
    std::printf("\n<m>: %s, protocol %s\n%10s",
                sweep.infinite_population ? "N -> infinity +- quadrature error estimate"
                                          : "mean +- standard error over realizations",
                name.c_str(), "sigma");
    for (int d : sweep.depths) std::printf("   %8s D=%-9d", "", d);
    std::printf("\n");
    for (std::size_t s = 0; s < status.sigmas; ++s) {
      std::printf("%10.4g", sweep.sigma[s]);
      for (std::size_t d = 0; d < status.depths; ++d) {
        if (sweep.infinite_population &&
            status.at(d, 0, s) == static_cast<std::int8_t>(sweep::PointStatus::not_converged)) {
          // Its best value, marked: never a silent value.
          std::printf("   %8.4f +- %-6.4f*", order.at(d, 0, s), error.at(d, 0, s));
          any_not_converged = true;
          continue;
        }
        std::vector<double> done;  // failed points never enter a summary
        for (std::size_t r = 0; r < status.runs; ++r)
          if (sweep::is_done(status.at(d, r, s))) done.push_back(order.at(d, r, s));
        const estimators::MeanError m = estimators::mean_and_error(done);
        const double se = error.values.empty() ? m.se : error.at(d, 0, s);
        std::printf("   %8.4f +- %-7.4f", m.mean, se);
      }
      std::printf("\n");
    }
  }
  if (any_not_converged)
    std::printf(
        "* not_converged: the error estimate stayed above --accuracy %g within "
        "--refine-levels %d\n",
        sweep.accuracy, sweep.refine_levels);
  std::printf("\nintegrations: %s\n", count_text(counts, reader).c_str());
}

// The theory experiment as run_job runs it.
struct TheoryJob {
  using Writer = experiments::TheoryFileWriter;
  static constexpr const char* name = "theory";
  const experiments::TheorySweep& sweep;
  int threads, shard_count;

  std::vector<sweep::WorkItem> items() const {
    return experiments::theory_work_items(sweep, split_chains(sweep, threads, shard_count));
  }
  int protocols() const { return static_cast<int>(sweep.protocols.size()); }
  Writer create(const std::string& path, const io::Provenance& provenance) const {
    return Writer(path, sweep, provenance);
  }
  Writer reopen(const std::string& path) const { return Writer(path, sweep); }
  template <class Deliver>
  sweep::SweepOutcome run(const std::vector<sweep::WorkItem>& items, const Deliver& deliver) const {
    return experiments::run_theory_sweep(sweep, items, threads, stop_request(), deliver);
  }
  void print_summary(const std::string& path) const { cdl::sim::print_summary(path, sweep); }
};

}  // namespace

int run_theory(const std::vector<std::string>& arguments, const std::string& command_line) {
  const auto parsed = parse_command("theory", theory_options(), arguments);
  if (!parsed) return 0;  // --help or --version
  const po::variables_map& values = *parsed;
  const experiments::TheorySweep sweep = sweep_from_options(values);
  const int threads = thread_count(values);
  check_memory(estimated_memory(sweep, threads), values, dominant_size_option(sweep));
  const Job job = read_job(values);
  const io::Provenance provenance{
      command_line, resolved_ini("theory", values, theory_recorded_options,
                                 {{"disorder", sweep.disorder.to_string()},
                                  {"init", sweep.initial_state.to_string()},
                                  {"runs", std::to_string(sweep.runs)},
                                  {"rtol", base::format_double(sweep.integrator.rtol)},
                                  {"atol", base::format_double(sweep.integrator.atol)},
                                  {"horizons", horizon_text(sweep.horizon_times())}})};
  if (values["dry-run"].as<bool>()) {
    check_job_output(job, provenance);  // the run's every check, nothing created
    print_dry_run(sweep, threads, job.shard.count);
    return 0;
  }
  return run_job(job, provenance, TheoryJob{sweep, threads, job.shard.count});
}

h5::File theory_layout(const std::string& config_ini, h5::File file,
                       const std::string& command_line) {
  const experiments::TheorySweep sweep =
      sweep_from_options(parse_config_text("theory", theory_options(), config_ini, "config"));
  return lay_out_unsharded<experiments::TheoryFileWriter>(std::move(file), sweep,
                                                          io::Provenance{command_line, config_ini});
}

}  // namespace cdl::sim
