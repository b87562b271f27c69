// Sweep files as the commands open them: the validating reader of src/io checking a file
// against the layout its own config produces (theory_layout, micro_layout).
#pragma once

#include <string>

#include "io/sweep_reader.hpp"

namespace cdl::sim {

// Opens and checks `path`; `refuse(why)` throws cdl::InputError with the message the command
// words (it must not return).
io::SweepReader open_sweep_file(const std::string& path, const io::Refuse& refuse);
// The same, refusing as the value of `option` ("--option: invalid value 'path' (why)").
io::SweepReader open_sweep_file(const std::string& path, const std::string& option);

}  // namespace cdl::sim
