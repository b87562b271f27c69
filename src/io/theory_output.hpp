// The HDF5 file of a `cdl theory` sweep: the shared sweep layout (io/sweep_file.hpp) with the
// effective theory's observables.
#pragma once

#include <string>

#include "io/sweep_file.hpp"
#include "sweep/theory_sweep.hpp"

namespace cdl::io {

class TheoryFileWriter {
 public:
  // Creates the file (truncating) with every dataset allocated and status = not_run.
  TheoryFileWriter(const std::string& path, const sweep::TheorySweep& sweep,
                   const Provenance& provenance);
  // Writes one completed chain and flushes, so finished work survives an interruption.
  void write(const sweep::TheoryChainResult& result);
  void close() { file_.close(); }

 private:
  const sweep::TheorySweep& sweep_;
  SweepFile file_;
};

}  // namespace cdl::io
