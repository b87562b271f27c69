// Reader of the binary version of CIFAR-10 (https://www.cs.toronto.edu/~kriz/cifar.html):
// data_batch_1.bin … data_batch_5.bin (training) and test_batch.bin, each a sequence of
// 3073-byte records: the label (0–9), then 3072 pixels, 1024 red, 1024 green and 1024 blue
// values of the 32 × 32 image in row-major order (10 000 records per file in the official
// set; any whole number of records is read). Every failure throws cdl::InputError with one
// line naming the file and the cause, prefixed by "--data: ".
#pragma once

#include <string>

#include "io/idx.hpp"

namespace cdl::io {

inline constexpr int cifar_pixels = 3072;  // 3 channels × 32 × 32
inline constexpr int cifar_classes = 10;

// The six files of `dir` as images of 1 × 3072 bytes (the channel-major record order) and
// their labels.
IdxDataset read_cifar_dataset(const std::string& dir);

}  // namespace cdl::io
