// The HDF5 file of a sweep (`cdl theory`, `cdl micro`), laid out per the public contract
// (docs/design.md): provenance attributes and quenched inputs [depth, run, unit] at the root, one
// self-contained group per protocol whose datasets share the dimension scales depth, run,
// sigma, time (and unit, horizon), chunked one chain per chunk and written item by item.
//
// Crash safety: the datasets are uncompressed with every chunk allocated at creation, so once
// the layout is sealed, writing results changes raw data in place and never the file's
// metadata. A process killed at any moment leaves a readable file holding every point whose
// status was written. A realization's quenched inputs are final once any of its points is;
// before that a kill may leave its row torn (the kernel stops a write at a page boundary when
// SIGKILL arrives), and resumption writes it again.
//
// A command declares its datasets by name and shape; the file then takes one chain's slice
// of each. `status` exists in every protocol group and is written last, so that a point reads
// as done only once all its data are on disk.
#pragma once

#include <map>
#include <span>
#include <string>
#include <vector>

#include "h5/hdf5.hpp"
#include "io/point_table.hpp"
#include "sweep/grid.hpp"
#include "sweep/work.hpp"

namespace cdl::io {

// What every cdl output file records about how it was made.
struct Provenance {
  std::string command;     // the command line as typed
  std::string config_ini;  // the full resolved configuration, enough to rerun
};

// Writes cdl_version, command, config and created on the root group.
void write_provenance(const h5::Group& root, const Provenance& provenance);

// The grid shared by every dataset of a sweep file.
struct SweepAxes {
  std::vector<int> depths;
  int runs = 1;
  int units = 1;
  std::vector<double> sigma;
  std::vector<double> time;  // the trace sample times
  std::vector<sweep::Protocol> protocols;
  std::string time_long_name = "time t";
  std::vector<double> horizon;  // the observation horizons, on the time axis's samples
  std::string horizon_long_name = "observation horizon";
};

// Per-protocol dataset shapes; every one starts with [depth, run, sigma].
enum class Shape {
  summary,    // [depth, run, sigma]
  trace,      // [depth, run, sigma, time]
  unit,       // [depth, run, sigma, unit]
  unit_pair,  // [depth, run, sigma, unit, unit_j]
  horizon,    // [depth, run, sigma, horizon]
};

class SweepFile {
 public:
  // Lays out the new, empty `file` with the provenance, the scales and a `status` dataset
  // (all not_run) in every protocol group.
  SweepFile(h5::File file, const SweepAxes& axes, const Provenance& provenance,
            const std::string& subcommand);
  // Reopens a sealed file for writing (resuming); throws cdl::RuntimeError if it cannot.
  SweepFile(const std::string& path, const SweepAxes& axes);
  // Records which points this shard owns: root attributes shard_index and shard_count, and,
  // when there are several shards, `owned` [depth, run, sigma] (1: this shard's) per protocol.
  void mark_shard(const std::vector<sweep::WorkItem>& items, const std::vector<int>& shard_of,
                  const sweep::Shard& shard);
  // Marks the layout complete (after every dataset is declared) and flushes.
  void seal();
  static bool is_sealed(const h5::Group& root);

  const h5::Group& root() const { return root_; }
  const h5::Group& group(int protocol) const { return groups_[protocol].group; }
  // A quenched input [depth, run, unit] at the root, NaN until written.
  h5::Dataset& add_quenched(const std::string& name, const std::string& long_name);
  // A quenched table [depth, run, unit, class] at the root (each unit's label counts), with a
  // root `class` scale 0..classes−1; NaN until written (by write_quenched, unit-major).
  h5::Dataset& add_quenched_per_class(const std::string& name, const std::string& long_name,
                                      int classes);
  // A per-realization result [depth, run] at the root, NaN until written.
  h5::Dataset& add_per_run(const std::string& name, const std::string& long_name);
  // A dataset of `shape` in every protocol group (fill: NaN for doubles, 0 for integers).
  template <class T>
  void add(const std::string& name, Shape shape, const std::string& long_name);
  // A table of point statuses (sweep/status.hpp, with CF flag_values and flag_meanings) of
  // `shape` in every protocol group, all not_run.
  void add_status(const std::string& name, Shape shape, const std::string& long_name);
  // A 1-D dataset along `time` in every protocol group (e.g. the step of each sample).
  template <class T>
  void add_time_coordinate(const std::string& name, std::span<const T> values,
                           const std::string& long_name);

  // Root data of one (depth, realization).
  void write_quenched(const std::string& name, int depth_index, int run,
                      std::span<const double> values);
  void write_per_run(const std::string& name, int depth_index, int run, double value);
  // The points `sigma` of one chain: `values` holds the chain's whole slice (every σ, then the
  // trailing dimensions, row-major); only the listed σ are written.
  template <class T>
  void write(int protocol, const std::string& name, int depth_index, int run,
             std::span<const int> sigma, std::span<const T> values);
  // Writes the points' status and flushes: the last write of a work item.
  void finish_points(int protocol, int depth_index, int run, std::span<const int> sigma,
                     std::span<const std::int8_t> status);
  // A protocol group's status [depth, run, sigma], row-major.
  PointTable<std::int8_t> read_status(int protocol) const;
  void close() { file_.close(); }
  // The underlying file, taken out of this object (e.g. a layout built in memory).
  h5::File release() && { return std::move(file_); }

 private:
  struct ProtocolGroup {
    h5::Group group;
    h5::Dataset depth, run, sigma, time;
    h5::Dataset unit, unit_j;  // created with the first per-unit / unit-pair dataset
    h5::Dataset horizon;       // created with the first per-horizon dataset
    std::map<std::string, h5::Dataset> datasets;
  };
  h5::Dims dims(Shape shape) const;
  // add() with `fill` (converted to T) where nothing was written.
  template <class T>
  void add_filled(const std::string& name, Shape shape, const std::string& long_name, double fill);
  const h5::Dataset& dataset(int protocol, const std::string& name) const;
  SweepAxes axes_;
  h5::File file_;
  h5::Group root_;
  h5::Dataset root_depth_, root_run_, root_unit_, root_class_;
  std::map<std::string, h5::Dataset> quenched_;
  std::vector<ProtocolGroup> groups_;
};

}  // namespace cdl::io
