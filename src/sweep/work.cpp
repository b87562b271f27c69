#include "sweep/work.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "base/errors.hpp"
#include "base/parse.hpp"

namespace cdl::sweep {

bool WorkItem::covers(int s) const {
  return std::find(sigma.begin(), sigma.end(), s) != sigma.end();
}

std::vector<WorkItem> make_work_items(const std::vector<Protocol>& protocols, int depths, int runs,
                                      const std::vector<double>& sigma, bool split_nonadiabatic,
                                      const std::function<double(int, int)>& cost) {
  std::vector<WorkItem> items;
  for (const Chain& chain : make_chains(static_cast<int>(protocols.size()), depths, runs)) {
    const Protocol protocol = protocols[chain.protocol];
    const std::vector<int> order = visiting_order(protocol, sigma);
    if (protocol == Protocol::nonadiabatic && split_nonadiabatic) {
      for (int s : order) items.push_back({chain, {s}, cost(chain.depth_index, s)});
    } else {
      WorkItem item{chain, order, 0};
      for (int s : order) item.cost += cost(chain.depth_index, s);
      items.push_back(item);
    }
  }
  return items;
}

std::vector<int> assign_shards(const std::vector<WorkItem>& items, int count) {
  const std::vector<std::size_t> order = largest_cost_first(items);
  std::vector<double> load(static_cast<std::size_t>(count), 0.0);
  std::vector<int> shard(items.size(), 0);
  for (std::size_t i : order) {
    const auto lightest = std::min_element(load.begin(), load.end()) - load.begin();
    shard[i] = static_cast<int>(lightest);
    load[static_cast<std::size_t>(lightest)] += items[i].cost;
  }
  return shard;
}

namespace {

// An environment variable as an integer, or nothing when unset or empty.
bool environment_integer(const char* name, long long& value) {
  const char* text = std::getenv(name);
  if (!text || !*text) return false;
  value = base::parse_integer(text, std::string("task-index (from $") + name + ")");
  return true;
}

}  // namespace

Shard resolve_shard(const std::string& index_option, const std::string& count_option,
                    bool index_given, bool count_given) {
  long long index = 0, count = 1;
  // SLURM numbers array tasks from SLURM_ARRAY_TASK_MIN (often 0 or 1).
  long long task_id = 0, task_min = 0, task_count = 0;
  // Options given explicitly replace the environment for both values.
  const bool in_array = !index_given && !count_given &&
                        environment_integer("SLURM_ARRAY_TASK_ID", task_id) &&
                        environment_integer("SLURM_ARRAY_TASK_COUNT", task_count);
  if (in_array) {
    environment_integer("SLURM_ARRAY_TASK_MIN", task_min);
    index = task_id - task_min;
    count = task_count;
  }
  if (count_given) count = base::parse_integer(count_option, "task-count");
  if (index_given) index = base::parse_integer(index_option, "task-index");
  if (count < 1) base::reject("task-count", std::to_string(count), "need K >= 1");
  if (index < 0 || index >= count)
    base::reject("task-index", std::to_string(index),
                 "must lie in 0.." + std::to_string(count - 1) + " for --task-count " +
                     std::to_string(count));
  return {static_cast<int>(index), static_cast<int>(count)};
}

std::string shard_output(const std::string& output, const Shard& shard) {
  if (shard.count == 1) return output;
  const std::filesystem::path path(output);
  const std::string tag =
      ".shard-" + std::to_string(shard.index) + "-of-" + std::to_string(shard.count);
  return (path.parent_path() / (path.stem().string() + tag + path.extension().string())).string();
}

}  // namespace cdl::sweep
