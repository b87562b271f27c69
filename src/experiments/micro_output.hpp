// The HDF5 file of a `cdl micro` sweep: the shared sweep layout (io/sweep_file.hpp) with the
// microscopic observables.
#pragma once

#include <string>
#include <vector>

#include "experiments/micro_sweep.hpp"
#include "experiments/point_datasets.hpp"
#include "experiments/vocabulary.hpp"

namespace cdl::experiments {

class MicroFileWriter {
 public:
  // Creates the file (truncating) with every dataset allocated and status = not_run.
  MicroFileWriter(const std::string& path, const MicroSweep& sweep, const Provenance& provenance);
  // Lays out the new, empty `file` the same way (h5::File::create_in_memory: a reference
  // layout to validate files with).
  MicroFileWriter(h5::File file, const MicroSweep& sweep, const Provenance& provenance);
  // Reopens an interrupted file (--resume).
  MicroFileWriter(const std::string& path, const MicroSweep& sweep);
  // Writes one completed work item and flushes, so finished work survives an interruption.
  void write(const MicroChainResult& result, const sweep::WorkItem& item);
  SweepFile& file() { return file_; }
  void close() { file_.close(); }

 private:
  std::vector<PointDataset<MicroChainResult>> datasets_;  // this sweep's, in the table's order
  SweepFile file_;
};

}  // namespace cdl::experiments
