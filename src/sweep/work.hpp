// The work of a sweep as independent items, and its split into shards for cluster array jobs.
//
// An adiabatic chain (every coupling of one protocol, depth and realization, each starting
// from the previous final state) is one item and is never split. A non-adiabatic chain is one
// item per coupling when its points are independent, so that shards can balance skewed costs.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "sweep/driver.hpp"
#include "sweep/grid.hpp"

namespace cdl::sweep {

struct WorkItem {
  Chain chain;
  std::vector<int> sigma;  // grid indices this item computes, in visiting order
  double cost = 0;         // estimated, in arbitrary units
  bool covers(int s) const;
};

// Items of every chain; `cost(protocol, sigma index)` estimates one point.
std::vector<WorkItem> make_work_items(const std::vector<Protocol>& protocols, int depths, int runs,
                                      const std::vector<double>& sigma, bool split_nonadiabatic,
                                      const std::function<double(int depth_index, int s)>& cost);

// Assigns items to `count` shards, largest estimated cost first onto the least-loaded shard
// (ties to the lower shard): deterministic, and within 4/3 of the optimal makespan. Returns
// the shard of every item.
std::vector<int> assign_shards(const std::vector<WorkItem>& items, int count);

// `--task-index` / `--task-count`, defaulting from SLURM's array variables when set.
struct Shard {
  int index = 0;
  int count = 1;
};
// Explicit options win over the environment (either one given: the environment is ignored,
// and the index defaults to 0); throws cdl::InputError naming the option.
Shard resolve_shard(const std::string& index_option, const std::string& count_option,
                    bool index_given, bool count_given);

// OUTPUT with ".shard-I-of-K" before its extension when K > 1.
std::string shard_output(const std::string& output, const Shard& shard);

}  // namespace cdl::sweep
