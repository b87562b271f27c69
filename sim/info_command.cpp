// `cdl info FILE [--json]`: what a cdl file holds, in a few lines.

#include <algorithm>
#include <cmath>
#include <cstdio>
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
  std::vector<long> count = std::vector<long>(sweep::point_status_names.size(), 0);
  long owned = -1;  // −1: not a shard

  long failed() const {
    long n = 0;
    for (std::size_t k = 2; k < count.size(); ++k) n += count[k];
    return n;
  }
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
  const auto status = reader.points<std::int8_t>(name, "status").values;
  const auto owned = reader.owned(name).values;
  if (reader.file().root().open_group(name).has_link("owned")) {
    p.owned = 0;
    for (auto o : owned) p.owned += o;
  }
  for (std::size_t k = 0; k < status.size(); ++k)
    if (owned[k]) ++p.count[static_cast<std::size_t>(status[k])];
  return p;
}

// A sweep is read through the validating reader; stationary and analysis files are shown by
// their attributes.
FileInfo read_info(const std::string& path) {
  FileInfo info;
  info.path = path;
  h5::File file;
  try {
    file = h5::File::open_read_only(path);
  } catch (const std::exception&) {
    base::reject("file", path, "not a readable HDF5 file");
  }
  const h5::Group root = file.root();
  if (!root.has_attribute("subcommand") || !root.has_attribute("config"))
    base::reject("file", path, "not a cdl file");
  const auto read_texts = [&] {
    for (const char* name : {"subcommand", "cdl_version", "created", "command", "config"})
      info.text[name] = base::valid_utf8(
          root.has_attribute(name) ? text_attribute(root, name, "file", path) : std::string());
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
              << ", \"owned\": " << (p.owned < 0 ? "null" : std::to_string(p.owned));
    for (std::size_t k = 0; k < p.count.size(); ++k)
      std::cout << ", " << json_string(sweep::point_status_names[k]) << ": " << p.count[k];
    std::cout << ", \"failed\": " << p.failed() << "}";
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
    std::cout << "  " << p.name << ": " << p.count[0] << " done, " << p.failed() << " failed";
    std::string reasons;
    for (std::size_t k = 2; k < p.count.size(); ++k)
      if (p.count[k] > 0)
        reasons += (reasons.empty() ? "" : ", ") + std::to_string(p.count[k]) + " " +
                   sweep::point_status_names[k];
    if (!reasons.empty()) std::cout << " (" << reasons << ")";
    std::cout << ", " << p.count[1] << " missing";
    if (p.owned >= 0) std::cout << " (of the " << p.owned << " points this shard owns)";
    std::cout << "\n";
  }
}

}  // namespace

int run_info(const std::vector<std::string>& arguments, const std::string&) {
  po::options_description options("cdl info options");
  // clang-format off
  options.add_options()
      ("help,h", "show this help")
      ("json", po::bool_switch(), "print JSON for scripts")
      ("file", po::value<std::string>(), "FILE");
  // clang-format on
  const auto parsed = parse_file_command("cdl info FILE [--json]", options, "file", 1, arguments);
  if (!parsed) return 0;  // --help
  const po::variables_map& values = *parsed;
  if (!values.count("file")) base::reject("file", "", "name a cdl file");
  const FileInfo info = read_info(values["file"].as<std::string>());
  if (values["json"].as<bool>())
    print_json(info);
  else
    print_text(info);
  return 0;
}

}  // namespace cdl::sim
