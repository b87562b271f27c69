// The subcommands of `cdl`. Each returns the process exit code; library exceptions are turned
// into messages by main().
#pragma once

#include <boost/program_options.hpp>
#include <string>
#include <vector>

#include "base/stop_request.hpp"
#include "h5/hdf5.hpp"

namespace cdl::sim {

// The process's stop request: SIGINT and SIGTERM interrupt it (main.cpp); the commands hand it
// to the driver and the solvers, which also use it to stop each other after a failure.
base::StopRequest& stop_request();

// The sweep subcommands' options, and the names of those a file's `config` records: every one
// but the common and cluster options (how and where to run), in the order the file records
// them, which must not change: --resume and `cdl merge` compare recorded configurations.
boost::program_options::options_description theory_options();
boost::program_options::options_description micro_options();
boost::program_options::options_description stationary_options();
extern const std::vector<std::string> theory_recorded_options;
extern const std::vector<std::string> micro_recorded_options;
extern const std::vector<std::string> stationary_recorded_options;

int run_theory(const std::vector<std::string>& arguments, const std::string& command_line);
int run_stationary(const std::vector<std::string>& arguments, const std::string& command_line);
int run_micro(const std::vector<std::string>& arguments, const std::string& command_line);
int run_merge(const std::vector<std::string>& arguments, const std::string& command_line);
int run_analyze(const std::vector<std::string>& arguments, const std::string& command_line);
int run_info(const std::vector<std::string>& arguments, const std::string& command_line);

// Lays out in the new, empty `file` the sealed file a single unsharded process with the
// configuration `config_ini` writes (status not_run), and returns it: the output of
// `cdl merge` (on disk) and the reference every reader checks a file against (in memory).
h5::File theory_layout(const std::string& config_ini, h5::File file,
                       const std::string& command_line);
h5::File micro_layout(const std::string& config_ini, h5::File file,
                      const std::string& command_line);

}  // namespace cdl::sim
