// `cdl info FILE [--json]`: what a cdl file holds, in a few lines.

#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "base/errors.hpp"
#include "base/parse.hpp"
#include "commands.hpp"
#include "h5/hdf5.hpp"
#include "options.hpp"
#include "sweep/status.hpp"
#include "sweep_reader.hpp"

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
  double sigma_min = NAN, sigma_max = NAN;
  std::vector<long> count = std::vector<long>(sweep::point_status_names.size(), 0);
  long owned = -1;  // −1: not a shard
};

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
  const std::string path = values["file"].as<std::string>();
  h5::File file;
  try {
    file = h5::File::open_read_only(path);
  } catch (const std::exception&) {
    base::reject("file", path, "not a readable HDF5 file");
  }
  const h5::Group root = file.root();
  if (!root.has_attribute("subcommand") || !root.has_attribute("config"))
    base::reject("file", path, "not a cdl file");
  const auto text = [&](const char* name) {
    return root.has_attribute(name) ? text_attribute(root, name, "file", path) : std::string();
  };
  const std::string subcommand = text("subcommand");
  if (subcommand != "theory" && subcommand != "micro" && subcommand != "stationary" &&
      subcommand != "analyze")
    base::reject("file", path, "names an unknown subcommand '" + subcommand + "'");
  long shard_index = 0, shard_count = 1;
  std::vector<std::int32_t> depths;
  std::size_t runs = 0;
  std::vector<ProtocolInfo> protocols;
  // A sweep is read through the validating reader; stationary and analysis files are shown by
  // their attributes.
  const bool sweep_file = subcommand == "theory" || subcommand == "micro";
  const SweepFileReader reader = sweep_file ? open_sweep_file(path, "file") : SweepFileReader{};
  if (sweep_file) {
    shard_index = reader.shard_index, shard_count = reader.shard_count;
    depths = root.open_dataset("depth").read<std::int32_t>();
    runs = root.open_dataset("run").read<std::int32_t>().size();
  }
  for (const std::string& name : reader.protocols) {
    const h5::Group group = root.open_group(name);
    ProtocolInfo p;
    p.name = name;
    const auto sigma = group.open_dataset("sigma").read<double>();
    p.sigma = sigma.size();
    if (!sigma.empty()) {
      p.sigma_min = *std::min_element(sigma.begin(), sigma.end());
      p.sigma_max = *std::max_element(sigma.begin(), sigma.end());
    }
    const auto status = group.open_dataset("status").read<std::int8_t>();
    std::vector<std::int8_t> owned(status.size(), 1);
    if (group.has_link("owned")) {
      owned = group.open_dataset("owned").read<std::int8_t>();
      p.owned = 0;
      for (auto o : owned) p.owned += o;
    }
    for (std::size_t k = 0; k < status.size(); ++k) {
      if (owned[k]) ++p.count[static_cast<std::size_t>(status[k])];
    }
    protocols.push_back(p);
  }
  const auto failed = [](const ProtocolInfo& p) {
    long n = 0;
    for (std::size_t k = 2; k < p.count.size(); ++k) n += p.count[k];
    return n;
  };

  if (values["json"].as<bool>()) {
    std::cout << "{\n  \"file\": " << json_string(path)
              << ",\n  \"subcommand\": " << json_string(subcommand)
              << ",\n  \"cdl_version\": " << json_string(text("cdl_version"))
              << ",\n  \"created\": " << json_string(text("created"))
              << ",\n  \"command\": " << json_string(text("command"))
              << ",\n  \"config\": " << json_string(text("config")) << ",\n  \"complete\": "
              << "true"
              << ",\n  \"shard_index\": " << shard_index << ",\n  \"shard_count\": " << shard_count
              << ",\n  \"depths\": [";
    for (std::size_t d = 0; d < depths.size(); ++d) std::cout << (d ? ", " : "") << depths[d];
    std::cout << "],\n  \"runs\": " << runs << ",\n  \"protocols\": {";
    for (std::size_t i = 0; i < protocols.size(); ++i) {
      const ProtocolInfo& p = protocols[i];
      std::cout << (i ? "," : "") << "\n    " << json_string(p.name) << ": {\"sigma\": " << p.sigma
                << ", \"owned\": " << (p.owned < 0 ? "null" : std::to_string(p.owned));
      for (std::size_t k = 0; k < p.count.size(); ++k)
        std::cout << ", " << json_string(sweep::point_status_names[k]) << ": " << p.count[k];
      std::cout << ", \"failed\": " << failed(p) << "}";
    }
    std::cout << "\n  }\n}\n";
    return 0;
  }
  std::cout << path << ": cdl " << subcommand << " file, cdl " << text("cdl_version")
            << ", created " << text("created") << "\n  command: " << text("command") << "\n";
  if (!depths.empty()) {
    std::cout << "  grid: depths";
    for (auto d : depths) std::cout << " " << d;
    std::cout << ", " << runs << " realizations";
    if (!protocols.empty())
      std::printf(", %zu couplings %.4g..%.4g", protocols[0].sigma, protocols[0].sigma_min,
                  protocols[0].sigma_max);
    std::cout << "\n";
  }
  if (shard_count > 1) std::cout << "  shard " << shard_index << " of " << shard_count << "\n";
  for (const ProtocolInfo& p : protocols) {
    std::cout << "  " << p.name << ": " << p.count[0] << " done, " << failed(p) << " failed";
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
  return 0;
}

}  // namespace cdl::sim
