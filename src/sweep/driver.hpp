// The sweep driver shared by every simulation command: the work is a list of independent
// items (chains of protocol × depth × realization, or single points of them; sweep/work.hpp),
// run in parallel with OpenMP and handed, one completed item at a time, to a sink. Each chain is
// computed by one thread from inputs that depend only on the chain's coordinates, so results do not
// depend on the thread count.
#pragma once

#include <omp.h>

#include <atomic>
#include <exception>
#include <vector>

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

// Set from a signal handler to stop handing out new items; items in flight finish (or, in
// cdl micro, abandon their unfinished points).
inline std::atomic<bool>& stop_requested() {
  static std::atomic<bool> flag{false};
  return flag;
}

struct SweepOutcome {
  long items_done = 0;
  bool interrupted = false;
};

// make_workspace() → per-thread scratch; compute(workspace, item) fills workspace.result;
// deliver(workspace.result, item) runs under a lock, in completion order.
template <class Item, class MakeWorkspace, class Compute, class Deliver>
SweepOutcome run_items(const std::vector<Item>& items, int threads, MakeWorkspace make_workspace,
                       Compute compute, Deliver deliver) {
  SweepOutcome outcome;
  std::exception_ptr failure;
  const long n = static_cast<long>(items.size());
#pragma omp parallel num_threads(threads)
  {
    auto workspace = make_workspace();
#pragma omp for schedule(dynamic, 1)
    for (long c = 0; c < n; ++c) {
      if (stop_requested().load()) continue;
      // Exceptions must not leave an OpenMP block: the first one is kept and rethrown after.
      const auto record = [&] {
#pragma omp critical(cdl_sweep_failure)
        if (!failure) failure = std::current_exception();
        stop_requested().store(true);
      };
      bool computed = false;
      try {
        compute(workspace, items[static_cast<std::size_t>(c)]);
        computed = true;
      } catch (...) {
        record();
      }
      if (computed) {
#pragma omp critical(cdl_sweep_sink)
        try {
          deliver(workspace.result, items[static_cast<std::size_t>(c)]);
          ++outcome.items_done;
        } catch (...) {
          record();
        }
      }
    }
  }
  if (failure) std::rethrow_exception(failure);
  outcome.interrupted = outcome.items_done < n;
  return outcome;
}

}  // namespace cdl::sweep
