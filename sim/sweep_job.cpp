#include "sweep_job.hpp"

#include "errors.hpp"
#include "io/hdf5.hpp"
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
  job.shard = sweep::resolve_shard(values.count("task-index") ? io::text(values, "task-index") : "",
                                   values.count("task-count") ? io::text(values, "task-count") : "",
                                   values.count("task-index") > 0, values.count("task-count") > 0);
  job.resume = values["resume"].as<bool>();
  job.overwrite = values["overwrite"].as<bool>();
  if (job.resume && job.overwrite)
    io::reject("resume", "true", "--resume continues a file, --overwrite replaces it: pick one");
  job.quiet = values["quiet"].as<bool>();
  job.threads = thread_count(values);
  job.output = sweep::shard_output(io::text(values, "output"), job.shard);
  return job;
}

bool is_sealed_file(const std::string& path) {
  try {
    const io::h5::File file = io::h5::File::open_read_only(path);
    return io::SweepFile::is_sealed(file.root());
  } catch (const std::exception&) {
    return false;
  }
}

void check_resumable(const std::string& partial, const io::Provenance& provenance,
                     const sweep::Shard& shard) {
  std::string config, version;
  long long index = -1, count = -1;
  bool sealed = false;
  try {
    const io::h5::File file = io::h5::File::open_read_only(partial);
    const io::h5::Group root = file.root();
    config = root.string_attribute("config");
    version = root.string_attribute("cdl_version");
    sealed = io::SweepFile::is_sealed(root);
    if (root.has_attribute("shard_index")) {
      index = static_cast<long long>(root.double_attribute("shard_index"));
      count = static_cast<long long>(root.double_attribute("shard_count"));
    }
  } catch (const std::exception&) {
    io::reject("resume", partial, "not a readable cdl file; remove it or use --overwrite");
  }
  if (!sealed)
    io::reject("resume", partial, "its creation was interrupted; remove it or use --overwrite");
  if (version != CDL_VERSION)
    io::reject("resume", partial, "written by cdl " + version + ", this is " + CDL_VERSION);
  if (config != provenance.config_ini)
    io::reject("resume", partial, "written by a different configuration (see its config)");
  if (index != shard.index || count != shard.count)
    io::reject("resume", partial,
               "written as shard " + std::to_string(index) + " of " + std::to_string(count));
}

std::vector<sweep::WorkItem> items_to_run(const std::vector<sweep::WorkItem>& items,
                                          const std::vector<int>& shard_of, int shard,
                                          const std::vector<std::vector<std::int8_t>>& status,
                                          int runs, std::size_t n_sigma) {
  std::vector<sweep::WorkItem> todo;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (shard_of[i] != shard) continue;
    const sweep::WorkItem& item = items[i];
    bool done = !status.empty();
    for (const int s : item.sigma) {
      if (!done) break;
      const std::size_t at =
          (static_cast<std::size_t>(item.chain.depth_index) * static_cast<std::size_t>(runs) +
           static_cast<std::size_t>(item.chain.run)) *
              n_sigma +
          static_cast<std::size_t>(s);
      // A failed point is finished too: recomputing it would fail the same way.
      done = status[static_cast<std::size_t>(item.chain.protocol)][at] !=
             static_cast<std::int8_t>(sweep::PointStatus::not_run);
    }
    // An adiabatic chain with any point missing is recomputed whole: each point needs the
    // previous one's final state.
    if (!done) todo.push_back(item);
  }
  return todo;
}

}  // namespace cdl::sim
