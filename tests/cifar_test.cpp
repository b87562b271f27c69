// The CIFAR-10 binary reader: a round trip of the exact format, and every damaged file refused
// with one line naming it.
#include "io/cifar.hpp"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "base/errors.hpp"

using namespace cdl;
namespace fs = std::filesystem;

namespace {

// The pixel p of record k of file f: a pattern every byte of which is known.
std::uint8_t pixel(int f, int k, int p) {
  return static_cast<std::uint8_t>((f * 31 + k * 7 + p) % 256);
}
std::uint8_t label(int f, int k) { return static_cast<std::uint8_t>((f + 3 * k) % 10); }

// Writes the six files of a small set into a fresh directory: `records` records each.
fs::path write_set(const std::string& name, int records) {
  const fs::path dir =
      fs::temp_directory_path() / ("cdl_cifar_" + std::to_string(::getpid()) + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (int f = 1; f <= 6; ++f) {
    const std::string file = f <= 5 ? "data_batch_" + std::to_string(f) + ".bin" : "test_batch.bin";
    std::ofstream out(dir / file, std::ios::binary);
    for (int k = 0; k < records; ++k) {
      out.put(static_cast<char>(label(f, k)));
      for (int p = 0; p < io::cifar_pixels; ++p) out.put(static_cast<char>(pixel(f, k, p)));
    }
  }
  return dir;
}

std::string message_of(const fs::path& dir) {
  try {
    io::read_cifar_dataset(dir.string());
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("CIFAR-10 binary batches read back byte for byte") {
  const fs::path dir = write_set("round", 4);
  const io::IdxDataset data = io::read_cifar_dataset(dir.string());
  REQUIRE(data.train_images.count == 20);  // 5 batches × 4 records, in file order
  REQUIRE(data.test_images.count == 4);
  CHECK(data.train_images.rows * data.train_images.cols == io::cifar_pixels);
  for (int f = 1; f <= 5; ++f)
    for (int k = 0; k < 4; ++k) {
      const std::size_t record = static_cast<std::size_t>((f - 1) * 4 + k);
      CHECK(data.train_labels[record] == label(f, k));
      for (int p : {0, 1, 1023, 1024, 2047, 2048, 3071})
        CHECK(data.train_images.pixels[record * io::cifar_pixels + static_cast<std::size_t>(p)] ==
              pixel(f, k, p));
    }
  for (int k = 0; k < 4; ++k) CHECK(data.test_labels[static_cast<std::size_t>(k)] == label(6, k));
  fs::remove_all(dir);
}

TEST_CASE("damaged CIFAR-10 files are refused with one line naming the file") {
  const fs::path dir = write_set("bad", 3);
  const fs::path batch = dir / "data_batch_2.bin";
  const auto bytes = fs::file_size(batch);
  SECTION("truncated") {
    fs::resize_file(batch, bytes - 100);
    const std::string message = message_of(dir);
    CHECK(message.find(batch.string()) != std::string::npos);
    CHECK(message.find("3073-byte records") != std::string::npos);
  }
  SECTION("empty") {
    fs::resize_file(batch, 0);
    CHECK(message_of(dir).find(batch.string()) != std::string::npos);
  }
  SECTION("a label outside 0..9") {
    std::fstream out(batch, std::ios::binary | std::ios::in | std::ios::out);
    out.seekp(3073);  // the second record's label
    out.put(static_cast<char>(10));
    out.close();
    const std::string message = message_of(dir);
    CHECK(message.find(batch.string()) != std::string::npos);
    CHECK(message.find("record 1 has label 10") != std::string::npos);
  }
  SECTION("missing") {
    fs::remove(dir / "test_batch.bin");
    CHECK(message_of(dir).find("test_batch.bin' not found") != std::string::npos);
  }
  SECTION("not a directory") {
    CHECK(message_of(dir / "nothing").find("cifar directory") != std::string::npos);
  }
  for (const std::string& message : {message_of(dir)})
    CHECK(message.find('\n') == std::string::npos);
  fs::remove_all(dir);
}
