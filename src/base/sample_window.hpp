// The samples a time average runs over, shared by the N → ∞ solver (theory/) and the
// horizons of a sweep (sweep/).
#pragma once

#include "base/fixed_order_sum.hpp"

namespace cdl::base {

// The samples first..last (inclusive) of a time average.
struct SampleWindow {
  int first = 0, last = 0;
  int size() const { return last - first + 1; }
};

// Mean of the window's samples, summed in index order (so independent of threads).
template <class Row>
double window_mean(const Row& trace, SampleWindow window) {
  return fixed_order_mean(trace.segment(window.first, window.size()));
}

}  // namespace cdl::base
