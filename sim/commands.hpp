// The subcommands of `cdl`. Each returns the process exit code; library exceptions are turned
// into messages by main().
#pragma once

#include <string>
#include <vector>

namespace cdl::sim {

int run_theory(const std::vector<std::string>& arguments, const std::string& command_line);
int run_stationary(const std::vector<std::string>& arguments, const std::string& command_line);
int run_micro(const std::vector<std::string>& arguments, const std::string& command_line);

}  // namespace cdl::sim
