// The wall-time estimate `cdl theory --dry-run` and `cdl micro --dry-run` print, from which a
// cluster job's --time is set: a work model per work item, calibrated by a short probe measured
// on this machine, summed over the items of every shard as the driver will run them.
#pragma once

#include <string>
#include <vector>

#include "experiments/micro_sweep.hpp"
#include "experiments/theory_sweep.hpp"

namespace cdl::sim {

struct RunTimeEstimate {
  struct Shard {
    long items = 0;
    long points = 0;
    double seconds = 0;
  };
  std::vector<Shard> shards;  // one per shard (a single one without sharding)
  int threads = 1;
  bool measured = false;     // calibrated by a probe on this machine; else a rough formula
  double probe_seconds = 0;  // the probe's own wall time
  std::string basis;         // what the estimate rests on, for the output
  double trials = 0;         // theory: integrator steps (accepted and rejected) of the sweep
};

// `split`: whether non-adiabatic chains are split into single points, as run_theory decides;
// `memory_bytes`: the memory the run will touch (the dry run's estimate).
RunTimeEstimate estimate_theory_run_time(const experiments::TheorySweep& sweep, int threads,
                                         int shard_count, bool split, double memory_bytes);
// `images`: the IDX data already read (empty for synthetic data).
RunTimeEstimate estimate_micro_run_time(const experiments::MicroSweep& sweep, int threads,
                                        int shard_count, const experiments::IdxTaskData& images,
                                        double memory_bytes);

// The estimate's lines: the total, or one line per shard and the largest; a suggested --time.
void print_run_time(const RunTimeEstimate& estimate);

// A suggested SLURM time limit for a task estimated at `seconds`: × 1.5 plus 5 minutes for
// start-up and writes, rounded up to whole minutes.
double suggested_time_limit(double seconds);
// `seconds` as SLURM's --time value, rounded up to whole minutes: HH:MM:SS, or D-HH:MM:SS
// from one day on.
std::string slurm_time(double seconds);

}  // namespace cdl::sim
