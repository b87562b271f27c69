// Why a run should stop starting new work: an interrupt (SIGINT/SIGTERM) or the failure of
// another piece of work. An object handed to whoever may stop (the driver, long items, the
// stationary solver) rather than a process-wide flag, so that the two reasons stay apart.
#pragma once

#include <atomic>

namespace cdl::base {

class StopRequest {
 public:
  // Safe in a signal handler: a lock-free atomic store.
  void interrupt() { interrupted_.store(true); }
  void fail() { failed_.store(true); }
  bool interrupted() const { return interrupted_.load(); }
  bool failed() const { return failed_.load(); }
  bool requested() const { return interrupted() || failed(); }

 private:
  static_assert(std::atomic<bool>::is_always_lock_free);
  std::atomic<bool> interrupted_{false};
  std::atomic<bool> failed_{false};
};

}  // namespace cdl::base
