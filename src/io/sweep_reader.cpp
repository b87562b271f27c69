#include "io/sweep_reader.hpp"

#include <sys/stat.h>

#include <algorithm>

#include "base/errors.hpp"
#include "io/sweep_file.hpp"
#include "sweep/status.hpp"

namespace cdl::io {

namespace {

// Checks every dataset of `expected` against the one of the same name in `found`; `where` is
// the group's path with a trailing slash.
void check_group(const h5::Group& expected, const h5::Group& found, const std::string& where,
                 const Refuse& refuse) {
  for (const std::string& name : expected.link_names()) {
    if (expected.is_group(name)) continue;
    const std::string what = where + name;
    if (!found.has_link(name) || found.is_group(name)) refuse("has no dataset " + what);
    const h5::Dataset e = expected.open_dataset(name), f = found.open_dataset(name);
    if (f.dims() != e.dims() || !f.same_stored_type(e))
      refuse("dataset " + what + " has the wrong shape or type");
    // Coordinates (the scales, and every dataset the layout writes, such as micro's step) are
    // read to place every value: they must be the configuration's own.
    if ((e.is_scale() || e.has_stored_values()) && f.read<double>() != e.read<double>())
      refuse("coordinate " + what + " differs from the file's configuration");
  }
}

void check_flags(const h5::Dataset& dataset, std::size_t table, const std::string& what,
                 const Refuse& refuse) {
  for (const auto value : dataset.read<std::int8_t>())
    if (value < 0 || static_cast<std::size_t>(value) >= table)
      refuse(what + " holds " + std::to_string(value) + ", outside its flag table");
}

// A provenance attribute that is missing or not text is refused like any other damage.
std::string text_attribute(const h5::Group& root, const std::string& name, const Refuse& refuse) {
  try {
    return root.string_attribute(name);
  } catch (const std::exception&) {
    refuse("its attribute " + name + " is missing or not text");
  }
  return {};
}

// Both shard attributes or neither; integers with 0 ≤ index < count.
void read_shard(const h5::Group& root, long long& index, long long& count, const Refuse& refuse) {
  if (root.has_attribute("shard_index") != root.has_attribute("shard_count"))
    refuse("has only one of the attributes shard_index, shard_count");
  if (!root.has_attribute("shard_index")) return;
  try {
    index = root.integer_attribute("shard_index");
    count = root.integer_attribute("shard_count");
  } catch (const std::exception&) {
    refuse("shard_index, shard_count are not integers");
  }
  if (!(count >= 1 && count <= 1000000 && index >= 0 && index < count))
    refuse("shard_index, shard_count are not a shard I of K");
}

// The protocol groups of `expected`, each checked in `root`, its flags inside their tables.
std::vector<std::string> check_protocols(const h5::Group& expected, const h5::Group& root,
                                         const Refuse& refuse) {
  std::vector<std::string> protocols;
  for (const std::string& protocol : expected.link_names()) {
    if (!expected.is_group(protocol)) continue;
    if (!root.has_link(protocol) || !root.is_group(protocol)) refuse("has no group /" + protocol);
    const h5::Group group = root.open_group(protocol);
    const std::string where = "/" + protocol + "/";
    check_group(expected.open_group(protocol), group, where, refuse);
    for (const char* status : {"status", "status_horizon"})
      if (group.has_link(status))
        check_flags(group.open_dataset(status), sweep::point_status_names.size(), where + status,
                    refuse);
    if (group.has_link("owned")) {
      if (group.is_group("owned") ||
          group.open_dataset("owned").dims() != group.open_dataset("status").dims())
        refuse("dataset " + where + "owned has the wrong shape");
      check_flags(group.open_dataset("owned"), 2, where + "owned", refuse);
    }
    protocols.push_back(protocol);
  }
  return protocols;
}

}  // namespace

SweepReader SweepReader::open(const std::string& path, const LayoutOf& layout_of,
                              const Refuse& refuse) {
  SweepReader reader;
  // A FIFO would block the open forever (and a device or socket is no sweep file): only a
  // regular file is opened. A path that does not exist is left to the open's own message.
  if (is_special_file(path)) refuse("not a regular file (a directory, FIFO, device or socket)");
  try {
    reader.file_ = h5::File::open_read_only(path);
  } catch (const h5::Error& e) {
    refuse("not a readable HDF5 file" + (e.cause().empty() ? "" : ": " + e.cause()));
  } catch (const std::exception&) {
    refuse("not a readable HDF5 file");
  }
  try {
    reader.file_.check_metadata();
    const h5::Group root = reader.file_.root();
    if (!root.has_attribute("subcommand") || !root.has_attribute("config"))
      refuse("not a cdl file");
    reader.subcommand_ = text_attribute(root, "subcommand", refuse);
    if (reader.subcommand_ != "theory" && reader.subcommand_ != "micro")
      refuse("not a cdl theory or micro sweep file (subcommand '" + reader.subcommand_ + "')");
    reader.config_ = text_attribute(root, "config", refuse);
    reader.version_ = text_attribute(root, "cdl_version", refuse);
    read_shard(root, reader.shard_index_, reader.shard_count_, refuse);
    h5::File expected;
    try {
      expected = layout_of(reader.subcommand_, reader.config_);
    } catch (const InputError& e) {
      refuse(std::string("its config is not a valid configuration: ") + e.what());
    }
    check_group(expected.root(), root, "/", refuse);
    reader.protocols_ = check_protocols(expected.root(), root, refuse);
    // Killed after the last dataset but before the seal: nothing can have been written.
    if (!SweepFile::is_sealed(root)) refuse("its creation was interrupted (no layout_complete)");
    reader.depths_ = root.open_dataset("depth").read<std::int32_t>();
    reader.runs_ = root.open_dataset("run").dims().at(0);
    reader.units_ = root.has_attribute("population") ? 0 : root.open_dataset("unit").dims().at(0);
  } catch (const InputError&) {
    throw;
  } catch (const std::exception& e) {
    refuse(std::string("damaged: ") + e.what());
  }
  return reader;
}

std::vector<double> SweepReader::sigma(const std::string& protocol) const {
  return file_.root().open_group(protocol).open_dataset("sigma").read<double>();
}

template <class T>
PointTable<T> SweepReader::points(const std::string& protocol, const std::string& name) const {
  PointTable<T> table;
  table.depths = depths_.size();
  table.runs = runs_;
  table.sigmas = file_.root().open_group(protocol).open_dataset("sigma").dims().at(0);
  table.values = file_.root().open_group(protocol).open_dataset(name).read<T>();
  // Checked layout: a summary dataset holds one value per point.
  if (table.values.size() != table.depths * table.runs * table.sigmas)
    throw RuntimeError("/" + protocol + "/" + name + " holds more than one value per point");
  return table;
}

std::vector<double> SweepReader::horizons(const std::string& protocol) const {
  return file_.root().open_group(protocol).open_dataset("horizon").read<double>();
}

std::vector<PointTable<double>> SweepReader::horizon_points(const std::string& protocol,
                                                            const std::string& name) const {
  const std::size_t count = horizons(protocol).size();
  const std::vector<double> all =
      file_.root().open_group(protocol).open_dataset(name).read<double>();
  PointTable<double> table;
  table.depths = depths_.size();
  table.runs = runs_;
  table.sigmas = sigma(protocol).size();
  const std::size_t points = table.depths * table.runs * table.sigmas;
  // Checked layout: one value per point and horizon.
  if (all.size() != points * count)
    throw RuntimeError("/" + protocol + "/" + name + " is not [depth, run, sigma, horizon]");
  std::vector<PointTable<double>> tables(count, table);
  for (std::size_t h = 0; h < count; ++h) {
    tables[h].values.resize(points);
    for (std::size_t point = 0; point < points; ++point)
      tables[h].values[point] = all[point * count + h];
  }
  return tables;
}

PointTable<std::int8_t> SweepReader::owned(const std::string& protocol) const {
  if (file_.root().open_group(protocol).has_link("owned"))
    return points<std::int8_t>(protocol, "owned");
  PointTable<std::int8_t> all = points<std::int8_t>(protocol, "status");
  std::fill(all.values.begin(), all.values.end(), std::int8_t{1});
  return all;
}

std::vector<double> SweepReader::per_run(const std::string& name) const {
  return file_.root().open_dataset(name).read<double>();
}

template PointTable<double> SweepReader::points(const std::string&, const std::string&) const;
template PointTable<std::int8_t> SweepReader::points(const std::string&, const std::string&) const;
template PointTable<std::int64_t> SweepReader::points(const std::string&, const std::string&) const;

bool is_special_file(const std::string& path) {
  struct stat status {};
  return ::stat(path.c_str(), &status) == 0 && !S_ISREG(status.st_mode);
}

bool is_stationary_file(const std::string& path) {
  try {
    const h5::File file = h5::File::open_read_only(path);
    return file.root().string_attribute("subcommand") == "stationary";
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace cdl::io
