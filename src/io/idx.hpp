// Reader of the IDX format of the MNIST files (http://yann.lecun.com/exdb/mnist/): two zero
// bytes, the element type (only 0x08 = unsigned byte here), the number of dimensions, the
// dimensions as big-endian uint32, then the elements in row-major order. Plain and
// gzip-compressed files are read alike. Every failure throws cdl::InputError with one line
// naming the file and the cause, prefixed by "--data: ", the option that names the directory.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cdl::io {

struct IdxImages {
  int count = 0, rows = 0, cols = 0;
  std::vector<std::uint8_t> pixels;  // row-major, image after image: count * rows * cols
};

// Needs type 0x08 and 3 dimensions (count, rows, cols).
IdxImages read_idx_images(const std::string& path);
// Needs type 0x08 and 1 dimension.
std::vector<std::uint8_t> read_idx_labels(const std::string& path);

struct IdxDataset {
  IdxImages train_images, test_images;
  std::vector<std::uint8_t> train_labels, test_labels;
};

// Reads the four standard files of `dir`: train-images-idx3-ubyte, train-labels-idx1-ubyte,
// t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte. Each may also be named with a dot before
// "idx" (train-images.idx3-ubyte) and may carry ".gz"; the first existing of name, name.gz,
// dotted, dotted.gz is used. Checks that each label file matches its image count and that
// training and test images have the same size.
IdxDataset read_idx_dataset(const std::string& dir);

}  // namespace cdl::io
