// What the theory and micro chains' results share.
#pragma once

#include <Eigen/Core>

namespace cdl::experiments {

// Per-coupling traces, one row per σ index: rows are contiguous, as each point's trace is
// written (and HDF5 stores it) in row-major order.
using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

}  // namespace cdl::experiments
