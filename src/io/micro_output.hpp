// The HDF5 file of a `cdl micro` sweep: the shared sweep layout (io/sweep_file.hpp) with the
// microscopic observables.
#pragma once

#include <string>

#include "io/sweep_file.hpp"
#include "sweep/micro_sweep.hpp"

namespace cdl::io {

class MicroFileWriter {
 public:
  // Creates the file (truncating) with every dataset allocated and status = not_run.
  MicroFileWriter(const std::string& path, const sweep::MicroSweep& sweep,
                  const Provenance& provenance);
  // Writes one completed chain and flushes, so finished work survives an interruption.
  void write(const sweep::MicroChainResult& result);
  void close() { file_.close(); }

 private:
  SweepFile file_;
};

}  // namespace cdl::io
