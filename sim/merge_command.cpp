// `cdl merge OUTPUT SHARD...`: the shards of a sweep combined into the file a single process
// running the whole sweep writes, dataset by dataset.

#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include "base/errors.hpp"
#include "base/parse.hpp"
#include "commands.hpp"
#include "config.hpp"
#include "h5/hdf5.hpp"
#include "open_sweep.hpp"
#include "options.hpp"
#include "output_lock.hpp"
#include "sweep/status.hpp"

namespace cdl::sim {

namespace fs = std::filesystem;
namespace h5 = cdl::h5;

namespace {

[[noreturn]] void reject_shard(const std::string& file, const std::string& why) {
  throw InputError("shard '" + file + "': " + why);
}

struct Shard {
  std::string path;
  io::SweepReader reader;
};

// Every dataset of a group except its dimension scales (and the shard's `owned` mask).
std::vector<std::string> data_names(const h5::Group& group) {
  std::vector<std::string> names;
  for (const std::string& name : group.link_names()) {
    if (group.is_group(name) || name == "owned") continue;
    if (!group.open_dataset(name).is_scale()) names.push_back(name);
  }
  return names;
}

// Copies, for every block along the leading dimensions, the block of the shard `owner(block)`
// (−1: none) into the output dataset `name` of `out`.
template <class T>
void copy_blocks(const h5::Group& out, const std::vector<h5::Group>& sources,
                 const std::string& name, std::size_t blocks,
                 const std::function<int(std::size_t)>& owner) {
  const h5::Dataset target = out.open_dataset(name);
  std::vector<T> merged = target.read<T>();
  const std::size_t block = merged.size() / blocks;
  std::vector<std::optional<std::vector<T>>> loaded(sources.size());
  for (std::size_t b = 0; b < blocks; ++b) {
    const int k = owner(b);
    if (k < 0) continue;
    if (!loaded[k]) loaded[k] = sources[k].open_dataset(name).read<T>();
    std::copy_n(loaded[k]->begin() + static_cast<std::ptrdiff_t>(b * block), block,
                merged.begin() + static_cast<std::ptrdiff_t>(b * block));
  }
  target.write<T>(merged);
}

void copy_dataset(const h5::Group& out, const std::vector<h5::Group>& sources,
                  const std::string& name, std::size_t blocks,
                  const std::function<int(std::size_t)>& owner) {
  const h5::Dataset target = out.open_dataset(name);
  if (target.stored_type_class() == H5T_FLOAT)
    copy_blocks<double>(out, sources, name, blocks, owner);
  else if (target.stored_type_size() == 8)
    copy_blocks<std::int64_t>(out, sources, name, blocks, owner);
  else if (target.stored_type_size() == 4)
    copy_blocks<std::int32_t>(out, sources, name, blocks, owner);
  else
    copy_blocks<std::int8_t>(out, sources, name, blocks, owner);
}

std::string point_name(const std::string& protocol, const std::vector<std::int32_t>& depths,
                       const std::vector<double>& sigma, std::size_t n_run, std::size_t point) {
  const std::size_t n_sigma = sigma.size();
  std::ostringstream text;
  text << protocol << " depth=" << depths[point / (n_run * n_sigma)]
       << " run=" << (point / n_sigma) % n_run << " sigma=" << sigma[point % n_sigma];
  return text.str();
}

// Points owned by no shard or not run, and points owned by several: at most five named each.
struct Problems {
  std::vector<std::string> missing, duplicated;
  long missing_count = 0, duplicated_count = 0;

  static std::string join(const std::vector<std::string>& names, long count) {
    std::string text;
    for (const auto& n : names) text += (text.empty() ? "" : ", ") + n;
    return text + (count > static_cast<long>(names.size()) ? ", ..." : "");
  }
};

// Every shard is checked by the validating reader (a damaged or edited shard is bad input
// naming the file and the dataset, before any copy), and all come from the same sweep, version
// and shard count.
std::vector<Shard> read_shards(const std::vector<std::string>& files) {
  std::vector<Shard> shards;
  for (const std::string& path : files) {
    Shard shard{path,
                open_sweep_file(path, [&](const std::string& why) { reject_shard(path, why); })};
    if (!shards.empty()) {
      const io::SweepReader &first = shards.front().reader, &read = shard.reader;
      const std::string& first_path = shards.front().path;
      if (read.version() != first.version())
        reject_shard(path, "written by cdl " + read.version() + ", " + first_path + " by cdl " +
                               first.version());
      if (read.config() != first.config() || read.subcommand() != first.subcommand())
        reject_shard(path, "comes from a different sweep than " + first_path);
      if (read.shard_count() != first.shard_count())
        reject_shard(path, "is one of " + std::to_string(read.shard_count()) + " shards, " +
                               first_path + " one of " + std::to_string(first.shard_count()));
    }
    shards.push_back(std::move(shard));
  }
  return shards;
}

// Copies one protocol group's points, each from the shard that owns it, and records missing
// and doubly owned points. Marks in `finished` [depth * runs + run] the shards that finished
// a point of each realization.
void merge_protocol(const h5::Group& out_group, const std::vector<Shard>& shards,
                    const std::string& protocol, Problems& problems,
                    std::vector<std::vector<bool>>& finished) {
  const io::SweepReader& first = shards.front().reader;
  const auto sigma = first.sigma(protocol);
  std::vector<h5::Group> groups;
  std::vector<io::PointTable<std::int8_t>> owned, status;
  for (const Shard& shard : shards) {
    groups.push_back(shard.reader.file().root().open_group(protocol));
    owned.push_back(shard.reader.owned(protocol));
    status.push_back(shard.reader.points<std::int8_t>(protocol, "status"));
  }
  const std::size_t points = status.front().values.size();
  std::vector<int> owner(points, -1);
  for (std::size_t p = 0; p < points; ++p) {
    int claims = 0;
    for (std::size_t k = 0; k < shards.size(); ++k) {
      if (!owned[k].values[p]) continue;
      ++claims;
      if (owner[p] < 0) owner[p] = static_cast<int>(k);
    }
    const auto name = [&] { return point_name(protocol, first.depths(), sigma, first.runs(), p); };
    if (claims > 1 && problems.duplicated_count++ < 5) problems.duplicated.push_back(name());
    const bool done = owner[p] >= 0 && status[static_cast<std::size_t>(owner[p])].values[p] !=
                                           static_cast<std::int8_t>(sweep::PointStatus::not_run);
    if (!done && problems.missing_count++ < 5) problems.missing.push_back(name());
    if (done) finished[static_cast<std::size_t>(owner[p])][p / sigma.size()] = true;
  }
  for (const std::string& name : data_names(out_group))
    copy_dataset(out_group, groups, name, points, [&](std::size_t p) { return owner[p]; });
}

// Root data of a realization [depth, run, …]: every shard that finished one of its points
// wrote the same values, so the first such shard that holds them is taken.
void merge_realizations(const h5::Group& out_root, const std::vector<Shard>& shards,
                        const std::vector<std::vector<bool>>& finished) {
  std::vector<h5::Group> roots;
  for (const Shard& shard : shards) roots.push_back(shard.reader.file().root());
  const std::size_t realizations = finished.front().size();
  for (const std::string& name : data_names(out_root)) {
    std::vector<std::vector<double>> data;
    for (const h5::Group& root : roots) data.push_back(root.open_dataset(name).read<double>());
    const std::size_t block = data.front().size() / realizations;
    copy_blocks<double>(out_root, roots, name, realizations, [&](std::size_t b) {
      for (std::size_t k = 0; k < data.size(); ++k) {
        if (!finished[k][b]) continue;
        for (std::size_t i = b * block; i < (b + 1) * block; ++i)
          if (!std::isnan(data[k][i])) return static_cast<int>(k);
      }
      return -1;
    });
  }
}

}  // namespace

int run_merge(const std::vector<std::string>& arguments, const std::string& command_line) {
  po::options_description options("cdl merge options");
  // clang-format off
  options.add_options()
      ("help,h", "show this help")
      ("allow-partial", po::bool_switch(), "write what exists, status marking missing points")
      ("overwrite", po::bool_switch(), "replace an existing output file")
      ("quiet", po::bool_switch(), "no messages on stderr")
      ("files", po::value<std::vector<std::string>>(), "OUTPUT SHARD...");
  // clang-format on
  const auto parsed =
      parse_file_command("cdl merge OUTPUT SHARD... [options]", options, "files", -1, arguments);
  if (!parsed) return 0;  // --help
  const po::variables_map& values = *parsed;
  const auto files = values.count("files") ? values["files"].as<std::vector<std::string>>()
                                           : std::vector<std::string>{};
  if (files.size() < 2) throw InputError("usage: cdl merge OUTPUT SHARD... (try --help)");
  const std::string output = files[0];
  const bool overwrite = values["overwrite"].as<bool>();
  check_output(output, overwrite);  // a quick refusal, before the lock's directory is made
  const std::vector<Shard> shards = read_shards({files.begin() + 1, files.end()});
  const io::SweepReader& first = shards.front().reader;
  OutputLock lock(output, "output");  // the only writer of the output
  check_output(output, overwrite);    // again under it: a merge may have finished since

  // The output, laid out exactly as a single process would write it.
  const std::string partial = output + ".part";
  // OUT.part is removed on any failure below: a failed merge leaves nothing behind.
  RemoveUnlessKept unfinished(partial);
  create_output(output, [&] {
    h5::File file = first.subcommand() == "theory"
                        ? theory_layout(first.config(), h5::File::create(partial), command_line)
                        : micro_layout(first.config(), h5::File::create(partial), command_line);
    file.close();
    return 0;
  });
  lock.hold(partial);
  h5::File out = h5::File::open_read_write(partial);
  Problems problems;
  std::vector<std::vector<bool>> finished(
      shards.size(), std::vector<bool>(first.depths().size() * first.runs(), false));
  for (const std::string& protocol : first.protocols())
    merge_protocol(out.root().open_group(protocol), shards, protocol, problems, finished);
  if ((problems.missing_count > 0 && !values["allow-partial"].as<bool>()) ||
      problems.duplicated_count > 0) {
    out.close();
    if (problems.duplicated_count > 0)
      throw InputError(std::to_string(problems.duplicated_count) +
                       " points owned by several shards: " +
                       Problems::join(problems.duplicated, problems.duplicated_count));
    throw InputError(std::to_string(problems.missing_count) + " points missing: " +
                     Problems::join(problems.missing, problems.missing_count) +
                     "; --allow-partial writes the rest");
  }
  merge_realizations(out.root(), shards, finished);
  out.close();
  stop_here_for_test("replacing");
  fs::rename(partial, output);
  unfinished.keep();
  if (!values["quiet"].as<bool>()) {
    std::cerr << "cdl merge: wrote " << output << " from " << shards.size() << " shard file(s)";
    if (problems.missing_count > 0)
      std::cerr << "; " << problems.missing_count << " points missing (status not_run)";
    std::cerr << "\n";
  }
  return 0;
}

}  // namespace cdl::sim
