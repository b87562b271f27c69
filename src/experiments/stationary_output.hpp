// The HDF5 file of `cdl stationary`: one group per branch (/ordered, /symmetric, /history) with
// equal-length arrays over a `point` dimension tracing each depth's curve in continuation
// order, /folds, and /critical with the located couplings per depth.
#pragma once

#include <string>
#include <vector>

#include "experiments/vocabulary.hpp"
#include "theory/stationary.hpp"

namespace cdl::experiments {

struct StationaryResult {
  int depth = 0;
  theory::Branch ordered, symmetric, history;
  theory::CriticalCouplings critical{};
};

void write_stationary_file(const std::string& path, const std::vector<StationaryResult>& results,
                           const Provenance& provenance);

}  // namespace cdl::experiments
