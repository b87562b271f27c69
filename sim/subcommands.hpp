// The one list of `cdl`'s subcommands: dispatch, `cdl --help` and the sections a configuration
// file may hold all follow from it.
#pragma once

#include <boost/program_options.hpp>
#include <string>
#include <vector>

namespace cdl::sim {

struct Subcommand {
  const char* name;
  const char* summary;  // its line in `cdl --help`
  // Returns the process exit code; library exceptions are turned into messages by main().
  int (*run)(const std::vector<std::string>& arguments, const std::string& command_line);
  // The sweep subcommands (theory, stationary, micro): their options and the names of those
  // their files' `config` records; null for the subcommands that read files.
  boost::program_options::options_description (*options)() = nullptr;
  const std::vector<std::string>* recorded_options = nullptr;
};

// In the order `cdl --help` lists them.
const std::vector<Subcommand>& subcommands();

// Their names: the sections a configuration file may hold.
const std::vector<std::string>& subcommand_names();

// The subcommand called `name`, or nullptr.
const Subcommand* find_subcommand(const std::string& name);

}  // namespace cdl::sim
