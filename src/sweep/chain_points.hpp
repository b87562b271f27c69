// The points of one chain, visited as its protocol orders them. As a Boost.Odeint driver does
// for a stepper, this owns the visiting and the bookkeeping; the caller says what a point is.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "sweep/grid.hpp"
#include "sweep/status.hpp"
#include "sweep/work.hpp"

namespace cdl::sweep {

// A point that failed: in an adiabatic chain its successors have no starting state.
inline bool failed(PointStatus status) {
  return status != PointStatus::done && status != PointStatus::not_run &&
         status != PointStatus::not_converged;
}

// Visits every coupling of `item`'s chain and writes each point's status into `status`
// [sigma]. `clear(s)` resets point s's outputs before anything else. A point of another item
// stays not_run; after a failed point, the rest of an adiabatic chain is chain_broken. A
// non-adiabatic point starts afresh (`restart()`), an adiabatic one from the previous final
// state. `compute(s)` runs point s and returns its status (not_run if it was interrupted).
template <class Clear, class Restart, class Compute>
void run_chain_points(Protocol protocol, const std::vector<double>& sigma, const WorkItem& item,
                      std::span<std::int8_t> status, Clear clear, Restart restart,
                      Compute compute) {
  bool chain_broken = false;
  for (const int s : visiting_order(protocol, sigma)) {
    clear(s);
    PointStatus outcome = PointStatus::not_run;
    if (!item.covers(s)) {
      outcome = PointStatus::not_run;
    } else if (chain_broken) {
      outcome = PointStatus::chain_broken;
    } else {
      if (protocol == Protocol::nonadiabatic) restart();
      outcome = compute(s);
      chain_broken = protocol != Protocol::nonadiabatic && failed(outcome);
    }
    status[static_cast<std::size_t>(s)] = static_cast<std::int8_t>(outcome);
  }
}

}  // namespace cdl::sweep
