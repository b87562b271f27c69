// The per-protocol datasets of a sweep file as a table: each one's name, shape and description
// and its values in a chain's result. A writer lays out and writes every dataset of its table,
// so an observable is added in one place.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "experiments/vocabulary.hpp"

namespace cdl::experiments {

// The values a dataset takes from one chain's result, at the points of the item.
using DatasetValues = std::variant<std::span<const double>, std::span<const std::int64_t>,
                                   std::span<const std::int8_t>>;

template <class T>
std::span<const T> span_of(const std::vector<T>& values) {
  return {values.data(), values.size()};
}

template <class Result>
struct PointDataset {
  std::string name;
  Shape shape;
  std::string long_name;
  std::function<DatasetValues(const Result&)> values;
};

// Allocates `dataset` in `file`, its element type that of its values (int8: a status table).
template <class Result>
void add_dataset(SweepFile& file, const PointDataset<Result>& dataset) {
  const Result no_result;  // the values' type only
  std::visit(
      [&](auto values) {
        using T = std::remove_const_t<typename decltype(values)::element_type>;
        if constexpr (std::is_same_v<T, std::int8_t>)
          file.add_status(dataset.name, dataset.shape, dataset.long_name);
        else
          file.add<T>(dataset.name, dataset.shape, dataset.long_name);
      },
      dataset.values(no_result));
}

// Writes `dataset`'s values in `result` at the points `sigma` of (protocol, depth, run).
template <class Result>
void write_dataset(SweepFile& file, const PointDataset<Result>& dataset, const Result& result,
                   int protocol, int depth, int run, std::span<const int> sigma) {
  std::visit(
      [&](auto values) {
        using T = std::remove_const_t<typename decltype(values)::element_type>;
        file.write<T>(protocol, dataset.name, depth, run, sigma, values);
      },
      dataset.values(result));
}

}  // namespace cdl::experiments
