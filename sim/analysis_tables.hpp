// The tables `cdl analyze` prints: per protocol the ordered window with its intervals (and a
// stationary file's critical couplings beside it), the window at each horizon, the hysteresis.
#pragma once

#include "sweep_analysis.hpp"

namespace cdl::sim {

void print_analysis_tables(const SweepAnalysis& analysis, const Prediction& prediction);

}  // namespace cdl::sim
