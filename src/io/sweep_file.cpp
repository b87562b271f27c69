#include "io/sweep_file.hpp"

#include <chrono>
#include <cstdint>
#include <ctime>
#include <numeric>

#include "base/errors.hpp"
#include "base/not_a_number.hpp"
#include "sweep/status.hpp"

namespace cdl::io {

namespace {

using h5::Dims;

std::string utc_timestamp() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

std::vector<std::int32_t> index_range(std::size_t n) {
  std::vector<std::int32_t> values(n);
  std::iota(values.begin(), values.end(), 0);
  return values;
}

// Chunks hold one chain's slice [1, 1, …]: the unit of writing (an unsharded run writes whole
// chains, so it never reads a chunk back) and of typical reading.
h5::DatasetOptions per_chain_chunks(const Dims& dims, double fill) {
  Dims chunk = dims;
  chunk[0] = 1;
  chunk[1] = 1;
  return {chunk, 0, true, fill};  // uncompressed: see the crash-safety note in the header
}

template <class T>
h5::Dataset create_variable(const h5::Group& group, const std::string& name, const Dims& dims,
                            const std::vector<const h5::Dataset*>& scales,
                            const std::string& long_name, double fill) {
  h5::Dataset dataset = group.create_dataset<T>(name, dims, per_chain_chunks(dims, fill));
  for (unsigned d = 0; d < scales.size(); ++d) scales[d]->attach_to(dataset, d);
  dataset.set_attribute("long_name", long_name);
  return dataset;
}

template <class T>
double fill_value() {
  return std::is_floating_point_v<T> ? base::nan : 0.0;
}

std::string visiting_order_text(sweep::Protocol protocol) {
  switch (protocol) {
    case sweep::Protocol::nonadiabatic:
      return "each sigma from the initial state";
    case sweep::Protocol::adiabatic_up:
      return "increasing sigma, continuing the state";
    case sweep::Protocol::adiabatic_down:
      return "decreasing sigma, continuing the state";
  }
  return "";
}

}  // namespace

void write_provenance(const h5::Group& root, const Provenance& provenance) {
  root.set_attribute("cdl_version", std::string(CDL_VERSION));
  root.set_attribute("command", provenance.command);
  root.set_attribute("config", provenance.config_ini);
  root.set_attribute("created", utc_timestamp());
}

SweepFile::SweepFile(h5::File file, const SweepAxes& axes, const Provenance& provenance,
                     const std::string& subcommand)
    : axes_(axes), file_(std::move(file)), root_(file_.root()) {
  write_provenance(root_, provenance);
  root_.set_attribute("subcommand", subcommand);
  const std::vector<std::int32_t> depths(axes.depths.begin(), axes.depths.end());
  const std::vector<std::int32_t> runs = index_range(static_cast<std::size_t>(axes.runs));
  root_depth_ = root_.create_scale<std::int32_t>("depth", depths);
  root_run_ = root_.create_scale<std::int32_t>("run", runs);
  root_unit_ =
      root_.create_scale<std::int32_t>("unit", index_range(static_cast<std::size_t>(axes.units)));
  for (const sweep::Protocol protocol : axes.protocols) {
    ProtocolGroup p;
    p.group = root_.create_group(sweep::name(protocol));
    p.group.set_attribute("protocol", sweep::name(protocol));
    p.group.set_attribute("visiting_order", visiting_order_text(protocol));
    p.sigma = p.group.create_scale<double>("sigma", axes.sigma);
    p.sigma.set_attribute("long_name", std::string("coupling strength sigma"));
    p.depth = p.group.create_scale<std::int32_t>("depth", depths);
    p.run = p.group.create_scale<std::int32_t>("run", runs);
    p.time = p.group.create_scale<double>("time", axes.time);
    p.time.set_attribute("long_name", axes.time_long_name);
    groups_.push_back(std::move(p));
  }
  add_status("status", Shape::summary, "outcome of the point");
  file_.flush();
}

void SweepFile::add_status(const std::string& name, Shape shape, const std::string& long_name) {
  add_filled<std::int8_t>(name, shape, long_name, static_cast<double>(sweep::PointStatus::not_run));
  const std::vector<std::int32_t> flag_values = index_range(sweep::point_status_names.size());
  for (ProtocolGroup& p : groups_) {
    const h5::Dataset& status = p.datasets.at(name);
    status.set_attribute("flag_values", std::span<const std::int32_t>(flag_values));
    status.set_attribute("flag_meanings", sweep::flag_meanings());
  }
}

Dims SweepFile::dims(Shape shape) const {
  Dims dims{axes_.depths.size(), static_cast<hsize_t>(axes_.runs), axes_.sigma.size()};
  const auto units = static_cast<hsize_t>(axes_.units);
  switch (shape) {
    case Shape::summary:
      break;
    case Shape::trace:
      dims.push_back(axes_.time.size());
      break;
    case Shape::unit:
      dims.push_back(units);
      break;
    case Shape::unit_pair:
      dims.push_back(units);
      dims.push_back(units);
      break;
    case Shape::horizon:
      dims.push_back(axes_.horizon.size());
      break;
  }
  return dims;
}

h5::Dataset& SweepFile::add_quenched(const std::string& name, const std::string& long_name) {
  const Dims dims{axes_.depths.size(), static_cast<hsize_t>(axes_.runs),
                  static_cast<hsize_t>(axes_.units)};
  auto [at, inserted] = quenched_.emplace(
      name, create_variable<double>(root_, name, dims, {&root_depth_, &root_run_, &root_unit_},
                                    long_name, fill_value<double>()));
  if (!inserted) throw RuntimeError("sweep file: quenched input '" + name + "' declared twice");
  return at->second;
}

h5::Dataset& SweepFile::add_quenched_per_class(const std::string& name,
                                               const std::string& long_name, int classes) {
  if (root_class_.id() < 0)
    root_class_ =
        root_.create_scale<std::int32_t>("class", index_range(static_cast<std::size_t>(classes)));
  const Dims dims{axes_.depths.size(), static_cast<hsize_t>(axes_.runs),
                  static_cast<hsize_t>(axes_.units), static_cast<hsize_t>(classes)};
  auto [at, inserted] = quenched_.emplace(
      name, create_variable<double>(root_, name, dims,
                                    {&root_depth_, &root_run_, &root_unit_, &root_class_},
                                    long_name, fill_value<double>()));
  if (!inserted) throw RuntimeError("sweep file: quenched input '" + name + "' declared twice");
  return at->second;
}

h5::Dataset& SweepFile::add_per_run(const std::string& name, const std::string& long_name) {
  const Dims dims{axes_.depths.size(), static_cast<hsize_t>(axes_.runs)};
  auto [at, inserted] =
      quenched_.emplace(name, create_variable<double>(root_, name, dims, {&root_depth_, &root_run_},
                                                      long_name, fill_value<double>()));
  if (!inserted) throw RuntimeError("sweep file: root dataset '" + name + "' declared twice");
  return at->second;
}

void SweepFile::write_per_run(const std::string& name, int depth_index, int run, double value) {
  const auto found = quenched_.find(name);
  if (found == quenched_.end()) throw RuntimeError("sweep file: no root dataset '" + name + "'");
  found->second.write_block<double>({static_cast<hsize_t>(depth_index), static_cast<hsize_t>(run)},
                                    {1, 1}, std::span<const double>(&value, 1));
}

template <class T>
void SweepFile::add(const std::string& name, Shape shape, const std::string& long_name) {
  add_filled<T>(name, shape, long_name, fill_value<T>());
}

template <class T>
void SweepFile::add_filled(const std::string& name, Shape shape, const std::string& long_name,
                           double fill) {
  const Dims shape_dims = dims(shape);
  for (ProtocolGroup& p : groups_) {
    if ((shape == Shape::unit || shape == Shape::unit_pair) && p.unit.id() < 0)
      p.unit = p.group.create_scale<std::int32_t>(
          "unit", index_range(static_cast<std::size_t>(axes_.units)));
    std::vector<const h5::Dataset*> scales{&p.depth, &p.run, &p.sigma};
    if (shape == Shape::trace) scales.push_back(&p.time);
    if (shape == Shape::unit || shape == Shape::unit_pair) scales.push_back(&p.unit);
    // The second unit axis has a scale of its own, so that the two dimensions have distinct
    // names (xarray needs them distinct).
    if (shape == Shape::unit_pair && p.unit_j.id() < 0)
      p.unit_j = p.group.create_scale<std::int32_t>(
          "unit_j", index_range(static_cast<std::size_t>(axes_.units)));
    if (shape == Shape::unit_pair) scales.push_back(&p.unit_j);
    if (shape == Shape::horizon && p.horizon.id() < 0) {
      if (axes_.horizon.empty()) throw RuntimeError("sweep file: no horizons for '" + name + "'");
      p.horizon = p.group.create_scale<double>("horizon", axes_.horizon);
      p.horizon.set_attribute("long_name", axes_.horizon_long_name);
    }
    if (shape == Shape::horizon) scales.push_back(&p.horizon);
    if (!p.datasets
             .emplace(name, create_variable<T>(p.group, name, shape_dims, scales, long_name, fill))
             .second)
      throw RuntimeError("sweep file: dataset '" + name + "' declared twice");
  }
}

template <class T>
void SweepFile::add_time_coordinate(const std::string& name, std::span<const T> values,
                                    const std::string& long_name) {
  for (ProtocolGroup& p : groups_) {
    h5::Dataset dataset = p.group.create_dataset<T>(name, {values.size()});
    dataset.write<T>(values);
    p.time.attach_to(dataset, 0);
    dataset.set_attribute("long_name", long_name);
  }
}

const h5::Dataset& SweepFile::dataset(int protocol, const std::string& name) const {
  const auto& datasets = groups_[static_cast<std::size_t>(protocol)].datasets;
  const auto found = datasets.find(name);
  if (found == datasets.end()) throw RuntimeError("sweep file: no dataset '" + name + "'");
  return found->second;
}

void SweepFile::write_quenched(const std::string& name, int depth_index, int run,
                               std::span<const double> values) {
  const auto found = quenched_.find(name);
  if (found == quenched_.end()) throw RuntimeError("sweep file: no quenched input '" + name + "'");
  Dims offset(found->second.dims().size(), 0), count = found->second.dims();
  offset[0] = static_cast<hsize_t>(depth_index);
  offset[1] = static_cast<hsize_t>(run);
  count[0] = count[1] = 1;
  found->second.write_block<double>(offset, count, values);
}

template <class T>
void SweepFile::write(int protocol, const std::string& name, int depth_index, int run,
                      std::span<const int> sigma, std::span<const T> values) {
  const h5::Dataset& target = dataset(protocol, name);
  const Dims shape = target.dims();
  Dims offset(shape.size(), 0), count = shape;
  offset[0] = static_cast<hsize_t>(depth_index);
  offset[1] = static_cast<hsize_t>(run);
  count[0] = count[1] = 1;
  if (sigma.size() == axes_.sigma.size()) {  // the whole chain at once
    target.write_block<T>(offset, count, values);
    return;
  }
  const std::size_t per_point = values.size() / axes_.sigma.size();
  count[2] = 1;
  for (const int s : sigma) {
    offset[2] = static_cast<hsize_t>(s);
    target.write_block<T>(offset, count,
                          values.subspan(static_cast<std::size_t>(s) * per_point, per_point));
  }
}

void SweepFile::finish_points(int protocol, int depth_index, int run, std::span<const int> sigma,
                              std::span<const std::int8_t> status) {
  write<std::int8_t>(protocol, "status", depth_index, run, sigma, status);
  file_.flush();
}

PointTable<std::int8_t> SweepFile::read_status(int protocol) const {
  return {axes_.depths.size(), static_cast<std::size_t>(axes_.runs), axes_.sigma.size(),
          dataset(protocol, "status").read<std::int8_t>()};
}

void SweepFile::mark_shard(const std::vector<sweep::WorkItem>& items,
                           const std::vector<int>& shard_of, const sweep::Shard& shard) {
  root_.set_attribute("shard_index", std::int64_t{shard.index});
  root_.set_attribute("shard_count", std::int64_t{shard.count});
  if (shard.count == 1) return;
  add<std::int8_t>("owned", Shape::summary, "1 where the point belongs to this shard");
  const std::size_t n_sigma = axes_.sigma.size(), n_run = static_cast<std::size_t>(axes_.runs);
  for (std::size_t p = 0; p < groups_.size(); ++p) {
    std::vector<std::int8_t> owned(axes_.depths.size() * n_run * n_sigma, 0);
    for (std::size_t i = 0; i < items.size(); ++i) {
      const sweep::Chain& c = items[i].chain;
      if (shard_of[i] != shard.index || static_cast<std::size_t>(c.protocol) != p) continue;
      for (const int s : items[i].sigma)
        owned[(static_cast<std::size_t>(c.depth_index) * n_run + static_cast<std::size_t>(c.run)) *
                  n_sigma +
              static_cast<std::size_t>(s)] = 1;
    }
    dataset(static_cast<int>(p), "owned").write<std::int8_t>(owned);
  }
}

void SweepFile::seal() {
  root_.set_attribute("layout_complete", std::int64_t{1});
  file_.flush();
}

bool SweepFile::is_sealed(const h5::Group& root) { return root.has_attribute("layout_complete"); }

SweepFile::SweepFile(const std::string& path, const SweepAxes& axes)
    : axes_(axes), file_(h5::File::open_read_write(path)), root_(file_.root()) {
  if (!is_sealed(root_)) throw RuntimeError(path + " was not completely created");
  root_depth_ = root_.open_dataset("depth");
  root_run_ = root_.open_dataset("run");
  root_unit_ = root_.open_dataset("unit");
  for (const std::string& name : root_.link_names())
    if (!root_.is_group(name) && name != "depth" && name != "run" && name != "unit")
      quenched_.emplace(name, root_.open_dataset(name));
  for (const sweep::Protocol protocol : axes.protocols) {
    ProtocolGroup p;
    p.group = root_.open_group(sweep::name(protocol));
    for (const std::string& name : p.group.link_names())
      p.datasets.emplace(name, p.group.open_dataset(name));
    groups_.push_back(std::move(p));
  }
}

template void SweepFile::add<double>(const std::string&, Shape, const std::string&);
template void SweepFile::add<std::int64_t>(const std::string&, Shape, const std::string&);
template void SweepFile::add<std::int8_t>(const std::string&, Shape, const std::string&);
template void SweepFile::add_time_coordinate<std::int64_t>(const std::string&,
                                                           std::span<const std::int64_t>,
                                                           const std::string&);
template void SweepFile::write<double>(int, const std::string&, int, int, std::span<const int>,
                                       std::span<const double>);
template void SweepFile::write<std::int64_t>(int, const std::string&, int, int,
                                             std::span<const int>, std::span<const std::int64_t>);
template void SweepFile::write<std::int8_t>(int, const std::string&, int, int, std::span<const int>,
                                            std::span<const std::int8_t>);

}  // namespace cdl::io
