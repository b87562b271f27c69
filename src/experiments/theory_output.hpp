// The HDF5 file of a `cdl theory` sweep: the shared sweep layout (io/sweep_file.hpp) with the
// effective theory's observables.
#pragma once

#include <string>
#include <vector>

#include "experiments/point_datasets.hpp"
#include "experiments/theory_sweep.hpp"
#include "experiments/vocabulary.hpp"

namespace cdl::experiments {

class TheoryFileWriter {
 public:
  // Creates the file (truncating) with every dataset allocated and status = not_run.
  TheoryFileWriter(const std::string& path, const TheorySweep& sweep, const Provenance& provenance);
  // Lays out the new, empty `file` the same way (h5::File::create_in_memory: a reference
  // layout to validate files with).
  TheoryFileWriter(h5::File file, const TheorySweep& sweep, const Provenance& provenance);
  // Reopens an interrupted file (--resume).
  TheoryFileWriter(const std::string& path, const TheorySweep& sweep);
  // Writes one completed work item and flushes, so finished work survives an interruption.
  void write(const TheoryChainResult& result, const sweep::WorkItem& item);
  SweepFile& file() { return file_; }
  void close() { file_.close(); }

 private:
  const TheorySweep& sweep_;
  std::vector<PointDataset<TheoryChainResult>> datasets_;  // this sweep's, in the table's order
  SweepFile file_;
};

}  // namespace cdl::experiments
