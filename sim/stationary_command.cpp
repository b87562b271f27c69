// `cdl stationary`: self-consistent stationary branches of the all-to-all effective theory in
// the N → ∞ limit, their stability, folds and the critical couplings.
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>

#include "base/distribution.hpp"
#include "base/not_a_number.hpp"
#include "commands.hpp"
#include "config.hpp"
#include "experiments/stationary_output.hpp"
#include "options.hpp"
#include "output_lock.hpp"
#include "sweep/driver.hpp"
#include "sweep/grid.hpp"

namespace cdl::sim {

const std::vector<std::string> stationary_recorded_options{
    "depths",           "sigma",         "gamma",       "disorder", "init",
    "quadrature-order", "history-nodes", "max-arc-step"};

po::options_description stationary_options() {
  po::options_description options("cdl stationary options");
  const auto text = text_option;
  // clang-format off
  options.add_options()
      ("depths", text("0,1,2"), "network depths D, comma-separated")
      ("sigma", text("log:-2.2:2.2:200"),
       "increasing coupling grid: the range of the continuation and the history sweep's steps")
      ("gamma", text("0.001"), "weight decay gamma (>= 0)")
      ("disorder", text("normal:0:2"), "disorder Delta: normal:MEAN:STD | uniform:LO:HI | bimodal:A:P")
      ("init", text("uniform:-1.7:2.3"),
       "initial states, which select the wells of the history branch: uniform:LO:HI | normal:MEAN:STD")
      ("quadrature-order", text("12"), "Gauss-Legendre points per panel of the disorder average (>= 2)")
      ("history-nodes", text("400"), "equal-probability disorder nodes of the history sweep (>= 2)")
      ("max-arc-step", text("0"),
       "largest continuation step in (ln sigma, m); 0: twice the grid's spacing in ln sigma");
  // clang-format on
  options.add(common_options("data/stationary.h5"));
  return options;
}

namespace {

struct StationaryConfig {
  std::vector<int> depths;
  std::vector<double> sigma;
  double gamma = 0.001;
  base::Distribution disorder, initial_state;
  int quadrature_order = 12, history_nodes = 400;
  double max_arc_step = 0;
};

StationaryConfig config_from_options(const po::variables_map& values) {
  StationaryConfig c;
  c.depths = sweep::parse_depths(text(values, "depths"), "depths");
  c.sigma = sweep::parse_sigma_grid(text(values, "sigma"), "sigma");
  for (std::size_t k = 0; k < c.sigma.size(); ++k)
    if (!(c.sigma[k] > 0) || (k > 0 && !(c.sigma[k] > c.sigma[k - 1])))
      base::reject("sigma", text(values, "sigma"),
                   "continuation needs positive, strictly increasing couplings");
  if (c.sigma.size() < 2) base::reject("sigma", text(values, "sigma"), "need at least 2 couplings");
  c.gamma = base::parse_double(text(values, "gamma"), "gamma");
  if (c.gamma < 0) base::reject("gamma", text(values, "gamma"), "must be >= 0");
  const std::string disorder = text(values, "disorder");
  if (disorder.starts_with("file:"))
    base::reject("disorder", disorder,
                 "a sample has no quadrature; use normal, uniform or bimodal");
  c.disorder = base::parse_distribution(disorder, "disorder", {"normal", "uniform", "bimodal"});
  c.initial_state = base::parse_distribution(text(values, "init"), "init", {"uniform", "normal"});
  c.quadrature_order = static_cast<int>(
      integer_between(values, "quadrature-order", 2, 64, "need at least 2 points"));
  c.history_nodes = static_cast<int>(
      integer_between(values, "history-nodes", 2, 10000000, "need at least 2 nodes"));
  const std::string step = text(values, "max-arc-step");
  c.max_arc_step = base::parse_double(step, "max-arc-step");
  if (c.max_arc_step < 0) base::reject("max-arc-step", step, "must be >= 0");
  if (c.max_arc_step == 0)
    c.max_arc_step = 2 * std::log(c.sigma.back() / c.sigma.front()) / (c.sigma.size() - 1);
  return c;
}

experiments::StationaryResult solve_depth(const StationaryConfig& c, int depth) {
  theory::StationarySolver solver({depth, c.gamma}, c.disorder, c.initial_state, c.quadrature_order,
                                  c.history_nodes);
  solver.set_stop_request(&stop_request());
  experiments::StationaryResult r;
  r.depth = depth;
  r.ordered = solver.ordered(c.sigma.front(), c.sigma.back(), c.max_arc_step);
  r.symmetric = solver.symmetric(c.sigma);
  double joined = base::nan;
  r.history = solver.history(c.sigma, &joined);
  r.critical = solver.critical(r.ordered, r.symmetric, joined);
  return r;
}

void print_table(const std::vector<experiments::StationaryResult>& results) {
  const auto value = [](double x) {
    char text[32];
    if (std::isnan(x)) return std::string("-");
    std::snprintf(text, sizeof text, "%.4g", x);
    return std::string(text);
  };
  std::printf("%5s %12s %12s %14s   %s\n", "depth", "sigma_c1", "sigma_c2", "coexistence",
              "folds of the ordered branch (sigma, m)");
  for (const auto& r : results) {
    std::printf("%5d %12s %12s %14s  ", r.depth, value(r.critical.sigma_c1).c_str(),
                value(r.critical.sigma_c2).c_str(), value(r.critical.sigma_coexistence).c_str());
    if (r.ordered.folds.empty()) std::printf(" -");
    for (const auto& f : r.ordered.folds) std::printf(" (%.4g, %.4g)", f.sigma, f.m);
    std::printf("\n");
  }
}

}  // namespace

int run_stationary(const std::vector<std::string>& arguments, const std::string& command_line) {
  const auto parsed = parse_command("stationary", stationary_options(), arguments);
  if (!parsed) return 0;  // --help or --version
  const po::variables_map& values = *parsed;
  const StationaryConfig config = config_from_options(values);
  const int threads = thread_count(values);
  const bool quiet = values["quiet"].as<bool>();
  const std::string output = text(values, "output");
  const bool overwrite = values["overwrite"].as<bool>();
  const io::Provenance provenance{command_line,
                                  resolved_ini("stationary", values, stationary_recorded_options,
                                               {{"disorder", config.disorder.to_string()},
                                                {"init", config.initial_state.to_string()}})};
  if (values["dry-run"].as<bool>()) {
    // The run's every check, nothing created.
    check_output(output, overwrite);
    OutputLock::check_free(output, "output");
    std::printf(
        "cdl stationary (dry run): %zu depths, sigma from %.4g to %.4g (%zu values), "
        "branches ordered, symmetric, history\n",
        config.depths.size(), config.sigma.front(), config.sigma.back(), config.sigma.size());
    return 0;
  }
  check_output(output, overwrite);          // a quick refusal, before the lock's directory
  const OutputLock lock(output, "output");  // the only writer of OUTPUT and OUTPUT.part
  check_output(output, overwrite);          // again under it: a run may have finished since

  std::vector<experiments::StationaryResult> results(config.depths.size());
  std::exception_ptr failure;  // exceptions must not leave the OpenMP region
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (std::size_t d = 0; d < config.depths.size(); ++d) {
    try {
      results[d] = solve_depth(config, config.depths[d]);
    } catch (...) {
#pragma omp critical(cdl_stationary_failure)
      if (!failure) failure = std::current_exception();
      stop_request().fail();  // the other depths stop too
    }
  }
  if (failure) std::rethrow_exception(failure);  // nothing was written: no file to clean up

  const std::string partial = output + ".part";
  RemoveUnlessKept unfinished(partial);
  create_output(output, [] { return 0; });                           // the directory
  experiments::write_stationary_file(partial, results, provenance);  // a failed write: exit 1
  std::filesystem::rename(partial, output);
  unfinished.keep();
  print_table(results);
  std::fflush(stdout);
  if (!quiet) std::cerr << "wrote " << output << "\n";
  return 0;
}

}  // namespace cdl::sim
