// The sweep driver shared by every simulation command: the work is a list of independent
// items (chains of protocol × depth × realization, or single points of them; sweep/work.hpp),
// run in parallel with OpenMP and handed, one completed item at a time, to a sink. An item is
// computed from inputs that depend only on its coordinates, by one thread or by the few threads
// it is given, which share its work in a fixed decomposition, so results do not depend on the
// thread count.
#pragma once

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <numeric>
#include <vector>

#include "base/stop_request.hpp"

namespace cdl::sweep {

struct Chain {
  int protocol = 0;     // index into the configured protocols
  int depth_index = 0;  // index into the configured depths
  int run = 0;          // disorder realization
};

inline std::vector<Chain> make_chains(int protocols, int depths, int runs) {
  std::vector<Chain> chains;
  for (int p = 0; p < protocols; ++p)
    for (int d = 0; d < depths; ++d)
      for (int r = 0; r < runs; ++r) chains.push_back({p, d, r});
  return chains;
}

struct SweepOutcome {
  long items_done = 0;
  bool interrupted = false;
};

// The order in which items are handed out: largest estimated cost first (ties in list order),
// so that the last item to start is a small one and no thread waits long on another's.
template <class Item>
std::vector<std::size_t> largest_cost_first(const std::vector<Item>& items) {
  std::vector<std::size_t> order(items.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return items[a].cost > items[b].cost; });
  return order;
}

// make_workspace() → per-thread scratch; compute(workspace, item, inner_threads) fills
// workspace.result; deliver(workspace.result, item) runs under a lock, in completion order.
// No item starts once `stop` is requested (items in flight finish, or abandon their
// unfinished points if they check it); a failed item requests it as a failure.
// Items are handed out largest estimated cost (`Item::cost`) first. With fewer items than
// threads, each item gets inner_threads = threads / items of its own to share its work, so
// that the threads in use never exceed `threads`.
template <class Item, class MakeWorkspace, class Compute, class Deliver>
SweepOutcome run_items(const std::vector<Item>& items, int threads, base::StopRequest& stop,
                       MakeWorkspace make_workspace, Compute compute, Deliver deliver) {
  SweepOutcome outcome;
  std::exception_ptr failure;
  const long n = static_cast<long>(items.size());
  const std::vector<std::size_t> order = largest_cost_first(items);
  const int outer = static_cast<int>(std::clamp<long>(n, 1, threads));
  const int inner = std::max(1, threads / outer);
  // Exceptions must not leave an OpenMP block: the first one is kept and rethrown after.
  const auto record = [&] {
#pragma omp critical(cdl_sweep_failure)
    if (!failure) failure = std::current_exception();
    stop.fail();
  };
  const auto run_one = [&](auto& workspace, long k) {
    const std::size_t c = order[static_cast<std::size_t>(k)];
    if (stop.requested()) return;
    bool computed = false;
    try {
      compute(workspace, items[c], inner);
      computed = true;
    } catch (...) {
      record();
    }
    if (computed) {
#pragma omp critical(cdl_sweep_sink)
      try {
        deliver(workspace.result, items[c]);
        ++outcome.items_done;
      } catch (...) {
        record();
      }
    }
  };
  if (outer == 1) {
    // No enclosing parallel region: an item's own threads then come from the runtime's pool
    // (inside even an inactive region, libgomp would start new threads for every inner one).
    auto workspace = make_workspace();
    for (long k = 0; k < n; ++k) run_one(workspace, k);
  } else {
    omp_set_max_active_levels(inner > 1 ? 2 : 1);
#pragma omp parallel num_threads(outer)
    {
      auto workspace = make_workspace();
#pragma omp for schedule(dynamic, 1)
      for (long k = 0; k < n; ++k) run_one(workspace, k);
    }
  }
  if (failure) std::rethrow_exception(failure);
  outcome.interrupted = outcome.items_done < n;
  return outcome;
}

}  // namespace cdl::sweep
