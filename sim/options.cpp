#include "options.hpp"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "config.hpp"
#include "output_lock.hpp"

namespace cdl::sim {

namespace fs = std::filesystem;

po::typed_value<std::string>* text_option(const char* default_value) {
  return po::value<std::string>()->default_value(default_value);
}

po::options_description common_options(const char* default_output) {
  po::options_description options("common options");
  // clang-format off
  options.add_options()
      ("help,h", "show this help")
      ("version", "print the version")
      ("config", po::value<std::vector<std::string>>()->composing(),
       "INI file of options (repeatable, later files win; the command line wins over files)")
      ("output", text_option(default_output), "output HDF5 file")
      ("overwrite", po::bool_switch(), "replace an existing output file")
      ("threads", text_option("0"), "OpenMP threads (0: all cores); results do not depend on it")
      ("quiet", po::bool_switch(), "no progress or messages on stderr")
      ("dry-run", po::bool_switch(), "check the options and print the work, run nothing");
  // clang-format on
  return options;
}

po::options_description sweep_options(const SweepDefaults& defaults) {
  po::options_description options("sweep options");
  const auto text = text_option;
  // clang-format off
  options.add_options()
      ("runs", text(defaults.runs), "disorder realizations R")
      ("depths", text(defaults.depths), "network depths D, comma-separated")
      ("sigma", text(defaults.sigma),
       "coupling grid: segments log:a:b:n (10^a..10^b), lin:a:b:n or numbers, comma-separated")
      ("protocols", text(defaults.protocols),
       "any of nonadiabatic, adiabatic_up, adiabatic_down")
      ("gamma", text("0.001"), "weight decay gamma (>= 0)")
      ("disorder", text("normal:0:2"),
       "disorder Delta_i: normal:MEAN:STD | uniform:LO:HI | bimodal:A:P | file:PATH")
      ("init", text("uniform:-1.7:2.3"), "initial states: uniform:LO:HI | normal:MEAN:STD")
      ("topology", text("complete"), "coupling graph: complete | er:P | ws:K:P | ring:K | star")
      ("seed", text("1"), "random seed (non-negative integer)");
  // clang-format on
  return options;
}

base::Distribution read_sweep_options(const po::variables_map& values, int units,
                                      experiments::SweepGrid& grid) {
  grid.runs =
      static_cast<int>(integer_between(values, "runs", 1, 1000000, "need at least 1 realization"));
  grid.depths = sweep::parse_depths(text(values, "depths"), "depths");
  grid.sigma = sweep::parse_sigma_grid(text(values, "sigma"), "sigma");
  grid.protocols = sweep::parse_protocols(text(values, "protocols"), "protocols");
  grid.gamma = base::parse_double(text(values, "gamma"), "gamma");
  if (grid.gamma < 0) base::reject("gamma", text(values, "gamma"), "must be >= 0");
  const base::Distribution disorder = base::parse_distribution(
      text(values, "disorder"), "disorder", {"normal", "uniform", "bimodal", "file"});
  base::validate_distribution_shape(disorder, units, grid.runs, "disorder");
  grid.initial_state =
      base::parse_distribution(text(values, "init"), "init", {"uniform", "normal"});
  grid.topology = coupling::parse_topology(text(values, "topology"), "topology");
  coupling::validate_topology(grid.topology, units, "topology");
  grid.seed = static_cast<std::uint64_t>(integer_at_least(values, "seed", 0, "must be >= 0"));
  return disorder;
}

std::optional<po::variables_map> parse_command(const std::string& subcommand,
                                               const po::options_description& options,
                                               const std::vector<std::string>& arguments) {
  po::variables_map values = parse_options(subcommand, options, arguments);
  if (values.count("help")) {
    std::cout << "usage: cdl " << subcommand << " [options]\n" << options << "\n";
    return std::nullopt;
  }
  if (values.count("version")) {
    std::cout << "cdl " << CDL_VERSION << "\n";
    return std::nullopt;
  }
  return values;
}

std::optional<po::variables_map> parse_file_command(const std::string& usage,
                                                    const po::options_description& options,
                                                    const char* name, int count,
                                                    const std::vector<std::string>& arguments) {
  po::positional_options_description positional;
  positional.add(name, count);
  po::variables_map values;
  try {
    po::store(po::command_line_parser(arguments).options(options).positional(positional).run(),
              values);
  } catch (const po::error& e) {
    throw InputError(e.what());
  }
  if (values.count("help")) {
    std::cout << "usage: " << usage << "\n" << options << "\n";
    return std::nullopt;
  }
  return values;
}

long long integer_at_least(const po::variables_map& values, const std::string& name, long long low,
                           const std::string& requirement) {
  const std::string value = text(values, name);
  const long long n = base::parse_integer(value, name);
  if (n < low) base::reject(name, value, requirement);
  return n;
}

long long integer_between(const po::variables_map& values, const std::string& name, long long low,
                          long long high, const std::string& requirement) {
  const std::string value = text(values, name);
  const long long n = base::parse_integer(value, name);
  if (n < low) base::reject(name, value, requirement);
  if (n > high) base::reject(name, value, "at most " + std::to_string(high));
  return n;
}

bool has_attribute(const h5::Group& group, const std::string& name, const std::string& option,
                   const std::string& path) {
  try {
    return group.has_attribute(name);
  } catch (const h5::Error& e) {
    base::reject(option, path, std::string("damaged: ") + e.what());
  }
}

std::string text_attribute(const h5::Group& group, const std::string& name,
                           const std::string& option, const std::string& path) {
  if (!has_attribute(group, name, option, path))
    base::reject(option, path, "has no attribute " + name);
  try {
    return group.string_attribute(name);
  } catch (const std::exception&) {
    base::reject(option, path, "its attribute " + name + " is not text");
  }
}

std::string byte_text(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int k = 0;
  while (bytes >= 1024 && k < 5) bytes /= 1024, ++k;
  char text[32];
  std::snprintf(text, sizeof text, "%.3g %s", bytes, units[k]);
  return text;
}

void check_memory(double bytes, const po::variables_map& values, const std::string& option) {
  const double limit =
      static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGESIZE));
  if (limit > 0 && bytes > limit)
    base::reject(option, text(values, option),
                 "the run needs about " + byte_text(bytes) + " of memory, the machine has " +
                     byte_text(limit));
}

double positive(const po::variables_map& values, const std::string& name) {
  const std::string value = text(values, name);
  const double x = base::parse_double(value, name);
  if (!(x > 0)) base::reject(name, value, "must be > 0");
  return x;
}

std::vector<double> read_horizons(const po::variables_map& values) {
  const std::string given = text(values, "horizons");
  std::vector<double> horizons;
  if (given.empty()) return horizons;
  for (const std::string& field : base::split(given, ',')) {
    double h = 0;
    try {
      h = base::parse_double(field, "horizons");
    } catch (const InputError&) {
      base::reject("horizons", given, "horizon '" + field + "' is not a number");
    }
    if (!(h > 0)) base::reject("horizons", given, "horizon " + field + " is not > 0");
    if (!horizons.empty() && !(h > horizons.back()))
      base::reject("horizons", given, "horizons must increase");
    horizons.push_back(h);
  }
  return horizons;
}

std::string horizon_text(const std::vector<double>& horizons) {
  std::string text;
  for (const double h : horizons) {
    if (!text.empty()) text += ',';
    text += base::format_double(h);
  }
  return text;
}

po::options_description horizon_options(const char* unit) {
  po::options_description options("observation horizons");
  options.add_options()(
      "horizons", po::value<std::string>()->default_value("", "the end"),
      (std::string("observation horizons h1,h2,... in ") + unit +
       ", increasing, on the recorded samples; each is measured over its own window [h/2, h] "
       "of the same trajectory (order_parameter_horizon, ...)")
          .c_str());
  return options;
}

int thread_count(const po::variables_map& values) {
  const auto threads = static_cast<int>(integer_at_least(values, "threads", 0, "must be >= 0"));
  // More threads than 4 × the cores only oversubscribe (and huge counts crash the OpenMP
  // runtime): refused, with the bound in the message.
  const int bound = 4 * std::max(1, omp_get_num_procs());
  if (threads > bound)
    base::reject("threads", text(values, "threads"),
                 "at most " + std::to_string(bound) + " (4 x the " +
                     std::to_string(omp_get_num_procs()) + " cores)");
  return threads > 0 ? threads : omp_get_max_threads();
}

void check_output(const std::string& output, bool overwrite) {
  if (output.empty()) base::reject("output", output, "empty path");
  const fs::path path(output);
  std::error_code error;
  if (fs::is_directory(path, error)) base::reject("output", output, "is a directory");
  // Refused before anything is computed (the final rename would fail only after the work).
  if (names_directory(output)) base::reject("output", output, "names a directory, not a file");
  // Outputs are files, not links: writing through one would replace what it points to.
  if (fs::is_symlink(path, error)) base::reject("output", output, "is a symbolic link");
  if (fs::is_symlink(output + ".part", error))
    base::reject("output", output, output + ".part is a symbolic link");
  if (!overwrite && (fs::exists(path, error) || fs::exists(output + ".part", error)))
    base::reject("output", output,
                 fs::exists(path, error)
                     ? "file exists; pass --overwrite to replace it"
                     : "a partial file " + output + ".part exists; pass --overwrite");
  fs::path ancestor = fs::absolute(path, error).parent_path();
  while (!ancestor.empty() && !fs::exists(ancestor, error) && ancestor != ancestor.root_path())
    ancestor = ancestor.parent_path();
  if (!fs::is_directory(ancestor, error) || access(ancestor.c_str(), W_OK) != 0)
    base::reject("output", output, "directory " + ancestor.string() + " is not writable");
  if (fs::exists(path, error) && access(path.c_str(), W_OK) != 0)
    base::reject("output", output, "file is not writable");
}

}  // namespace cdl::sim
