// Work items and shards: every point in exactly one item, adiabatic chains whole, balanced
// shards, SLURM defaults.
#include "sweep/work.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <set>
#include <tuple>

#include "base/errors.hpp"
#include "experiments/theory_sweep.hpp"
#include "sweep/grid.hpp"

using namespace cdl::sweep;
using namespace cdl::experiments;

namespace {

TheorySweep skewed_sweep() {
  TheorySweep sweep;
  sweep.units = 50;
  sweep.runs = 4;
  sweep.depths = {0, 1, 2};
  // Strong couplings cost ~10^3 times the weak ones (stability-limited steps).
  sweep.sigma = parse_sigma_grid("log:-2:3:30", "sigma");
  sweep.protocols = {Protocol::nonadiabatic, Protocol::adiabatic_up, Protocol::adiabatic_down};
  return sweep;
}

}  // namespace

TEST_CASE("work items cover every point once and never split an adiabatic chain") {
  const TheorySweep sweep = skewed_sweep();
  const auto items = theory_work_items(sweep, true);
  std::set<std::tuple<int, int, int, int>> seen;
  for (const WorkItem& item : items) {
    const Protocol protocol = sweep.protocols[item.chain.protocol];
    if (protocol == Protocol::nonadiabatic)
      CHECK(item.sigma.size() == 1);
    else
      CHECK(item.sigma == visiting_order(protocol, sweep.sigma));
    for (int s : item.sigma)
      CHECK(seen.insert({item.chain.protocol, item.chain.depth_index, item.chain.run, s}).second);
  }
  CHECK(seen.size() == 3 * 3 * 4 * sweep.sigma.size());
}

TEST_CASE("shards of a skewed cost grid are balanced within 1.5 times the mean") {
  const TheorySweep sweep = skewed_sweep();
  const auto items = theory_work_items(sweep, true);
  for (const int count : {2, 3, 7, 16}) {
    const std::vector<int> shard = assign_shards(items, count);
    std::vector<double> load(static_cast<std::size_t>(count), 0.0);
    double total = 0;
    for (std::size_t i = 0; i < items.size(); ++i) {
      load[static_cast<std::size_t>(shard[i])] += items[i].cost;
      total += items[i].cost;
    }
    const double largest = *std::max_element(load.begin(), load.end());
    INFO(count << " shards: largest " << largest << ", mean " << total / count);
    CHECK(largest <= 1.5 * total / count);
  }
}

TEST_CASE("shard indices come from SLURM's array variables unless given explicitly") {
  setenv("SLURM_ARRAY_TASK_ID", "5", 1);
  setenv("SLURM_ARRAY_TASK_MIN", "1", 1);
  setenv("SLURM_ARRAY_TASK_COUNT", "7", 1);
  const Shard from_slurm = resolve_shard("", "", false, false);
  CHECK(from_slurm.index == 4);
  CHECK(from_slurm.count == 7);
  const Shard explicit_wins = resolve_shard("2", "3", true, true);
  CHECK(explicit_wins.index == 2);
  CHECK(explicit_wins.count == 3);
  unsetenv("SLURM_ARRAY_TASK_ID");
  unsetenv("SLURM_ARRAY_TASK_MIN");
  unsetenv("SLURM_ARRAY_TASK_COUNT");
  CHECK(resolve_shard("", "", false, false).count == 1);
  CHECK_THROWS_AS(resolve_shard("3", "3", true, true), cdl::InputError);
  CHECK_THROWS_AS(resolve_shard("0", "0", true, true), cdl::InputError);
  CHECK(shard_output("data/run.h5", {2, 7}) == "data/run.shard-2-of-7.h5");
  CHECK(shard_output("data/run.h5", {0, 1}) == "data/run.h5");
}
