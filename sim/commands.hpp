// The subcommands of `cdl`. Each returns the process exit code; library exceptions are turned
// into messages by main().
#pragma once

#include <string>
#include <vector>

namespace cdl::sim {

int run_theory(const std::vector<std::string>& arguments, const std::string& command_line);
int run_stationary(const std::vector<std::string>& arguments, const std::string& command_line);
int run_micro(const std::vector<std::string>& arguments, const std::string& command_line);
int run_merge(const std::vector<std::string>& arguments, const std::string& command_line);
int run_analyze(const std::vector<std::string>& arguments, const std::string& command_line);
int run_info(const std::vector<std::string>& arguments, const std::string& command_line);

// For `cdl merge`: creates at `path` the empty, sealed file a single unsharded process with
// the configuration `config_ini` writes (every dataset allocated, status not_run).
void create_theory_layout(const std::string& config_ini, const std::string& path,
                          const std::string& command_line);
void create_micro_layout(const std::string& config_ini, const std::string& path,
                         const std::string& command_line);

}  // namespace cdl::sim
