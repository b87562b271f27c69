// Option checks and output-file handling shared by the subcommands.
#pragma once

#include <boost/program_options.hpp>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "base/distribution.hpp"
#include "base/errors.hpp"
#include "base/parse.hpp"
#include "coupling/graph.hpp"
#include "experiments/sweep_grid.hpp"
#include "h5/hdf5.hpp"
#include "sweep/grid.hpp"

namespace cdl::sim {

namespace po = boost::program_options;

// A string option with a default: every value is parsed by us, so that errors name it.
po::typed_value<std::string>* text_option(const char* default_value);

// The options every subcommand has: --help, --version, --config, --output, --overwrite,
// --threads, --quiet, --dry-run.
po::options_description common_options(const char* default_output);

// The grid and quenched-input options `cdl theory` and `cdl micro` share, with the
// subcommand's defaults: --runs --depths --sigma --protocols --gamma --disorder --init
// --topology --seed.
struct SweepDefaults {
  const char* runs;
  const char* depths;
  const char* sigma;
  const char* protocols;
};
po::options_description sweep_options(const SweepDefaults& defaults);
// Parses and checks them into the sweep's `grid` (its horizons aside) and returns the disorder
// (theory's Δ_i, micro's task disorder); `units` is N (for file disorder and graph sizes).
base::Distribution read_sweep_options(const po::variables_map& values, int units,
                                      experiments::SweepGrid& grid);

// Parses a subcommand's options (command line and --config files); answers --help and
// --version itself and then returns nothing.
std::optional<po::variables_map> parse_command(const std::string& subcommand,
                                               const po::options_description& options,
                                               const std::vector<std::string>& arguments);

// For commands that take files rather than a sweep (merge, info, analyze): parses `arguments`
// with the positional `name` (up to `count` values, −1: any number); answers --help itself
// with `usage` and then returns nothing.
std::optional<po::variables_map> parse_file_command(const std::string& usage,
                                                    const po::options_description& options,
                                                    const char* name, int count,
                                                    const std::vector<std::string>& arguments);

// An integer option ≥ low; `requirement` says why otherwise.
// An integer in [low, high]: below low is rejected with `requirement`, above high with the
// bound (the documented upper bounds keep sizes that cannot fit in memory out).
long long integer_between(const po::variables_map& values, const std::string& name, long long low,
                          long long high, const std::string& requirement);
// A temporary output (OUTPUT.part) removed when this goes out of scope unless kept: a failure
// anywhere before the rename leaves nothing behind.
class RemoveUnlessKept {
 public:
  explicit RemoveUnlessKept(std::string path) : path_(std::move(path)) {}
  RemoveUnlessKept(const RemoveUnlessKept&) = delete;
  RemoveUnlessKept& operator=(const RemoveUnlessKept&) = delete;
  ~RemoveUnlessKept() {
    std::error_code error;
    if (!kept_) std::filesystem::remove(path_, error);
  }
  void keep() { kept_ = true; }

 private:
  std::string path_;
  bool kept_ = false;
};

// Refuses a run whose estimated memory (bytes) exceeds the machine's physical memory, naming
// `option` (the size that dominates) with the estimate and the limit.
void check_memory(double bytes, const po::variables_map& values, const std::string& option);
// Whether a cdl file being read has the attribute `name`: a file in which HDF5 cannot even look
// for it is bad input for `option`, damaged, naming the file and HDF5's account.
bool has_attribute(const h5::Group& group, const std::string& name, const std::string& option,
                   const std::string& path);
// A text attribute of a cdl file being read; absent or not text is bad input for `option`,
// naming the file and the attribute (files get edited and damaged).
std::string text_attribute(const h5::Group& group, const std::string& name,
                           const std::string& option, const std::string& path);
// "1.2 GiB" and the like.
std::string byte_text(double bytes);

long long integer_at_least(const po::variables_map& values, const std::string& name, long long low,
                           const std::string& requirement);
// A finite option > 0.
double positive(const po::variables_map& values, const std::string& name);
// --horizons: numbers > 0, comma-separated, strictly increasing; empty (the default): none.
std::vector<double> read_horizons(const po::variables_map& values);
// The horizons as recorded in a file's config: every one, comma-separated.
std::string horizon_text(const std::vector<double>& horizons);
// The --horizons option itself, for `cdl theory` and `cdl micro` (`unit`: what h counts).
po::options_description horizon_options(const char* unit);
// --threads, 0 meaning every core.
int thread_count(const po::variables_map& values);

// Refuses an output that exists (without --overwrite, also as OUTPUT.part) or whose directory
// cannot be written, before anything is created.
void check_output(const std::string& output, bool overwrite);

// Creates the output's directory and runs `make` (which creates the file `made`, by default
// OUTPUT.part). Permission checks cannot see everything (root, read-only mounts, /proc): a
// failure here is still bad input on --output.
template <class Make>
auto create_output(const std::string& output, Make make, const std::string& made = "") {
  const std::string file = made.empty() ? output + ".part" : made;
  try {
    std::filesystem::create_directories(std::filesystem::absolute(output).parent_path());
    return make();
  } catch (const std::filesystem::filesystem_error& e) {
    base::reject("output", output, "cannot create its directory: " + e.code().message());
  } catch (const RuntimeError& e) {
    // Nothing of a failed creation is kept: a half-made OUTPUT.part would block the next run.
    // The file could not be made at all: a bad output; it was made but not filled (a full
    // disk): a failure of the run (exit 1).
    std::error_code error;
    const bool exists = std::filesystem::exists(file, error);
    std::filesystem::remove(file, error);
    if (exists) throw RuntimeError("writing " + file + " failed (" + e.what() + ")");
    base::reject("output", output, "cannot create " + file);
  }
}

}  // namespace cdl::sim
