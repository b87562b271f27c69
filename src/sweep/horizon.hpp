// Observation horizons of a recorded trace: the samples a time average up to a horizon uses,
// and the sample after which the trace has settled. Physics-free: theory and micro fill in
// what their samples are.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>

#include "base/not_a_number.hpp"
#include "base/sample_window.hpp"

namespace cdl::sweep {

using base::SampleWindow;
using base::window_mean;

// A trace has settled once it stays within this fraction of its range (max − min over the
// whole trace) of its final value.
inline constexpr double settled_fraction = 0.01;

// The first sample from which every later sample lies within settled_fraction × range of the
// last one; −1 if that is only the last sample (not seen to settle) or the trace holds NaN.
template <class Row>
int settled_index(const Row& trace) {
  const auto n = static_cast<int>(trace.size());
  if (n == 0 || !trace.allFinite()) return -1;
  const double final_value = trace[n - 1];
  const double tolerance = settled_fraction * (trace.maxCoeff() - trace.minCoeff());
  int k = n - 1;
  while (k > 0 && std::abs(trace[k - 1] - final_value) <= tolerance) --k;
  return k == n - 1 && n > 1 ? -1 : k;
}

}  // namespace cdl::sweep
