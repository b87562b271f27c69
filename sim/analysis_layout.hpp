// The /analysis group `cdl analyze` writes (docs/file-format.md): per protocol the curves
// [depth, sigma], the windows [depth] with intervals [depth, 2], the same at every horizon, and
// the hysteresis of adiabatic pairs.
#pragma once

#include "h5/hdf5.hpp"
#include "sweep_analysis.hpp"

namespace cdl::sim {

// Creates /analysis under `root` and writes `analysis` into it.
void write_analysis_group(const h5::Group& root, const SweepAnalysis& analysis);

}  // namespace cdl::sim
