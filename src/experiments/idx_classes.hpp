// A classes task read from IDX files (`--data idx:DIR`): the images sorted by class, as
// floats in [0, 1] and as bytes for the minibatch gather, with each unit's samples.
#pragma once

#include <memory>

#include "micro/task.hpp"

namespace cdl::experiments {

// Reads `spec.data.dir` once, converting on `threads` threads; every realization shares it.
// Throws InputError naming the file or --data.
template <class S>
std::shared_ptr<const micro::TaskData<S>> load_idx_classes(const micro::TaskSpec& spec,
                                                           int threads);

}  // namespace cdl::experiments
