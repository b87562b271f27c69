// Sweep files as the commands open them: the validating reader of src/io checking a file
// against the layout its own config produces (theory_layout, micro_layout).
#pragma once

#include <string>
#include <vector>

#include "io/sweep_reader.hpp"
#include "sweep/status.hpp"

namespace cdl::sim {

// Opens and checks `path`; `refuse(why)` throws cdl::InputError with the message the command
// words (it must not return).
io::SweepReader open_sweep_file(const std::string& path, const io::Refuse& refuse);
// The same, refusing as the value of `option` ("--option: invalid value 'path' (why)").
io::SweepReader open_sweep_file(const std::string& path, const std::string& option);

// A protocol's points by status, counting only those the file's shard owns: a shard's
// summary never counts another shard's points as failed or missing.
struct PointCounts {
  std::vector<long> by_status = std::vector<long>(sweep::point_status_names.size(), 0);
  long other_shards = 0;  // points other shards compute

  long done() const { return by_status[0]; }
  long missing() const { return by_status[1]; }  // owned, not computed yet
  long failed() const;                           // every status from diverged on
  long owned() const { return done() + missing() + failed(); }
  PointCounts& operator+=(const PointCounts& other);
  // "3 diverged, 1 chain_broken": the failed points by reason ("" when none).
  std::string failure_reasons() const;
};
PointCounts count_points(const io::SweepReader& reader, const std::string& protocol);
// "40 done, 2 failed (2 diverged); 120 are other shards' points (this is shard 1 of 4)".
std::string count_text(const PointCounts& counts, const io::SweepReader& reader);

}  // namespace cdl::sim
