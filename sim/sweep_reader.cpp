#include "sweep_reader.hpp"

#include <algorithm>

#include "base/errors.hpp"
#include "base/parse.hpp"
#include "commands.hpp"
#include "io/sweep_file.hpp"
#include "options.hpp"
#include "sweep/status.hpp"

namespace cdl::sim {

namespace h5 = cdl::h5;

namespace {

// Checks every dataset of `expected` against the one of the same name in `found`; `where` is
// the group's path with a trailing slash.
void check_group(const h5::Group& expected, const h5::Group& found, const std::string& where,
                 const std::function<void(const std::string&)>& refuse) {
  for (const std::string& name : expected.link_names()) {
    if (expected.is_group(name)) continue;
    const std::string what = where + name;
    if (!found.has_link(name) || found.is_group(name)) refuse("has no dataset " + what);
    const h5::Dataset e = expected.open_dataset(name), f = found.open_dataset(name);
    if (f.dims() != e.dims() || f.stored_type_class() != e.stored_type_class())
      refuse("dataset " + what + " has the wrong shape or type");
    // Coordinates are read to place every value: they must be the configuration's own.
    if (e.is_scale() && f.read<double>() != e.read<double>())
      refuse("coordinate " + what + " differs from the file's configuration");
  }
}

void check_flags(const h5::Dataset& dataset, std::size_t table, const std::string& what,
                 const std::function<void(const std::string&)>& refuse) {
  for (const auto value : dataset.read<std::int8_t>())
    if (value < 0 || static_cast<std::size_t>(value) >= table)
      refuse(what + " holds " + std::to_string(value) + ", outside its flag table");
}

}  // namespace

SweepFileReader open_sweep_file(const std::string& path, const std::string& option) {
  return open_sweep_file(path, [&](const std::string& why) { base::reject(option, path, why); });
}

SweepFileReader open_sweep_file(const std::string& path,
                                const std::function<void(const std::string&)>& refuse) {
  // A file's own attribute that is not text is refused like any other damage.
  const auto text = [&](const h5::Group& root, const std::string& name) {
    try {
      return root.string_attribute(name);
    } catch (const std::exception&) {
      refuse("its attribute " + name + " is missing or not text");
    }
    return std::string();
  };
  SweepFileReader reader;
  try {
    reader.file = h5::File::open_read_only(path);
  } catch (const std::exception&) {
    refuse("not a readable HDF5 file");
  }
  try {
    reader.file.check_metadata();
    const h5::Group root = reader.file.root();
    if (!root.has_attribute("subcommand") || !root.has_attribute("config"))
      refuse("not a cdl file");
    reader.subcommand = text(root, "subcommand");
    if (reader.subcommand != "theory" && reader.subcommand != "micro")
      refuse("not a cdl theory or micro sweep file (subcommand '" + reader.subcommand + "')");
    reader.config = text(root, "config");
    reader.version = text(root, "cdl_version");
    if (root.has_attribute("shard_index") != root.has_attribute("shard_count"))
      refuse("has only one of the attributes shard_index, shard_count");
    if (root.has_attribute("shard_index")) {
      const double index = root.double_attribute("shard_index"),
                   count = root.double_attribute("shard_count");
      if (!(count >= 1 && count <= 1e6 && index >= 0 && index < count) ||
          index != static_cast<long long>(index) || count != static_cast<long long>(count))
        refuse("shard_index, shard_count are not a shard I of K");
      reader.shard_index = static_cast<long long>(index);
      reader.shard_count = static_cast<long long>(count);
    }
    h5::File expected;
    try {
      expected = reader.subcommand == "theory"
                     ? theory_layout(reader.config, h5::File::create_in_memory(), "")
                     : micro_layout(reader.config, h5::File::create_in_memory(), "");
    } catch (const InputError& e) {
      refuse(std::string("its config is not a valid configuration: ") + e.what());
    }
    const h5::Group expected_root = expected.root();
    check_group(expected_root, root, "/", refuse);
    for (const std::string& protocol : expected_root.link_names()) {
      if (!expected_root.is_group(protocol)) continue;
      if (!root.has_link(protocol) || !root.is_group(protocol)) refuse("has no group /" + protocol);
      const h5::Group group = root.open_group(protocol);
      reader.protocols.push_back(protocol);
      const std::string where = "/" + protocol + "/";
      check_group(expected_root.open_group(protocol), group, where, refuse);
      check_flags(group.open_dataset("status"), sweep::point_status_names.size(), where + "status",
                  refuse);
      if (group.has_link("owned")) {
        if (group.is_group("owned") ||
            group.open_dataset("owned").dims() != group.open_dataset("status").dims())
          refuse("dataset " + where + "owned has the wrong shape");
        check_flags(group.open_dataset("owned"), 2, where + "owned", refuse);
      }
    }
    // Killed after the last dataset but before the seal: nothing can have been written.
    if (!io::SweepFile::is_sealed(root))
      refuse("its creation was interrupted (no layout_complete)");
  } catch (const InputError&) {
    throw;
  } catch (const std::exception& e) {
    refuse(std::string("damaged: ") + e.what());
  }
  return reader;
}

bool is_stationary_file(const std::string& path) {
  try {
    const h5::File file = h5::File::open_read_only(path);
    return file.root().string_attribute("subcommand") == "stationary";
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace cdl::sim
