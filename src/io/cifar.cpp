#include "io/cifar.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "base/errors.hpp"

namespace cdl::io {

namespace {

constexpr std::size_t record_bytes = 1 + cifar_pixels;

[[noreturn]] void fail(const std::string& path, const std::string& cause) {
  throw InputError("--data: cifar file '" + path + "' " + cause);
}

// Appends the records of one file to `images` and `labels`.
void read_batch(const std::string& path, IdxImages& images, std::vector<std::uint8_t>& labels) {
  std::error_code error;
  // Checked before the stream opens it: a FIFO without a writer would block the open forever.
  if (!std::filesystem::exists(path, error)) fail(path, "not found");
  if (!std::filesystem::is_regular_file(path, error))
    fail(path, "is not a regular file (a directory, FIFO, device or socket)");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot be opened");
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
  if (in.bad()) fail(path, "could not be read");
  if (bytes.empty() || bytes.size() % record_bytes != 0)
    fail(path, "is " + std::to_string(bytes.size()) +
                   " bytes, not a whole number of 3073-byte records (truncated or not CIFAR-10)");
  const std::size_t records = bytes.size() / record_bytes;
  images.pixels.reserve(images.pixels.size() + records * cifar_pixels);
  for (std::size_t k = 0; k < records; ++k) {
    const auto* record = reinterpret_cast<const std::uint8_t*>(bytes.data()) + k * record_bytes;
    if (record[0] >= cifar_classes)
      fail(path, "record " + std::to_string(k) + " has label " + std::to_string(record[0]) +
                     ", outside 0..9");
    labels.push_back(record[0]);
    images.pixels.insert(images.pixels.end(), record + 1, record + record_bytes);
  }
  images.count += static_cast<int>(records);
}

}  // namespace

IdxDataset read_cifar_dataset(const std::string& dir) {
  std::error_code ignored;
  if (!std::filesystem::is_directory(dir, ignored))
    throw InputError("--data: cifar directory '" + dir + "' not found");
  IdxDataset data;
  for (IdxImages* images : {&data.train_images, &data.test_images}) {
    images->rows = 1;
    images->cols = cifar_pixels;
  }
  for (int batch = 1; batch <= 5; ++batch)
    read_batch(
        (std::filesystem::path(dir) / ("data_batch_" + std::to_string(batch) + ".bin")).string(),
        data.train_images, data.train_labels);
  read_batch((std::filesystem::path(dir) / "test_batch.bin").string(), data.test_images,
             data.test_labels);
  return data;
}

}  // namespace cdl::io
