// Running a sweep as a job, shared by `cdl theory` and `cdl micro`: this shard's work items,
// the output file (created, or reopened with --resume), progress, interruption and the rename
// on completion.
#pragma once

#include <boost/program_options.hpp>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "base/parse.hpp"
#include "commands.hpp"
#include "config.hpp"
#include "io/sweep_file.hpp"
#include "options.hpp"
#include "output_lock.hpp"
#include "progress.hpp"
#include "sweep/driver.hpp"
#include "sweep/work.hpp"

namespace cdl::sim {

// --task-index, --task-count, --resume.
po::options_description job_options();

struct Job {
  sweep::Shard shard;
  bool resume = false;
  bool overwrite = false;
  bool quiet = false;
  int threads = 1;
  std::string output;  // this shard's file
};
Job read_job(const po::variables_map& values);

// Checks that `partial` (an interrupted file) was written by this configuration and shard;
// throws cdl::InputError naming --resume otherwise.
void check_resumable(const std::string& partial, const io::Provenance& provenance,
                     const sweep::Shard& shard);

// Every check run_job makes before it creates or opens anything for writing (the lock, the
// output, a file to --resume), without creating anything: for a dry run.
void check_job_output(const Job& job, const io::Provenance& provenance);

// The items of `items` this shard owns, minus those whose points are all done in `status`
// (one table per protocol; empty: nothing done yet).
std::vector<sweep::WorkItem> items_to_run(const std::vector<sweep::WorkItem>& items,
                                          const std::vector<int>& shard_of, int shard,
                                          const std::vector<io::PointTable<std::int8_t>>& status);

// The empty, sealed file an unsharded process writes, laid out in `file`.
template <class Writer, class Sweep>
h5::File lay_out_unsharded(h5::File file, const Sweep& sweep, const io::Provenance& provenance) {
  Writer writer(std::move(file), sweep, provenance);
  writer.file().mark_shard({}, {}, {0, 1});
  writer.file().seal();
  return std::move(writer.file()).release();
}

// An experiment as run_job runs it (theory_command.cpp, micro_command.cpp):
//   using Writer = …;                       its file writer
//   static constexpr const char* name;      the subcommand, for messages
//   std::vector<sweep::WorkItem> items();   every item of the sweep, with its cost
//   int protocols();                        protocol groups in the file
//   Writer create(path, provenance);        a new file, laid out
//   Writer reopen(path);                    a file of this experiment, to go on writing
//   sweep::SweepOutcome run(items, deliver) computes items, handing each result to deliver
//   void print_summary(path);               the table of a finished file
template <class Experiment>
int run_job(const Job& job, const io::Provenance& provenance, const Experiment& experiment) {
  using Writer = typename Experiment::Writer;
  const std::string subcommand = Experiment::name;
  const std::vector<sweep::WorkItem> items = experiment.items();
  const int protocols = experiment.protocols();
  namespace fs = std::filesystem;
  // The only writer of this output: a second process (run, --overwrite, --resume) is refused
  // before it touches OUTPUT or OUTPUT.part.
  OutputLock lock(job.output, "output");
  const std::vector<int> shard_of = sweep::assign_shards(items, job.shard.count);
  const std::string partial = job.output + ".part";
  std::vector<io::PointTable<std::int8_t>> status;
  std::optional<Writer> writer;
  // The layout is made under another name and renamed to OUTPUT.part only once complete, so
  // OUTPUT.part always holds a whole layout: one that cannot be read is damaged and refused
  // (never deleted), while a leftover OUTPUT.creating (killed while the layout was written)
  // holds no point and is removed.
  const std::string creating = job.output + ".creating";
  std::error_code error;
  fs::remove(creating, error);
  if (job.resume && fs::exists(partial, error)) {
    check_resumable(partial, provenance, job.shard);
    lock.hold(partial);
    writer.emplace(experiment.reopen(partial));
    // An analysis of the unfinished file would be stale once the sweep completes.
    if (writer->file().root().has_link("analysis")) {
      writer->file().root().remove("analysis");
      if (!job.quiet)
        std::cerr << "cdl " << subcommand << ": removed the /analysis of the unfinished " << partial
                  << "\n";
    }
    for (int p = 0; p < protocols; ++p) status.push_back(writer->file().read_status(p));
  } else if (job.resume && fs::exists(job.output, error)) {
    check_resumable(job.output, provenance, job.shard);
    if (!job.quiet) std::cerr << "cdl " << subcommand << ": " << job.output << " is complete\n";
    experiment.print_summary(job.output);
    return 0;
  } else {
    check_output(job.output, job.overwrite);
    create_output(
        job.output,
        [&] {
          Writer layout = experiment.create(creating, provenance);
          layout.file().mark_shard(items, shard_of, job.shard);
          layout.file().seal();
          layout.close();
          return 0;
        },
        creating);
    lock.hold(creating);  // and so OUTPUT.part, then OUTPUT: the lock follows the file
    fs::rename(creating, partial);
    writer.emplace(experiment.reopen(partial));
  }
  const std::vector<sweep::WorkItem> todo = items_to_run(items, shard_of, job.shard.index, status);
  long points = 0;
  for (const auto& item : todo) points += static_cast<long>(item.sigma.size());
  Progress progress(points, "points", job.quiet);
  const sweep::SweepOutcome outcome =
      experiment.run(todo, [&](const auto& result, const sweep::WorkItem& item) {
        writer->write(result, item);
        progress.advance(static_cast<long>(item.sigma.size()));
      });
  progress.finish();
  writer->close();
  if (outcome.interrupted || stop_request().interrupted()) {
    std::cerr << "cdl " << subcommand << ": interrupted; finished points are in " << partial
              << " (continue with --resume)\n";
    return 3;
  }
  stop_here_for_test("replacing");
  fs::rename(partial, job.output);
  experiment.print_summary(job.output);
  if (!job.quiet) std::cerr << "wrote " << job.output << "\n";
  return 0;
}

}  // namespace cdl::sim
