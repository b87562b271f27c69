// One [depth, run, sigma] dataset of a sweep file's protocol group, indexed by point: the one
// place that knows the row-major order of the points.
#pragma once

#include <cstddef>
#include <vector>

namespace cdl::io {

template <class T>
struct PointTable {
  std::size_t depths = 0, runs = 0, sigmas = 0;
  std::vector<T> values;

  std::size_t index(std::size_t depth, std::size_t run, std::size_t sigma) const {
    return (depth * runs + run) * sigmas + sigma;
  }
  const T& at(std::size_t depth, std::size_t run, std::size_t sigma) const {
    return values[index(depth, run, sigma)];
  }
};

}  // namespace cdl::io
