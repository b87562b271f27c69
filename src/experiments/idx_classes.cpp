#include "experiments/idx_classes.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>

#include "base/parse.hpp"
#include "io/cifar.hpp"
#include "io/idx.hpp"

namespace cdl::experiments {

using io::IdxDataset;
using io::IdxImages;

namespace {

// Asks Linux to back the 2 MiB-aligned part of a fresh buffer with huge pages (a hint; where
// it is not granted nothing changes): a virtual machine pays dearly for the first touch of
// every 4 KiB page, and reading the digits took twice as long with them (bench/RESULTS.md).
void advise_huge_pages(void* data, std::size_t size) {
  constexpr std::uintptr_t huge = std::uintptr_t{1} << 21;
  const auto begin = (reinterpret_cast<std::uintptr_t>(data) + huge - 1) & ~(huge - 1);
  const auto end = (reinterpret_cast<std::uintptr_t>(data) + size) & ~(huge - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
}

// The images sorted by label (stably, so the file order survives within a class), as bytes (input ×
// samples) and their labels.
void sorted_by_class(const IdxImages& images, const std::vector<std::uint8_t>& labels, int classes,
                     const std::string& which, micro::Bytes& bytes,
                     std::vector<int>& sorted_labels) {
  const Eigen::Index pixels = static_cast<Eigen::Index>(images.rows) * images.cols;
  std::vector<std::size_t> order(labels.size());
  for (std::size_t k = 0; k < order.size(); ++k) {
    if (labels[k] >= classes)
      base::reject("data", "idx:" + which,
                   "label " + std::to_string(labels[k]) + " of sample " + std::to_string(k) +
                       " is out of range for " + std::to_string(classes) + " classes");
    order[k] = k;
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return labels[a] < labels[b]; });
  bytes.resize(pixels, static_cast<Eigen::Index>(order.size()));
  advise_huge_pages(bytes.data(), static_cast<std::size_t>(bytes.size()));
  sorted_labels.resize(order.size());
  for (std::size_t k = 0; k < order.size(); ++k) {
    sorted_labels[k] = labels[order[k]];
    std::copy_n(images.pixels.data() + order[k] * static_cast<std::size_t>(pixels), pixels,
                bytes.col(static_cast<Eigen::Index>(k)).data());
  }
}

// byte / 255 for every pixel, on `threads` threads: they share the conversion and the first
// touch of its pages, which on a virtual machine costs as much as the conversion itself.
template <class S>
void to_unit_interval(const micro::Bytes& bytes, int threads, micro::Matrix<S>& values) {
  values.resize(bytes.rows(), bytes.cols());
  advise_huge_pages(values.data(), static_cast<std::size_t>(values.size()) * sizeof(S));
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (Eigen::Index k = 0; k < bytes.cols(); ++k)
    values.col(k) = (bytes.col(k).template cast<S>() / S(255)).matrix();
}

}  // namespace

template <class S>
std::shared_ptr<const micro::TaskData<S>> load_idx_classes(const micro::TaskSpec& spec,
                                                           int threads) {
  const IdxDataset idx = spec.data.kind == micro::DataSpec::Kind::cifar
                             ? io::read_cifar_dataset(spec.data.dir)
                             : io::read_idx_dataset(spec.data.dir);
  const int classes = spec.data.modes;
  auto data = std::make_shared<micro::TaskData<S>>();
  data->loss = spec.loss;
  data->input = idx.train_images.rows * idx.train_images.cols;
  data->output = data->classes = classes;
  auto train_bytes = std::make_shared<micro::Bytes>();
  micro::Bytes test_bytes;
  sorted_by_class(idx.train_images, idx.train_labels, classes, spec.data.dir, *train_bytes,
                  data->train_labels);
  sorted_by_class(idx.test_images, idx.test_labels, classes, spec.data.dir, test_bytes,
                  data->test_labels);
  auto train = std::make_shared<micro::Matrix<S>>();
  auto test = std::make_shared<micro::Matrix<S>>();
  to_unit_interval<S>(*train_bytes, threads, *train);
  to_unit_interval<S>(test_bytes, threads, *test);
  data->train_inputs = train;
  data->test_inputs = test;
  data->train_bytes = train_bytes;
  micro::arrange_classes(spec, *data);
  return data;
}

template std::shared_ptr<const micro::TaskData<float>> load_idx_classes<float>(
    const micro::TaskSpec&, int);
template std::shared_ptr<const micro::TaskData<double>> load_idx_classes<double>(
    const micro::TaskSpec&, int);

}  // namespace cdl::experiments
