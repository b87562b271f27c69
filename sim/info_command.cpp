// `cdl info FILE... [--json]`: what a cdl file holds, in a few lines; for the shards of an
// array (OUTPUT not merged yet, or several shard files), where each shard stands.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>

#include "base/errors.hpp"
#include "base/not_a_number.hpp"
#include "base/parse.hpp"
#include "commands.hpp"
#include "h5/hdf5.hpp"
#include "open_sweep.hpp"
#include "options.hpp"
#include "sweep/status.hpp"
#include "sweep/work.hpp"

namespace cdl::sim {

namespace h5 = cdl::h5;

namespace {

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\')
      out += '\\', out += c;
    else if (c == '\n')
      out += "\\n";
    else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      out += escaped;
    } else
      out += c;
  }
  return out + "\"";
}

struct ProtocolInfo {
  std::string name;
  std::size_t sigma = 0;
  double sigma_min = base::nan, sigma_max = base::nan;
  PointCounts counts;
  bool shard = false;  // the file has an `owned` mask
};

// What `cdl info` shows of a file.
struct FileInfo {
  std::string path, subcommand;
  std::map<std::string, std::string> text;  // provenance attributes, "" when absent
  long long shard_index = 0, shard_count = 1;
  std::vector<std::int32_t> depths;
  std::size_t runs = 0;
  std::vector<ProtocolInfo> protocols;
};

ProtocolInfo protocol_info(const io::SweepReader& reader, const std::string& name) {
  ProtocolInfo p;
  p.name = name;
  const auto sigma = reader.sigma(name);
  p.sigma = sigma.size();
  if (!sigma.empty()) {
    p.sigma_min = *std::min_element(sigma.begin(), sigma.end());
    p.sigma_max = *std::max_element(sigma.begin(), sigma.end());
  }
  p.counts = count_points(reader, name);
  p.shard = reader.file().root().open_group(name).has_link("owned");
  return p;
}

// A sweep is read through the validating reader; stationary and analysis files are shown by
// their attributes.
FileInfo read_info(const std::string& path) {
  FileInfo info;
  info.path = path;
  h5::File file;
  if (io::is_special_file(path))
    base::reject("file", path, "not a regular file (a directory, FIFO, device or socket)");
  try {
    file = h5::File::open_read_only(path);
  } catch (const h5::Error& e) {
    base::reject("file", path,
                 "not a readable HDF5 file" + (e.cause().empty() ? "" : ": " + e.cause()));
  } catch (const std::exception&) {
    base::reject("file", path, "not a readable HDF5 file");
  }
  const h5::Group root = file.root();
  const auto has = [&](const char* name) { return has_attribute(root, name, "file", path); };
  if (!has("subcommand") || !has("config")) base::reject("file", path, "not a cdl file");
  const auto read_texts = [&] {
    for (const char* name : {"subcommand", "cdl_version", "created", "command", "config"})
      info.text[name] =
          base::valid_utf8(has(name) ? text_attribute(root, name, "file", path) : std::string());
  };
  info.subcommand = text_attribute(root, "subcommand", "file", path);
  if (info.subcommand != "theory" && info.subcommand != "micro" &&
      info.subcommand != "stationary" && info.subcommand != "analyze")
    base::reject("file", path, "names an unknown subcommand '" + info.subcommand + "'");
  if (info.subcommand != "theory" && info.subcommand != "micro") {
    read_texts();
    return info;
  }
  // The validating reader first: HDF5 itself may crash on a damaged text it is asked to read.
  const io::SweepReader reader = open_sweep_file(path, "file");
  read_texts();
  info.shard_index = reader.shard_index(), info.shard_count = reader.shard_count();
  info.depths = reader.depths();
  info.runs = reader.runs();
  for (const std::string& name : reader.protocols())
    info.protocols.push_back(protocol_info(reader, name));
  return info;
}

void print_json(const FileInfo& info) {
  std::cout << "{\n  \"file\": " << json_string(info.path);
  for (const char* name : {"subcommand", "cdl_version", "created", "command", "config"})
    std::cout << ",\n  \"" << name << "\": " << json_string(info.text.at(name));
  std::cout << ",\n  \"complete\": true"
            << ",\n  \"shard_index\": " << info.shard_index
            << ",\n  \"shard_count\": " << info.shard_count << ",\n  \"depths\": [";
  for (std::size_t d = 0; d < info.depths.size(); ++d)
    std::cout << (d ? ", " : "") << info.depths[d];
  std::cout << "],\n  \"runs\": " << info.runs << ",\n  \"protocols\": {";
  for (std::size_t i = 0; i < info.protocols.size(); ++i) {
    const ProtocolInfo& p = info.protocols[i];
    std::cout << (i ? "," : "") << "\n    " << json_string(p.name) << ": {\"sigma\": " << p.sigma
              << ", \"owned\": " << (p.shard ? std::to_string(p.counts.owned()) : "null");
    for (std::size_t k = 0; k < p.counts.by_status.size(); ++k)
      std::cout << ", " << json_string(sweep::point_status_names[k]) << ": "
                << p.counts.by_status[k];
    std::cout << ", \"failed\": " << p.counts.failed() << "}";
  }
  std::cout << "\n  }\n}\n";
}

void print_text(const FileInfo& info) {
  std::cout << info.path << ": cdl " << info.subcommand << " file, cdl "
            << info.text.at("cdl_version") << ", created " << info.text.at("created")
            << "\n  command: " << info.text.at("command") << "\n";
  if (!info.depths.empty()) {
    std::cout << "  grid: depths";
    for (auto d : info.depths) std::cout << " " << d;
    std::cout << ", " << info.runs << " realizations";
    if (!info.protocols.empty())
      std::printf(", %zu couplings %.4g..%.4g", info.protocols[0].sigma,
                  info.protocols[0].sigma_min, info.protocols[0].sigma_max);
    std::cout << "\n";
  }
  if (info.shard_count > 1)
    std::cout << "  shard " << info.shard_index << " of " << info.shard_count << "\n";
  for (const ProtocolInfo& p : info.protocols) {
    std::cout << "  " << p.name << ": " << p.counts.done() << " done, " << p.counts.failed()
              << " failed";
    if (p.counts.failed() > 0) std::cout << " (" << p.counts.failure_reasons() << ")";
    std::cout << ", " << p.counts.missing() << " missing";
    if (p.shard) std::cout << " (of the " << p.counts.owned() << " points this shard owns)";
    std::cout << "\n";
  }
}

// ---------------------------------------------------------------- where an array stands

// One shard of an array as `cdl info` shows it: its file (finished, or OUTPUT.part while it
// runs or after an interruption), or none yet.
struct ShardStanding {
  long long index = 0;
  std::string path;           // "" when no file exists yet
  std::string problem;        // why the file is not counted ("" when it is)
  PointCounts counts;         // over every protocol; the points this shard owns
  long long grid_points = 0;  // every point of the sweep, any shard's
  std::string config;         // the file's configuration
};

ShardStanding standing(long long index, const std::string& path, const FileInfo& info) {
  ShardStanding shard;
  shard.index = index;
  shard.path = path;
  shard.config = info.text.at("config");
  for (const ProtocolInfo& p : info.protocols) {
    shard.counts += p.counts;
    shard.grid_points += p.counts.owned() + p.counts.other_shards;
  }
  return shard;
}

// Shard `index` of an array from its file, if any; a file that cannot be read is shown as such.
ShardStanding stand_of(long long index, const std::string& path) {
  if (path.empty()) {
    ShardStanding none;
    none.index = index;
    return none;
  }
  try {
    const FileInfo info = read_info(path);
    if (info.shard_count < 2 || info.protocols.empty())
      base::reject("file", path, "not a shard of a cdl theory or micro array");
    return standing(index, path, info);
  } catch (const InputError& e) {
    ShardStanding unreadable;
    unreadable.index = index;
    unreadable.path = path;
    unreadable.problem = std::string("unreadable, ") + e.what();
    return unreadable;
  }
}

// The shard files of `output` (which does not exist): OUTPUT with .shard-I-of-K before its
// extension, finished or .part, one standing per index 0..K-1. Empty when there is none.
std::vector<ShardStanding> find_shards(const std::string& output) {
  namespace fs = std::filesystem;
  const fs::path path(output);
  const fs::path directory = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  const std::string prefix = path.stem().string() + ".shard-";
  std::map<long long, std::map<long long, std::string>> arrays;  // K -> I -> file
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(directory, error)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with(prefix)) continue;
    long long index = -1, count = -1;
    if (std::sscanf(name.c_str() + prefix.size(), "%lld-of-%lld", &index, &count) != 2 ||
        index < 0 || count < 2 || index >= count || count > 1000000)
      continue;
    // Exactly the name cdl writes for that shard (or its .part), nothing else.
    const std::string expected =
        sweep::shard_output(output, {static_cast<int>(index), static_cast<int>(count)});
    const std::string found = (path.parent_path() / name).string();
    const bool part = found == expected + ".part";
    if (found != expected && !part) continue;
    std::string& file = arrays[count][index];
    if (file.empty() || !part) file = found;  // the finished file wins over a leftover .part
  }
  if (arrays.empty()) return {};
  if (arrays.size() > 1) {
    std::string counts;
    for (const auto& [count, files] : arrays)
      counts += (counts.empty() ? "" : ", ") + std::to_string(count);
    base::reject("file", output,
                 "does not exist, and its shard files are of arrays of different sizes (K = " +
                     counts + "); name the shard files");
  }
  const auto& [count, files] = *arrays.begin();
  std::vector<ShardStanding> shards;
  for (long long i = 0; i < count; ++i)
    shards.push_back(stand_of(i, files.contains(i) ? files.at(i) : std::string()));
  return shards;
}

// Shards written by another configuration than the first readable one are not of this array
// (merge refuses them): shown as such, never counted.
void mark_other_configurations(std::vector<ShardStanding>& shards) {
  const ShardStanding* first = nullptr;
  for (ShardStanding& shard : shards) {
    if (shard.path.empty() || !shard.problem.empty()) continue;
    if (!first)
      first = &shard;
    else if (shard.config != first->config)
      shard.problem = "not of this array: written by another configuration than shard " +
                      std::to_string(first->index) + " (cdl merge refuses it)";
  }
}

struct ArrayTotal {
  PointCounts counts;
  long long grid_points = 0, missing = 0;
  bool all_shards = true;  // every shard of the array is among the rows
};

ArrayTotal array_total(const std::vector<ShardStanding>& shards, long long shard_count) {
  ArrayTotal total;
  std::vector<bool> seen(static_cast<std::size_t>(shard_count), false);
  for (const ShardStanding& shard : shards) {
    seen[static_cast<std::size_t>(shard.index)] = true;
    if (!shard.problem.empty() || shard.path.empty()) continue;
    total.counts += shard.counts;
    total.grid_points = std::max(total.grid_points, shard.grid_points);
  }
  total.all_shards = std::all_of(seen.begin(), seen.end(), [](bool s) { return s; });
  // Points of shards without a readable file are missing too.
  total.missing = total.all_shards ? total.grid_points - total.counts.done() - total.counts.failed()
                                   : total.counts.missing();
  return total;
}

std::string shard_state(const ShardStanding& shard) {
  if (shard.path.empty()) return "no file yet";
  if (!shard.problem.empty()) return "not counted";
  return shard.path.ends_with(".part") ? "unfinished" : "complete";
}

void print_array_text(const std::string& title, const std::vector<ShardStanding>& shards,
                      long long shard_count) {
  const ArrayTotal total = array_total(shards, shard_count);
  std::cout << title << "\n";
  for (const ShardStanding& shard : shards) {
    std::cout << "  shard " << shard.index << " of " << shard_count << ": ";
    if (shard.path.empty()) {
      std::cout << "no file yet\n";
      continue;
    }
    if (!shard.problem.empty()) {
      std::cout << base::valid_utf8(shard.problem) << "\n";
      continue;
    }
    const PointCounts& c = shard.counts;
    std::cout << c.done() << " done, " << c.failed() << " failed";
    if (c.failed() > 0) std::cout << " (" << c.failure_reasons() << ")";
    std::cout << ", " << c.missing() << " missing of " << c.owned() << ", " << shard_state(shard)
              << " (" << shard.path << ")\n";
  }
  std::cout << "  total: " << total.counts.done() << " done, " << total.counts.failed()
            << " failed, " << total.missing << " missing";
  if (total.grid_points == 0)
    std::cout << " (no shard readable yet)";
  else if (total.all_shards)
    std::cout << " of " << total.grid_points << " points";
  else
    std::cout << " over these " << shards.size() << " of " << shard_count << " shards";
  std::cout << "\n";
}

void print_array_json(const std::string& output, const std::vector<ShardStanding>& shards,
                      long long shard_count) {
  const ArrayTotal total = array_total(shards, shard_count);
  std::cout << "{\n  \"file\": " << (output.empty() ? "null" : json_string(output))
            << ",\n  \"merged\": false"
            << ",\n  \"shard_count\": " << shard_count << ",\n  \"shards\": [";
  for (std::size_t i = 0; i < shards.size(); ++i) {
    const ShardStanding& shard = shards[i];
    std::cout << (i ? "," : "") << "\n    {\"index\": " << shard.index
              << ", \"path\": " << (shard.path.empty() ? "null" : json_string(shard.path))
              << ", \"state\": " << json_string(shard_state(shard));
    if (!shard.problem.empty())
      std::cout << ", \"error\": " << json_string(base::valid_utf8(shard.problem));
    else if (!shard.path.empty())
      std::cout << ", \"owned\": " << shard.counts.owned() << ", \"done\": " << shard.counts.done()
                << ", \"failed\": " << shard.counts.failed()
                << ", \"missing\": " << shard.counts.missing();
    std::cout << "}";
  }
  std::cout << "\n  ],\n  \"total\": {\"points\": "
            << (total.all_shards && total.grid_points > 0 ? std::to_string(total.grid_points)
                                                          : "null")
            << ", \"done\": " << total.counts.done() << ", \"failed\": " << total.counts.failed()
            << ", \"missing\": " << total.missing << "}\n}\n";
}

}  // namespace

int run_info(const std::vector<std::string>& arguments, const std::string&) {
  po::options_description options("cdl info options");
  // clang-format off
  options.add_options()
      ("help,h", "show this help")
      ("json", po::bool_switch(), "print JSON for scripts")
      ("file", po::value<std::vector<std::string>>(), "FILE...");
  // clang-format on
  const auto parsed = parse_file_command(
      "cdl info FILE... [--json]\n"
      "  one file: what it holds; several shard files, or an OUTPUT whose\n"
      "  array has not been merged yet: each shard's points and the total",
      options, "file", -1, arguments);
  if (!parsed) return 0;  // --help
  const po::variables_map& values = *parsed;
  if (!values.count("file")) base::reject("file", "", "name a cdl file");
  const auto files = values["file"].as<std::vector<std::string>>();
  const bool json = values["json"].as<bool>();
  // A running shard's .part is open for writing: read it as it stands.
  h5::read_without_file_locks();
  std::vector<ShardStanding> shards;
  long long shard_count = 0;
  std::string title;
  if (files.size() == 1) {
    std::error_code error;
    if (!std::filesystem::exists(std::filesystem::symlink_status(files[0], error)))
      shards = find_shards(files[0]);
    if (shards.empty()) {
      const FileInfo info = read_info(files[0]);
      if (json)
        print_json(info);
      else
        print_text(info);
      return 0;
    }
    shard_count = static_cast<long long>(shards.size());
    title =
        files[0] + ": not merged yet; the " + std::to_string(shard_count) + " shards of its array";
  } else {
    // Shard files named one by one: each must be a readable shard of one array.
    for (const std::string& file : files) {
      const FileInfo info = read_info(file);
      if (info.shard_count < 2)
        base::reject("file", file, "not a shard file (several files are the shards of one array)");
      if (shard_count > 0 && info.shard_count != shard_count)
        base::reject("file", file,
                     "a shard of an array of " + std::to_string(info.shard_count) +
                         " shards, not " + std::to_string(shard_count));
      shard_count = info.shard_count;
      for (const ShardStanding& other : shards)
        if (other.index == info.shard_index)
          base::reject(
              "file", file,
              "shard " + std::to_string(info.shard_index) + " again (also " + other.path + ")");
      shards.push_back(standing(info.shard_index, file, info));
    }
    std::sort(shards.begin(), shards.end(),
              [](const auto& a, const auto& b) { return a.index < b.index; });
    title = std::to_string(files.size()) + " shard files of one array";
  }
  mark_other_configurations(shards);
  if (json)
    print_array_json(files.size() == 1 ? files[0] : std::string(), shards, shard_count);
  else
    print_array_text(title, shards, shard_count);
  return 0;
}

}  // namespace cdl::sim
