// The IDX reader: plain and gzip files, the dataset's file names, and one-line errors for every
// corrupt input.
#include "io/idx.hpp"

#include <zlib.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "base/errors.hpp"
#include "test_support.hpp"

using namespace cdl::io;
namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

namespace {

// `dir / "name"`: a path in the test's temporary directory.
struct TempDir : cdl::test::TemporaryDirectory {
  std::string operator/(const std::string& name) const { return path(name); }
};

void put_u32(Bytes& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back((value >> shift) & 0xFF);
}

// An IDX file: magic 0x0000 08 <dims>, the dims, then `data`.
Bytes idx(const std::vector<std::uint32_t>& dims, const Bytes& data, std::uint8_t type = 0x08) {
  Bytes out{0, 0, type, static_cast<std::uint8_t>(dims.size())};
  for (const std::uint32_t dim : dims) put_u32(out, dim);
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

Bytes pattern(std::size_t n, int seed) {
  Bytes out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>(i * 7 + seed);
  return out;
}

void write_plain(const std::string& path, const Bytes& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

void write_gz(const std::string& path, const Bytes& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  REQUIRE(file != nullptr);
  REQUIRE(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())) ==
          static_cast<int>(bytes.size()));
  REQUIRE(gzclose(file) == Z_OK);
}

// A consistent small dataset: 6 training and 4 test images of 3x2 pixels.
void write_dataset(const TempDir& dir, bool gz) {
  const auto write = [&](const std::string& name, const Bytes& bytes) {
    gz ? write_gz(dir / (name + ".gz"), bytes) : write_plain(dir / name, bytes);
  };
  write("train-images-idx3-ubyte", idx({6, 3, 2}, pattern(36, 1)));
  write("train-labels-idx1-ubyte", idx({6}, Bytes{0, 1, 2, 3, 4, 5}));
  write("t10k-images-idx3-ubyte", idx({4, 3, 2}, pattern(24, 2)));
  write("t10k-labels-idx1-ubyte", idx({4}, Bytes{9, 8, 7, 6}));
}

}  // namespace

// The error is an InputError, one line, prefixed with the option, naming the file and the cause.
#define CHECK_INPUT_ERROR(expr, path, cause)                                                   \
  do {                                                                                         \
    CHECK_THROWS_AS(expr, cdl::InputError);                                                    \
    CHECK_THROWS_WITH(expr, Catch::StartsWith("--data: idx file ") && Catch::Contains(path) && \
                                Catch::Contains(cause) && !Catch::Contains("\n"));             \
  } while (false)

TEST_CASE("images and labels round trip through plain IDX files") {
  TempDir dir;
  const Bytes pixels = pattern(5 * 4 * 3, 0);
  write_plain(dir / "images", idx({5, 4, 3}, pixels));
  write_plain(dir / "labels", idx({5}, Bytes{3, 1, 4, 1, 5}));
  const IdxImages images = read_idx_images(dir / "images");
  CHECK(images.count == 5);
  CHECK(images.rows == 4);
  CHECK(images.cols == 3);
  CHECK(images.pixels == pixels);
  CHECK(read_idx_labels(dir / "labels") == Bytes{3, 1, 4, 1, 5});
}

TEST_CASE("gzip-compressed IDX files read the same as plain ones") {
  TempDir dir;
  const Bytes pixels = pattern(300 * 28 * 28, 5);  // several zlib buffers' worth
  write_gz(dir / "images.gz", idx({300, 28, 28}, pixels));
  write_gz(dir / "labels.gz", idx({3}, Bytes{7, 0, 255}));
  const IdxImages images = read_idx_images(dir / "images.gz");
  CHECK(images.count == 300);
  CHECK(images.rows == 28);
  CHECK(images.cols == 28);
  CHECK(images.pixels == pixels);
  CHECK(read_idx_labels(dir / "labels.gz") == Bytes{7, 0, 255});
}

TEST_CASE("the dataset is found under plain, .gz and dotted names") {
  for (const bool gz : {false, true}) {
    TempDir dir;
    write_dataset(dir, gz);
    const IdxDataset data = read_idx_dataset(dir.str());
    CHECK(data.train_images.count == 6);
    CHECK(data.train_images.pixels == pattern(36, 1));
    CHECK(data.train_labels == Bytes{0, 1, 2, 3, 4, 5});
    CHECK(data.test_images.count == 4);
    CHECK(data.test_images.rows == 3);
    CHECK(data.test_images.cols == 2);
    CHECK(data.test_labels == Bytes{9, 8, 7, 6});
  }
  TempDir dir;
  write_plain(dir / "train-images.idx3-ubyte", idx({2, 1, 1}, Bytes{1, 2}));
  write_gz(dir / "train-labels.idx1-ubyte.gz", idx({2}, Bytes{0, 1}));
  write_plain(dir / "t10k-images-idx3-ubyte", idx({1, 1, 1}, Bytes{3}));
  write_plain(dir / "t10k-labels.idx1-ubyte", idx({1}, Bytes{2}));
  const IdxDataset data = read_idx_dataset(dir.str());
  CHECK(data.train_images.pixels == Bytes{1, 2});
  CHECK(data.train_labels == Bytes{0, 1});
  CHECK(data.test_labels == Bytes{2});
}

TEST_CASE("a missing file is reported with its name") {
  TempDir dir;
  CHECK_INPUT_ERROR(read_idx_images(dir / "nothing"), dir / "nothing", "not found");
  CHECK_INPUT_ERROR(read_idx_dataset(dir.str()), dir / "train-images-idx3-ubyte", "not found");
  CHECK_THROWS_WITH(read_idx_dataset(dir / "absent"),
                    "--data: idx directory '" + (dir / "absent") + "' not found");
  write_dataset(dir, false);
  fs::remove(dir / "t10k-labels-idx1-ubyte");
  CHECK_INPUT_ERROR(read_idx_dataset(dir.str()), dir / "t10k-labels-idx1-ubyte", "not found");
}

TEST_CASE("a bad magic number or a wrong element type is rejected") {
  TempDir dir;
  write_plain(dir / "text", Bytes{'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '!'});
  CHECK_INPUT_ERROR(read_idx_labels(dir / "text"), dir / "text", "bad magic 0x68656C6C");
  write_plain(dir / "floats", idx({2}, Bytes(8, 0), 0x0D));
  CHECK_INPUT_ERROR(read_idx_labels(dir / "floats"), dir / "floats", "bad magic 0x00000D01");
  write_plain(dir / "type9", idx({1, 1, 1}, Bytes{0}, 0x09));
  CHECK_INPUT_ERROR(read_idx_images(dir / "type9"), dir / "type9",
                    "bad magic 0x00000903 (expected unsigned-byte IDX with 3 dimensions");
}

TEST_CASE("a wrong number of dimensions is rejected") {
  TempDir dir;
  write_plain(dir / "labels", idx({4}, Bytes{0, 1, 2, 3}));
  write_plain(dir / "images", idx({1, 2, 2}, Bytes{0, 1, 2, 3}));
  write_plain(dir / "matrix", idx({2, 2}, Bytes{0, 1, 2, 3}));
  CHECK_INPUT_ERROR(read_idx_images(dir / "labels"), dir / "labels",
                    "bad magic 0x00000801 (expected unsigned-byte IDX with 3 dimensions");
  CHECK_INPUT_ERROR(read_idx_labels(dir / "images"), dir / "images",
                    "bad magic 0x00000803 (expected unsigned-byte IDX with 1 dimensions");
  CHECK_INPUT_ERROR(read_idx_images(dir / "matrix"), dir / "matrix", "bad magic 0x00000802");
}

TEST_CASE("a truncated header is rejected") {
  TempDir dir;
  write_plain(dir / "empty", Bytes{});
  CHECK_INPUT_ERROR(read_idx_labels(dir / "empty"), dir / "empty", "truncated");
  write_plain(dir / "short_magic", Bytes{0, 0, 8});
  CHECK_INPUT_ERROR(read_idx_labels(dir / "short_magic"), dir / "short_magic", "truncated");
  Bytes short_dims = idx({5, 28, 28}, Bytes{});
  short_dims.resize(short_dims.size() - 2);
  write_plain(dir / "short_dims", short_dims);
  CHECK_INPUT_ERROR(read_idx_images(dir / "short_dims"), dir / "short_dims",
                    "truncated (header ends inside the 3 dimensions)");
}

TEST_CASE("truncated data is rejected with the declared and found counts") {
  TempDir dir;
  write_plain(dir / "labels", idx({8000}, Bytes(7999, 1)));
  CHECK_INPUT_ERROR(read_idx_labels(dir / "labels"), dir / "labels",
                    "is truncated (header says 8000 items, found 7999)");
  write_plain(dir / "images", idx({10, 28, 28}, Bytes(9 * 784 + 100, 1)));
  CHECK_INPUT_ERROR(read_idx_images(dir / "images"), dir / "images",
                    "is truncated (header says 10 items, found 9)");
  // A gzip stream cut short is truncated too, whatever it declared.
  write_gz(dir / "full.gz", idx({1000}, pattern(1000, 3)));
  std::ifstream in(dir / "full.gz", std::ios::binary);
  Bytes gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  gz.resize(gz.size() / 2);
  write_plain(dir / "cut.gz", gz);
  CHECK_INPUT_ERROR(read_idx_labels(dir / "cut.gz"), dir / "cut.gz",
                    "is truncated (the gzip stream ends early)");
}

TEST_CASE("a gzip file with corrupt compressed data is rejected") {
  TempDir dir;
  write_gz(dir / "good.gz", idx({4000}, pattern(4000, 1)));
  std::ifstream in(dir / "good.gz", std::ios::binary);
  Bytes gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (std::size_t i = 20; i < gz.size() - 8; i += 3) gz[i] ^= 0x5A;  // scramble the deflate data
  write_plain(dir / "bad.gz", gz);
  CHECK_INPUT_ERROR(read_idx_labels(dir / "bad.gz"), dir / "bad.gz",
                    "is corrupt or unreadable (zlib: ");
}

TEST_CASE("trailing bytes after the declared data are rejected as corrupt") {
  TempDir dir;
  Bytes labels = idx({3}, Bytes{1, 2, 3});
  labels.push_back(0);
  write_plain(dir / "labels", labels);
  CHECK_INPUT_ERROR(read_idx_labels(dir / "labels"), dir / "labels", "corrupt (trailing bytes");
  Bytes images = idx({1, 2, 2}, Bytes{1, 2, 3, 4});
  images.insert(images.end(), {5, 6, 7});
  write_gz(dir / "images.gz", images);
  CHECK_INPUT_ERROR(read_idx_images(dir / "images.gz"), dir / "images.gz", "trailing bytes");
}

TEST_CASE("zero-sized and absurd dimensions are rejected before allocating") {
  TempDir dir;
  write_plain(dir / "zero", idx({3, 0, 28}, Bytes{}));
  CHECK_INPUT_ERROR(read_idx_images(dir / "zero"), dir / "zero", "zero-sized dimension");
  write_plain(dir / "no_labels", idx({0}, Bytes{}));
  CHECK_INPUT_ERROR(read_idx_labels(dir / "no_labels"), dir / "no_labels", "zero-sized");
  // 2^32-1 cubed overflows 64 bits; 2^16 * 2^16 * 2 is just over 2^31 bytes.
  write_plain(dir / "huge", idx({0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, Bytes{1, 2, 3}));
  CHECK_INPUT_ERROR(read_idx_images(dir / "huge"), dir / "huge", "absurd dimensions");
  write_plain(dir / "big", idx({2, 65536, 65536}, Bytes{1}));
  CHECK_INPUT_ERROR(read_idx_images(dir / "big"), dir / "big", "absurd dimensions");
}

TEST_CASE("the dataset rejects label counts that differ from image counts") {
  TempDir dir;
  write_dataset(dir, false);
  write_plain(dir / "train-labels-idx1-ubyte", idx({7}, Bytes(7, 0)));
  CHECK_INPUT_ERROR(read_idx_dataset(dir.str()), dir / "train-labels-idx1-ubyte",
                    "has 7 labels but '" + (dir / "train-images-idx3-ubyte") + "' has 6 images");
  write_dataset(dir, false);
  write_plain(dir / "t10k-labels-idx1-ubyte", idx({3}, Bytes(3, 0)));
  CHECK_INPUT_ERROR(read_idx_dataset(dir.str()), dir / "t10k-labels-idx1-ubyte",
                    "has 3 labels but");
}

TEST_CASE("the dataset rejects test images of another size than the training images") {
  TempDir dir;
  write_dataset(dir, false);
  write_plain(dir / "t10k-images-idx3-ubyte", idx({4, 2, 3}, pattern(24, 2)));
  CHECK_INPUT_ERROR(read_idx_dataset(dir.str()), dir / "t10k-images-idx3-ubyte",
                    "has 2x3 images but '" + (dir / "train-images-idx3-ubyte") + "' has 3x2");
}
