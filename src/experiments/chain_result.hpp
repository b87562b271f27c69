// What the theory and micro chains' results share.
#pragma once

#include <Eigen/Core>
#include <cstddef>
#include <span>

namespace cdl::experiments {

// Per-coupling traces, one row per σ index: rows are contiguous, as each point's trace is
// written (and HDF5 stores it) in row-major order.
using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Every value of an array or matrix in storage order, as the sweep file writes a chain's block.
template <class Matrix>
std::span<const double> all_of(const Matrix& matrix) {
  return {matrix.data(), static_cast<std::size_t>(matrix.size())};
}

}  // namespace cdl::experiments
