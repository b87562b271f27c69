// The HDF5 file of a `cdl micro` sweep: the shared sweep layout (io/sweep_file.hpp) with the
// microscopic observables.
#pragma once

#include <string>

#include "experiments/micro_sweep.hpp"
#include "io/sweep_file.hpp"
#include "sweep/work.hpp"

namespace cdl::experiments {

class MicroFileWriter {
 public:
  // Creates the file (truncating) with every dataset allocated and status = not_run.
  MicroFileWriter(const std::string& path, const MicroSweep& sweep,
                  const io::Provenance& provenance);
  // Lays out the new, empty `file` the same way (h5::File::create_in_memory: a reference
  // layout to validate files with).
  MicroFileWriter(h5::File file, const MicroSweep& sweep, const io::Provenance& provenance);
  // Reopens an interrupted file (--resume).
  MicroFileWriter(const std::string& path, const MicroSweep& sweep);
  // Writes one completed work item and flushes, so finished work survives an interruption.
  void write(const MicroChainResult& result, const sweep::WorkItem& item);
  io::SweepFile& file() { return file_; }
  void close() { file_.close(); }

 private:
  io::SweepFile file_;
};

}  // namespace cdl::experiments
