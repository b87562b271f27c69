// Options of a subcommand from the command line and INI files (ALPSCore-style parameters):
// `--config FILE` may repeat (later files win), the command line wins over every file. In a
// file, keys are option names without dashes, at top level or in a section named after the
// subcommand (`[theory]`); sections of other subcommands are skipped, anything else is an error.
#pragma once

#include <boost/program_options.hpp>
#include <map>
#include <string>
#include <vector>

namespace cdl::sim {

namespace po = boost::program_options;

// Parses `arguments` (what follows the subcommand) and the files named by --config.
// Throws cdl::InputError for unknown options or keys, malformed values, unreadable files.
po::variables_map parse_options(const std::string& subcommand,
                                const po::options_description& options,
                                const std::vector<std::string>& arguments);

// Parses the configuration text `config_ini` (e.g. a file's `config` attribute) as a config
// file named `name` in messages, with no command line.
po::variables_map parse_config_text(const std::string& subcommand,
                                    const po::options_description& options,
                                    const std::string& config_ini, const std::string& name);

// The resolved values of `names` as an INI section `[subcommand]`: enough to rerun. `canonical`
// replaces the typed text of some options (e.g. a data file's path made absolute).
std::string resolved_ini(const std::string& subcommand, const po::variables_map& values,
                         const std::vector<std::string>& names,
                         const std::map<std::string, std::string>& canonical = {});

// The value of a string option; every option but switches is declared as a string so that
// parsing (and its error messages) is ours.
std::string text(const po::variables_map& values, const std::string& name);

}  // namespace cdl::sim
