#include "sweep_job.hpp"

#include <filesystem>

#include "base/errors.hpp"
#include "h5/hdf5.hpp"
#include "open_sweep.hpp"
#include "output_lock.hpp"
#include "sweep/status.hpp"

namespace cdl::sim {

po::options_description job_options() {
  po::options_description options("cluster options");
  // clang-format off
  options.add_options()
      ("task-index", po::value<std::string>(),
       "this shard's index I in 0..K-1 (default: $SLURM_ARRAY_TASK_ID - $SLURM_ARRAY_TASK_MIN)")
      ("task-count", po::value<std::string>(),
       "number of shards K (default: $SLURM_ARRAY_TASK_COUNT, else 1); with K > 1 the output "
       "is OUTPUT with .shard-I-of-K before its extension")
      ("resume", po::bool_switch(),
       "continue an interrupted run from OUTPUT.part, computing only the missing points");
  // clang-format on
  return options;
}

Job read_job(const po::variables_map& values) {
  Job job;
  job.shard = sweep::resolve_shard(values.count("task-index") ? text(values, "task-index") : "",
                                   values.count("task-count") ? text(values, "task-count") : "",
                                   values.count("task-index") > 0, values.count("task-count") > 0);
  job.resume = values["resume"].as<bool>();
  job.overwrite = values["overwrite"].as<bool>();
  if (job.resume && job.overwrite)
    base::reject("resume", "true", "--resume continues a file, --overwrite replaces it: pick one");
  job.quiet = values["quiet"].as<bool>();
  job.threads = thread_count(values);
  job.output = sweep::shard_output(text(values, "output"), job.shard);
  return job;
}

void check_resumable(const std::string& partial, const io::Provenance& provenance,
                     const sweep::Shard& shard) {
  // A file that cannot be read is refused, never removed: it may hold finished points.
  const auto refuse = [&](const std::string& why) {
    base::reject("resume", partial,
                 "cannot be resumed: " + why + "; move it aside, or start afresh with --overwrite");
  };
  const io::SweepReader reader = open_sweep_file(partial, refuse);
  if (reader.version() != CDL_VERSION)
    refuse("written by cdl " + reader.version() + ", this is " + CDL_VERSION);
  if (reader.config() != provenance.config_ini)
    refuse("written by a different configuration (see its config)");
  if (reader.shard_index() != shard.index || reader.shard_count() != shard.count)
    refuse("written as shard " + std::to_string(reader.shard_index()) + " of " +
           std::to_string(reader.shard_count()));
}

void check_job_output(const Job& job, const io::Provenance& provenance) {
  OutputLock::check_free(job.output, "output");
  std::error_code error;
  const std::string partial = job.output + ".part";
  if (job.resume && std::filesystem::exists(partial, error))
    check_resumable(partial, provenance, job.shard);
  else if (job.resume && std::filesystem::exists(job.output, error))
    check_resumable(job.output, provenance, job.shard);
  else
    check_output(job.output, job.overwrite);
}

std::vector<sweep::WorkItem> items_to_run(const std::vector<sweep::WorkItem>& items,
                                          const std::vector<int>& shard_of, int shard,
                                          const std::vector<io::PointTable<std::int8_t>>& status) {
  std::vector<sweep::WorkItem> todo;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (shard_of[i] != shard) continue;
    const sweep::WorkItem& item = items[i];
    const sweep::Chain& chain = item.chain;
    bool done = !status.empty();
    for (const int s : item.sigma) {
      if (!done) break;
      // A failed point is finished too: recomputing it would fail the same way.
      done =
          status[static_cast<std::size_t>(chain.protocol)].at(
              static_cast<std::size_t>(chain.depth_index), static_cast<std::size_t>(chain.run),
              static_cast<std::size_t>(s)) != static_cast<std::int8_t>(sweep::PointStatus::not_run);
    }
    // An adiabatic chain with any point missing is recomputed whole: each point needs the
    // previous one's final state.
    if (!done) todo.push_back(item);
  }
  return todo;
}

}  // namespace cdl::sim
