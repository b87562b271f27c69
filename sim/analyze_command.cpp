// `cdl analyze FILE`: options → the sweep's analysis (sweep_analysis) → /analysis in FILE or in
// --output (analysis_layout), through a temporary file that replaces the target only when
// complete → the tables on stdout (analysis_tables).

#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

#include "analysis_layout.hpp"
#include "analysis_tables.hpp"
#include "base/errors.hpp"
#include "base/parse.hpp"
#include "commands.hpp"
#include "config.hpp"
#include "file_copy.hpp"
#include "h5/hdf5.hpp"
#include "io/sweep_file.hpp"
#include "io/sweep_reader.hpp"
#include "open_sweep.hpp"
#include "options.hpp"
#include "output_lock.hpp"
#include "sweep_analysis.hpp"

namespace cdl::sim {

namespace fs = std::filesystem;

namespace {

struct AnalyzeOptions {
  std::string path;
  std::optional<std::string> output, theory;
  BootstrapSettings bootstrap;
  bool quiet = false;
  bool overwrite = false;
};

po::options_description analyze_options() {
  po::options_description options("cdl analyze options");
  // clang-format off
  options.add_options()
      ("help,h", "show this help")
      ("output", po::value<std::string>(),
       "write /analysis to this new file instead of into FILE")
      ("overwrite", po::bool_switch(), "replace an existing --output file")
      ("theory", po::value<std::string>(),
       "a cdl stationary file: its critical couplings beside the measured ones")
      ("bootstrap", po::value<std::string>()->default_value("1000"),
       "bootstrap resamples of the realizations for the intervals")
      ("seed", po::value<std::string>()->default_value("1"), "seed of the bootstrap")
      ("quiet", po::bool_switch(), "no messages on stderr")
      ("file", po::value<std::string>(), "FILE");
  // clang-format on
  return options;
}

AnalyzeOptions read_options(const po::variables_map& values) {
  AnalyzeOptions options;
  if (!values.count("file")) base::reject("file", "", "name a cdl theory or micro file");
  options.path = values["file"].as<std::string>();
  const long long resamples = base::parse_integer(text(values, "bootstrap"), "bootstrap");
  if (resamples < 10 || resamples > 1000000)
    base::reject("bootstrap", text(values, "bootstrap"), "need 10 to 10^6 resamples");
  options.bootstrap.resamples = static_cast<int>(resamples);
  options.bootstrap.seed =
      static_cast<std::uint64_t>(base::parse_integer(text(values, "seed"), "seed"));
  options.overwrite = values["overwrite"].as<bool>();
  if (values.count("output")) {
    options.output = values["output"].as<std::string>();
    check_output(*options.output, options.overwrite);  // a quick refusal; repeated under the lock
    std::error_code error;
    if (std::filesystem::equivalent(*options.output, options.path, error))
      base::reject("output", *options.output,
                   "is the input file; omit --output to analyse in place");
  }
  if (values.count("theory")) options.theory = values["theory"].as<std::string>();
  options.quiet = values["quiet"].as<bool>();
  return options;
}

// Writes /analysis, under the target's lock, into a temporary file that replaces the target
// only when complete: OUTPUT.part for --output (as the sweeps), a copy of FILE for an
// in-place analysis (FILE.analysis.part: never FILE.part, which may be a resumable sweep),
// which replaces FILE only if FILE is still the file `analysed` identifies.
void write_analysis(const AnalyzeOptions& options, const SweepAnalysis& analysis,
                    const std::string& command_line, OutputLock& lock,
                    const FileIdentity& analysed) {
  const std::string target = options.output ? *options.output : options.path;
  const std::string temporary =
      options.output ? *options.output + ".part" : options.path + ".analysis.part";
  if (std::error_code error; std::filesystem::is_symlink(temporary, error))
    base::reject(options.output ? "output" : "file", target, temporary + " is a symbolic link");
  RemoveUnlessKept unfinished(temporary);
  h5::File file;
  if (options.output) {
    create_output(*options.output, [&] {
      file = h5::File::create(temporary);
      return 0;
    });
    lock.hold(temporary);
    io::write_provenance(file.root(), {command_line, ""});
    file.root().set_attribute("subcommand", std::string("analyze"));
    file.root().set_attribute("source", options.path);
  } else {
    copy_whole_file(options.path, temporary);
    lock.hold(temporary);
    file = h5::File::open_read_write(temporary);
    if (file.root().has_link("analysis")) file.root().remove("analysis");
  }
  write_analysis_group(file.root(), analysis);
  file.close();  // flushed and closed, checked: a failed write stops before the rename
  stop_here_for_test("replacing");
  // Edited or replaced since it was read (by hand: cdl writers are kept out by the lock): the
  // analysis would describe data that are gone.
  if (!options.output && !(identity_of(options.path) == analysed))
    base::reject("file", options.path, "changed while it was analysed; nothing written, run again");
  std::filesystem::rename(temporary, target);
  unfinished.keep();
}

}  // namespace

int run_analyze(const std::vector<std::string>& arguments, const std::string& command_line) {
  const auto parsed =
      parse_file_command("cdl analyze FILE [options]", analyze_options(), "file", 1, arguments);
  if (!parsed) return 0;  // --help
  const AnalyzeOptions options = read_options(*parsed);
  if (io::is_stationary_file(options.path))
    base::reject("file", options.path,
                 "a cdl stationary file has no realizations; pass it as --theory");
  // Taken before the file is read: an in-place analysis replaces FILE only if it is still this.
  const FileIdentity analysed = identity_of(options.path);
  const io::SweepReader reader = open_sweep_file(options.path, "file");
  // Every check that decides whether to write is made under the target's lock, taken before the
  // analysis: a sweep replacing FILE, or a second analysis onto OUTPUT, is kept out
  // meanwhile.
  OutputLock lock(options.output ? *options.output : options.path,
                  options.output ? "output" : "file");
  if (options.output) check_output(*options.output, options.overwrite);
  if (!options.output) lock.hold(options.path);  // the file this analysis replaces
  const SweepAnalysis analysis = analyse_sweep(reader, options.path, options.bootstrap);
  const Prediction prediction = options.theory ? read_prediction(*options.theory) : Prediction{};
  write_analysis(options, analysis, command_line, lock, analysed);
  print_analysis_tables(analysis, prediction);
  if (!options.quiet)
    std::cerr << "wrote /analysis to " << (options.output ? *options.output : options.path) << "\n";
  return 0;
}

}  // namespace cdl::sim
