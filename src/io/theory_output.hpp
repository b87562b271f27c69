// The HDF5 file of a `cdl theory` sweep, laid out per the public contract (DESIGN.md):
// root attributes and quenched inputs, one self-contained group per protocol with dimension
// scales, chunked and compressed datasets written chain by chain as they complete.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "io/hdf5.hpp"
#include "sweep/theory_sweep.hpp"

namespace cdl::io {

// What every cdl output file records about how it was made.
struct Provenance {
  std::string command;     // the command line as typed
  std::string config_ini;  // the full resolved configuration, enough to rerun
};

// Writes cdl_version, command, config and created on the root group.
void write_provenance(const h5::Group& root, const Provenance& provenance);

class TheoryFileWriter {
 public:
  // Creates the file (truncating) with every dataset allocated and status = not_run.
  TheoryFileWriter(const std::string& path, const sweep::TheorySweep& sweep,
                   const Provenance& provenance);
  // Writes one completed chain and flushes, so finished work survives an interruption.
  void write(const sweep::TheoryChainResult& result);
  void close() { file_.close(); }

 private:
  struct ProtocolDatasets {
    h5::Group group;
    h5::Dataset order_parameter, loss, status, steps, m, loss_trace;
    std::optional<h5::Dataset> final_state;  // only when final states are saved
    // --units inf only: error estimates and the separatrix per disorder node.
    std::optional<h5::Dataset> order_parameter_error, loss_error, separatrix;
  };
  const sweep::TheorySweep& sweep_;
  h5::File file_;
  h5::Dataset disorder_, initial_state_;
  std::optional<h5::Dataset> weight_;  // --units inf: the disorder quadrature weights
  std::vector<ProtocolDatasets> protocols_;
};

}  // namespace cdl::io
