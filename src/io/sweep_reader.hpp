// The one reader of sweep files (`cdl theory`, `cdl micro`, their shards and merges): info,
// analyze, merge, --resume and the summaries open them here. A file's layout is checked against
// the layout its own `config` produces, built in memory by the writer itself (the caller's
// `LayoutOf`), so that reader and writer cannot disagree: every dataset present with that shape
// and type class, the coordinates equal, an `owned` mask of the status's shape, status values
// inside the flag table. Anything else is refused through the caller's `Refuse`, which names
// the file and the dataset and throws cdl::InputError.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "h5/hdf5.hpp"
#include "io/point_table.hpp"

namespace cdl::io {

// The sealed layout a configuration produces, in a new in-memory file; throws cdl::InputError
// if `config` is not a valid configuration of `subcommand` ("theory" or "micro").
using LayoutOf = std::function<h5::File(const std::string& subcommand, const std::string& config)>;
// Throws cdl::InputError with the caller's wording of `why`; must not return.
using Refuse = std::function<void(const std::string& why)>;

class SweepReader {
 public:
  // Opens `path` read-only and checks it against `layout_of` its config.
  static SweepReader open(const std::string& path, const LayoutOf& layout_of, const Refuse& refuse);

  const h5::File& file() const { return file_; }
  const std::string& subcommand() const { return subcommand_; }  // "theory" or "micro"
  const std::string& config() const { return config_; }
  const std::string& version() const { return version_; }
  long long shard_index() const { return shard_index_; }
  long long shard_count() const { return shard_count_; }
  const std::vector<std::string>& protocols() const { return protocols_; }
  const std::vector<std::int32_t>& depths() const { return depths_; }
  std::size_t runs() const { return runs_; }
  // Units of a finite ensemble; 0 for the N → ∞ population.
  std::size_t units() const { return units_; }

  std::vector<double> sigma(const std::string& protocol) const;
  // A [depth, run, sigma] dataset of `protocol` (status, a summary observable, `owned`).
  template <class T>
  PointTable<T> points(const std::string& protocol, const std::string& name) const;
  // The protocol's `owned` mask of a shard; every point for a file that is no shard.
  PointTable<std::int8_t> owned(const std::string& protocol) const;
  // The observation horizons of `protocol` (its `horizon` coordinate).
  std::vector<double> horizons(const std::string& protocol) const;
  // A [depth, run, sigma, horizon] dataset of `protocol`, one table per horizon (read once).
  std::vector<PointTable<double>> horizon_points(const std::string& protocol,
                                                 const std::string& name) const;
  // A [depth, run] dataset at the root (e.g. all_data_accuracy).
  std::vector<double> per_run(const std::string& name) const;

 private:
  h5::File file_;
  std::string subcommand_, config_, version_;
  long long shard_index_ = 0, shard_count_ = 1;
  std::vector<std::string> protocols_;
  std::vector<std::int32_t> depths_;
  std::size_t runs_ = 0, units_ = 0;
};

// Whether `path` is a readable cdl stationary file (no sweep: the user meant --theory).
bool is_stationary_file(const std::string& path);

// Whether `path` exists but is not a regular file (a directory, FIFO, device or socket): such a
// file is never opened as HDF5 (a FIFO would block the open forever).
bool is_special_file(const std::string& path);

}  // namespace cdl::io
