// The one reader of sweep files (`cdl theory`, `cdl micro`, their shards and merges): info,
// analyze, merge and --resume open them here. A file's layout is checked against the layout
// its own `config` produces, built in memory by the writer itself, so that reader and writer
// cannot disagree: every dataset present with that shape and type class, the coordinates
// equal, an `owned` mask of the status's shape, status values inside the flag table.
// Anything else is cdl::InputError (exit code 2) naming the file and the dataset.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "h5/hdf5.hpp"

namespace cdl::sim {

struct SweepFileReader {
  h5::File file;
  std::string subcommand;  // "theory" or "micro"
  std::string config, version;
  long long shard_index = 0, shard_count = 1;
  std::vector<std::string> protocols;  // the protocol groups, each checked
};

// Opens `path` read-only and checks it; `refuse(why)` throws cdl::InputError with the message
// the command words (it must not return).
SweepFileReader open_sweep_file(const std::string& path,
                                const std::function<void(const std::string&)>& refuse);
// The same, refusing as the value of `option` ("--option: invalid value 'path' (why)").
SweepFileReader open_sweep_file(const std::string& path, const std::string& option);

// Whether `path` is a readable cdl stationary file (no sweep: the user meant --theory).
bool is_stationary_file(const std::string& path);

}  // namespace cdl::sim
