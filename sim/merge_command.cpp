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
#include "options.hpp"
#include "output_lock.hpp"
#include "sweep/status.hpp"
#include "sweep_reader.hpp"

namespace cdl::sim {

namespace fs = std::filesystem;
namespace h5 = cdl::h5;

namespace {

[[noreturn]] void reject_shard(const std::string& file, const std::string& why) {
  throw InputError("shard '" + file + "': " + why);
}

struct Shard {
  std::string path;
  h5::File file;
  long long index = 0, count = 1;
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
  check_output(output, values["overwrite"].as<bool>());

  // Every shard must come from the same sweep, version and shard count.
  std::vector<Shard> shards;
  std::string config, version, subcommand;
  for (std::size_t k = 1; k < files.size(); ++k) {
    // A damaged or edited shard is bad input naming the file and the dataset, before any copy.
    SweepFileReader read =
        open_sweep_file(files[k], [&](const std::string& why) { reject_shard(files[k], why); });
    Shard shard{files[k], std::move(read.file), read.shard_index, read.shard_count};
    const std::string &this_config = read.config, &this_version = read.version,
                      &this_subcommand = read.subcommand;
    if (k == 1) {
      config = this_config, version = this_version, subcommand = this_subcommand;
    } else if (this_version != version) {
      reject_shard(files[k],
                   "written by cdl " + this_version + ", " + files[1] + " by cdl " + version);
    } else if (this_config != config || this_subcommand != subcommand) {
      reject_shard(files[k], "comes from a different sweep than " + files[1]);
    } else if (shard.count != shards.front().count) {
      reject_shard(files[k], "is one of " + std::to_string(shard.count) + " shards, " + files[1] +
                                 " one of " + std::to_string(shards.front().count));
    }
    shards.push_back(std::move(shard));
  }

  // The output, laid out exactly as a single process would write it, by its only writer.
  const OutputLock lock(output, "output");
  const std::string partial = output + ".part";
  create_output(output, [&] {
    h5::File file = subcommand == "theory"
                        ? theory_layout(config, h5::File::create(partial), command_line)
                        : micro_layout(config, h5::File::create(partial), command_line);
    file.close();
    return 0;
  });
  // OUT.part is removed on any failure below: a failed merge leaves nothing behind.
  RemoveUnlessKept unfinished(partial);
  h5::File out = h5::File::open_read_write(partial);
  const h5::Group out_root = out.root();
  const auto depths = out_root.open_dataset("depth").read<std::int32_t>();
  const std::size_t n_depth = depths.size(),
                    n_run = out_root.open_dataset("run").read<std::int32_t>().size();

  std::vector<h5::Group> shard_roots;
  for (const Shard& shard : shards) shard_roots.push_back(shard.file.root());
  std::vector<std::string> missing, duplicated;
  long missing_count = 0, duplicated_count = 0;
  for (const std::string& protocol : out_root.link_names()) {
    if (!out_root.is_group(protocol)) continue;
    const h5::Group out_group = out_root.open_group(protocol);
    const auto sigma = out_group.open_dataset("sigma").read<double>();
    const std::size_t points = n_depth * n_run * sigma.size();
    std::vector<h5::Group> groups;
    std::vector<std::vector<std::int8_t>> owned, status;
    for (const h5::Group& root : shard_roots) {
      groups.push_back(root.open_group(protocol));
      status.push_back(groups.back().open_dataset("status").read<std::int8_t>());
      owned.push_back(groups.back().has_link("owned")
                          ? groups.back().open_dataset("owned").read<std::int8_t>()
                          : std::vector<std::int8_t>(points, 1));
    }
    std::vector<int> owner(points, -1);
    for (std::size_t p = 0; p < points; ++p) {
      int claims = 0;
      for (std::size_t k = 0; k < groups.size(); ++k) {
        if (!owned[k][p]) continue;
        ++claims;
        if (owner[p] < 0) owner[p] = static_cast<int>(k);
      }
      if (claims > 1) {
        if (duplicated.size() < 5)
          duplicated.push_back(point_name(protocol, depths, sigma, n_run, p));
        ++duplicated_count;
      }
      const bool done = owner[p] >= 0 && status[static_cast<std::size_t>(owner[p])][p] !=
                                             static_cast<std::int8_t>(sweep::PointStatus::not_run);
      if (!done) {
        if (missing.size() < 5) missing.push_back(point_name(protocol, depths, sigma, n_run, p));
        ++missing_count;
      }
    }
    for (const std::string& name : data_names(out_group))
      copy_dataset(out_group, groups, name, points, [&](std::size_t p) { return owner[p]; });
  }
  const auto join = [](const std::vector<std::string>& names, long count) {
    std::string text;
    for (const auto& n : names) text += (text.empty() ? "" : ", ") + n;
    return text + (count > static_cast<long>(names.size()) ? ", ..." : "");
  };
  if ((missing_count > 0 && !values["allow-partial"].as<bool>()) || duplicated_count > 0) {
    out.close();
    if (duplicated_count > 0)
      throw InputError(std::to_string(duplicated_count) +
                       " points owned by several shards: " + join(duplicated, duplicated_count));
    throw InputError(std::to_string(missing_count) + " points missing: " +
                     join(missing, missing_count) + "; --allow-partial writes the rest");
  }
  // Root data of a realization [depth, run, …]: every shard that computed one of its points
  // wrote the same values, so the first shard holding any is taken.
  for (const std::string& name : data_names(out_root)) {
    std::vector<std::vector<double>> data;
    for (const h5::Group& root : shard_roots)
      data.push_back(root.open_dataset(name).read<double>());
    const std::size_t block = data.front().size() / (n_depth * n_run);
    copy_blocks<double>(out_root, shard_roots, name, n_depth * n_run, [&](std::size_t b) {
      for (std::size_t k = 0; k < data.size(); ++k)
        for (std::size_t i = b * block; i < (b + 1) * block; ++i)
          if (!std::isnan(data[k][i])) return static_cast<int>(k);
      return -1;
    });
  }
  out.close();
  fs::rename(partial, output);
  unfinished.keep();
  if (!values["quiet"].as<bool>()) {
    std::cerr << "cdl merge: wrote " << output << " from " << shards.size() << " shard file(s)";
    if (missing_count > 0) std::cerr << "; " << missing_count << " points missing (status not_run)";
    std::cerr << "\n";
  }
  return 0;
}

}  // namespace cdl::sim
