#include "io/idx.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <utility>

#include "base/errors.hpp"

namespace cdl::io {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& cause) {
  throw InputError("--data: idx file '" + path + "' " + cause);
}

std::string hex32(std::uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08X", static_cast<unsigned>(value));
  return text;
}

struct GzCloser {
  void operator()(gzFile_s* file) const { gzclose(file); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

// Reads up to n bytes into out; fewer only at the end of the file. gzread passes plain files
// through unchanged, so this serves both kinds.
std::size_t read_bytes(gzFile file, const std::string& path, std::uint8_t* out, std::size_t n) {
  std::size_t done = 0;
  while (done < n) {
    // gzread takes an unsigned count and returns an int: stay well below INT_MAX per call.
    const auto chunk = static_cast<unsigned>(std::min<std::size_t>(n - done, 1u << 30));
    const int got = gzread(file, out + done, chunk);
    if (got <= 0) break;
    done += static_cast<std::size_t>(got);
  }
  int error = Z_OK;
  std::string message = gzerror(file, &error);
  if (error == Z_OK) return done;
  // zlib prefixes its message with the path, which the caller's message already names.
  if (message.starts_with(path + ": ")) message.erase(0, path.size() + 2);
  if (error == Z_BUF_ERROR) fail(path, "is truncated (the gzip stream ends early)");
  fail(path, "is corrupt or unreadable (zlib: " + message + ")");
}

struct IdxArray {
  std::vector<std::uint32_t> dims;
  std::vector<std::uint8_t> data;
};

// Reads an unsigned-byte IDX file with exactly `want_dims` dimensions, all of it.
IdxArray read_idx(const std::string& path, int want_dims) {
  // zlib would report a missing file only as a bare errno; say it plainly.
  std::error_code ignored;
  if (!std::filesystem::exists(path, ignored)) fail(path, "not found");
  if (std::filesystem::is_directory(path, ignored)) fail(path, "is a directory");
  // Opened without blocking and checked on the descriptor that is read: gzopen would wait
  // forever on a FIFO without a writer, deaf to SIGINT and SIGTERM.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) fail(path, std::string("cannot be opened (") + std::strerror(errno) + ")");
  struct stat status {};
  if (::fstat(fd, &status) != 0 || !S_ISREG(status.st_mode)) {
    ::close(fd);
    fail(path, "is not a regular file (a FIFO, device or socket)");
  }
  GzFile file(gzdopen(fd, "rb"));  // owns fd from here
  if (!file) {
    ::close(fd);
    fail(path, "cannot be opened (out of memory)");
  }
  gzbuffer(file.get(), 1 << 17);

  std::array<std::uint8_t, 4> magic{};
  if (read_bytes(file.get(), path, magic.data(), 4) < 4)
    fail(path, "is truncated (no 4-byte magic number)");
  const std::uint32_t magic_value = (std::uint32_t{magic[0]} << 24) | (magic[1] << 16) |
                                    (magic[2] << 8) | std::uint32_t{magic[3]};
  const std::string expected = "(expected unsigned-byte IDX with " + std::to_string(want_dims) +
                               " dimensions, " + hex32(0x800u + static_cast<unsigned>(want_dims)) +
                               ")";
  if (magic[0] != 0 || magic[1] != 0 || magic[2] != 0x08 || magic[3] != want_dims)
    fail(path, "has bad magic " + hex32(magic_value) + " " + expected);

  IdxArray array;
  std::vector<std::uint8_t> header(4 * static_cast<std::size_t>(want_dims));
  if (read_bytes(file.get(), path, header.data(), header.size()) < header.size())
    fail(path,
         "is truncated (header ends inside the " + std::to_string(want_dims) + " dimensions)");
  // Multiply with a bound at every step: the product of 32-bit dims can overflow 64 bits.
  constexpr std::uint64_t kMaxBytes = std::numeric_limits<std::int32_t>::max();
  std::uint64_t bytes = 1;
  for (int d = 0; d < want_dims; ++d) {
    const std::uint8_t* b = &header[4 * static_cast<std::size_t>(d)];
    const std::uint32_t dim = (std::uint32_t{b[0]} << 24) | (b[1] << 16) | (b[2] << 8) | b[3];
    if (dim == 0) fail(path, "has a zero-sized dimension (dimension " + std::to_string(d) + ")");
    bytes *= dim;
    if (bytes > kMaxBytes) fail(path, "has absurd dimensions (more than 2^31 bytes of data)");
    array.dims.push_back(dim);
  }

  // Grow while reading, so that a short file with a huge header does not allocate it all.
  constexpr std::size_t kChunk = std::size_t{1} << 24;
  std::size_t done = 0;
  while (done < bytes) {
    const std::size_t want = std::min<std::size_t>(bytes - done, kChunk);
    array.data.resize(done + want);
    const std::size_t got = read_bytes(file.get(), path, array.data.data() + done, want);
    done += got;
    if (got < want) {
      const std::uint64_t item = bytes / array.dims[0];
      fail(path, "is truncated (header says " + std::to_string(array.dims[0]) + " items, found " +
                     std::to_string(done / item) + ")");
    }
  }
  std::uint8_t extra = 0;
  if (read_bytes(file.get(), path, &extra, 1) != 0)
    fail(path, "is corrupt (trailing bytes after the " + std::to_string(array.dims[0]) +
                   " items the header declares)");
  return array;
}

// The first existing of name, name.gz, dotted, dotted.gz in dir (dotted: "-idx" -> ".idx").
std::string find_file(const std::string& dir, const std::string& name) {
  std::string dotted = name;
  dotted[dotted.find("-idx")] = '.';
  const std::filesystem::path base(dir);
  for (const std::string& candidate : {name, name + ".gz", dotted, dotted + ".gz"}) {
    std::error_code ignored;
    const std::string path = (base / candidate).string();
    if (std::filesystem::exists(path, ignored)) return path;
  }
  fail((base / name).string(), "not found (nor with .gz, nor as '" + dotted + "[.gz]')");
}

std::string shape(const IdxImages& images) {
  return std::to_string(images.rows) + "x" + std::to_string(images.cols);
}

}  // namespace

IdxImages read_idx_images(const std::string& path) {
  IdxArray array = read_idx(path, 3);
  IdxImages images;
  // read_idx bounds the product by 2^31 - 1, so every dimension fits an int.
  images.count = static_cast<int>(array.dims[0]);
  images.rows = static_cast<int>(array.dims[1]);
  images.cols = static_cast<int>(array.dims[2]);
  images.pixels = std::move(array.data);
  return images;
}

std::vector<std::uint8_t> read_idx_labels(const std::string& path) {
  return read_idx(path, 1).data;
}

IdxDataset read_idx_dataset(const std::string& dir) {
  std::error_code ignored;
  if (!std::filesystem::is_directory(dir, ignored))
    throw InputError("--data: idx directory '" + dir + "' not found");
  const std::string train_images = find_file(dir, "train-images-idx3-ubyte");
  const std::string train_labels = find_file(dir, "train-labels-idx1-ubyte");
  const std::string test_images = find_file(dir, "t10k-images-idx3-ubyte");
  const std::string test_labels = find_file(dir, "t10k-labels-idx1-ubyte");
  IdxDataset data;
  data.train_images = read_idx_images(train_images);
  data.train_labels = read_idx_labels(train_labels);
  data.test_images = read_idx_images(test_images);
  data.test_labels = read_idx_labels(test_labels);

  const auto check_count = [](const std::string& labels_path, std::size_t labels,
                              const std::string& images_path, int images) {
    if (labels != static_cast<std::size_t>(images))
      fail(labels_path, "has " + std::to_string(labels) + " labels but '" + images_path + "' has " +
                            std::to_string(images) + " images");
  };
  check_count(train_labels, data.train_labels.size(), train_images, data.train_images.count);
  check_count(test_labels, data.test_labels.size(), test_images, data.test_images.count);
  if (data.test_images.rows != data.train_images.rows ||
      data.test_images.cols != data.train_images.cols)
    fail(test_images, "has " + shape(data.test_images) + " images but '" + train_images + "' has " +
                          shape(data.train_images));
  return data;
}

}  // namespace cdl::io
