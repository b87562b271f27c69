#include "subcommands.hpp"

#include "commands.hpp"

namespace cdl::sim {

base::StopRequest& stop_request() {
  static base::StopRequest request;
  return request;
}

const std::vector<Subcommand>& subcommands() {
  static const std::vector<Subcommand> list{
      {"theory", "effective Ginzburg-Landau dynamics swept over coupling and depth", run_theory,
       theory_options, &theory_recorded_options},
      {"stationary", "N -> infinity stationary branches, their stability and critical couplings",
       run_stationary, stationary_options, &stationary_recorded_options},
      {"micro", "coupled deep networks trained on private data, swept like theory", run_micro,
       micro_options, &micro_recorded_options},
      {"merge", "combine the shard files of a cluster array job into one file", run_merge},
      {"analyze", "locate the ordered window (sigma_c1, sigma_c2) of a sweep file", run_analyze},
      {"info", "what a cdl file holds: command, grid, points done and missing", run_info},
  };
  return list;
}

const std::vector<std::string>& subcommand_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> all;
    for (const Subcommand& subcommand : subcommands()) all.emplace_back(subcommand.name);
    return all;
  }();
  return names;
}

const Subcommand* find_subcommand(const std::string& name) {
  for (const Subcommand& subcommand : subcommands())
    if (name == subcommand.name) return &subcommand;
  return nullptr;
}

}  // namespace cdl::sim
