// The sweep-file layout: declared datasets with their shapes, scales and fill values, writes of
// chosen points only, status written last, sealing, reopening and the shard's `owned` mask,
// all read back through the h5 layer.
#include "io/sweep_file.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "base/errors.hpp"
#include "h5/hdf5.hpp"
#include "sweep/grid.hpp"
#include "sweep/status.hpp"
#include "sweep/work.hpp"
#include "test_support.hpp"

namespace h5 = cdl::h5;
namespace io = cdl::io;
namespace sweep = cdl::sweep;
namespace fs = std::filesystem;
using io::Shape;
using sweep::PointStatus;

namespace {

constexpr std::int8_t status_of(PointStatus status) { return static_cast<std::int8_t>(status); }

using cdl::test::TemporaryDirectory;

// 2 depths, 3 runs, 4 sigmas, 5 units, 3 sample times, two protocols.
io::SweepAxes small_axes() {
  io::SweepAxes axes;
  axes.depths = {0, 3};
  axes.runs = 3;
  axes.units = 5;
  axes.sigma = {0.1, 0.25, 1.5, 4.0};
  axes.time = {0.0, 0.5, 2.0};
  axes.protocols = {sweep::Protocol::nonadiabatic, sweep::Protocol::adiabatic_up};
  axes.time_long_name = "integration time t";
  return axes;
}

const io::Provenance provenance{"cdl theory --units 5", "[theory]\nunits = 5\n"};

// The datasets a command declares, of every shape and type.
void declare(io::SweepFile& file) {
  file.add_quenched("disorder", "quenched disorder Delta_i");
  file.add_quenched("initial_state", "initial state phi_i(0)");
  file.add_per_run("spread", "spread of the disorder");
  file.add<double>("order_parameter", Shape::summary, "order parameter");
  file.add<std::int64_t>("steps", Shape::summary, "accepted steps");
  file.add<double>("m", Shape::trace, "mean field m(t)");
  file.add<double>("final_state", Shape::unit, "final state");
  file.add<double>("coupling", Shape::unit_pair, "coupling J_ij");
  const std::vector<std::int64_t> step = {0, 10, 40};
  file.add_time_coordinate<std::int64_t>("step", step, "integrator step of the sample");
}

std::size_t product(const h5::Dims& dims) {
  std::size_t n = 1;
  for (const hsize_t d : dims) n *= d;
  return n;
}

bool all_nan(const std::vector<double>& values) {
  for (const double x : values)
    if (!std::isnan(x)) return false;
  return true;
}

// The row-major index of [depth, run, sigma, rest...] given the dataset's dims.
std::size_t flat(const h5::Dims& dims, std::vector<std::size_t> index) {
  std::size_t at = 0;
  for (std::size_t k = 0; k < dims.size(); ++k)
    at = at * dims[k] + (k < index.size() ? index[k] : 0);
  return at;
}

std::vector<double> read_doubles(const h5::Group& group, const std::string& name) {
  return group.open_dataset(name).read<double>();
}

}  // namespace

TEST_CASE("a new sweep file has every declared dataset with its shape and scales", "[sweep_file]") {
  const TemporaryDirectory directory;
  const std::string path = directory.path("layout.h5");
  const io::SweepAxes axes = small_axes();
  {
    io::SweepFile file(h5::File::create(path), axes, provenance, "theory");
    declare(file);
    file.seal();
    file.close();
  }
  const h5::File file = h5::File::open_read_only(path);
  const h5::Group root = file.root();
  CHECK(root.string_attribute("command") == provenance.command);
  CHECK(root.string_attribute("config") == provenance.config_ini);
  CHECK(root.string_attribute("subcommand") == "theory");
  CHECK(root.has_attribute("cdl_version"));
  CHECK(root.has_attribute("created"));
  CHECK(io::SweepFile::is_sealed(root));

  CHECK(root.open_dataset("depth").read<std::int32_t>() == std::vector<std::int32_t>{0, 3});
  CHECK(root.open_dataset("run").read<std::int32_t>() == std::vector<std::int32_t>{0, 1, 2});
  CHECK(root.open_dataset("unit").read<std::int32_t>() == std::vector<std::int32_t>{0, 1, 2, 3, 4});
  for (const std::string name : {"disorder", "initial_state"}) {
    const h5::Dataset quenched = root.open_dataset(name);
    CHECK(quenched.dims() == h5::Dims{2, 3, 5});
    CHECK(quenched.scale_names() == std::vector<std::string>{"depth", "run", "unit"});
    CHECK(quenched.has_attribute("long_name"));
  }
  CHECK(root.open_dataset("spread").dims() == h5::Dims{2, 3});
  CHECK(root.open_dataset("spread").scale_names() == std::vector<std::string>{"depth", "run"});

  for (const sweep::Protocol protocol : axes.protocols) {
    INFO("protocol " << sweep::name(protocol));
    const h5::Group group = root.open_group(sweep::name(protocol));
    CHECK(group.string_attribute("protocol") == sweep::name(protocol));
    CHECK(group.has_attribute("visiting_order"));
    CHECK(group.open_dataset("sigma").read<double>() == axes.sigma);
    CHECK(group.open_dataset("time").read<double>() == axes.time);
    CHECK(group.open_dataset("time").string_attribute("long_name") == axes.time_long_name);
    CHECK(group.open_dataset("depth").read<std::int32_t>() == std::vector<std::int32_t>{0, 3});
    CHECK(group.open_dataset("run").read<std::int32_t>() == std::vector<std::int32_t>{0, 1, 2});
    CHECK(group.open_dataset("unit").read<std::int32_t>() ==
          std::vector<std::int32_t>{0, 1, 2, 3, 4});
    CHECK(group.open_dataset("unit_j").read<std::int32_t>() ==
          std::vector<std::int32_t>{0, 1, 2, 3, 4});
    for (const std::string scale : {"depth", "run", "sigma", "time", "unit", "unit_j"})
      CHECK(group.open_dataset(scale).is_scale());

    const std::vector<std::string> summary_scales = {"depth", "run", "sigma"};
    for (const std::string name : {"status", "order_parameter", "steps"}) {
      CHECK(group.open_dataset(name).dims() == h5::Dims{2, 3, 4});
      CHECK(group.open_dataset(name).scale_names() == summary_scales);
    }
    CHECK(group.open_dataset("m").dims() == h5::Dims{2, 3, 4, 3});
    CHECK(group.open_dataset("m").scale_names() ==
          std::vector<std::string>{"depth", "run", "sigma", "time"});
    CHECK(group.open_dataset("final_state").dims() == h5::Dims{2, 3, 4, 5});
    CHECK(group.open_dataset("final_state").scale_names() ==
          std::vector<std::string>{"depth", "run", "sigma", "unit"});
    CHECK(group.open_dataset("coupling").dims() == h5::Dims{2, 3, 4, 5, 5});
    CHECK(group.open_dataset("coupling").scale_names() ==
          std::vector<std::string>{"depth", "run", "sigma", "unit", "unit_j"});

    // Stored types follow the declarations.
    CHECK(group.open_dataset("status").stored_type_class() == H5T_INTEGER);
    CHECK(group.open_dataset("status").stored_type_size() == 1);
    CHECK(group.open_dataset("steps").stored_type_class() == H5T_INTEGER);
    CHECK(group.open_dataset("steps").stored_type_size() == 8);
    CHECK(group.open_dataset("m").stored_type_class() == H5T_FLOAT);

    const h5::Dataset step = group.open_dataset("step");
    CHECK(step.read<std::int64_t>() == std::vector<std::int64_t>{0, 10, 40});
    CHECK(step.scale_names() == std::vector<std::string>{"time"});

    const h5::Dataset status = group.open_dataset("status");
    CHECK(status.string_attribute("flag_meanings") == sweep::flag_meanings());
  }
}

TEST_CASE("before anything is written doubles are NaN and every status is not_run",
          "[sweep_file]") {
  const TemporaryDirectory directory;
  const std::string path = directory.path("fill.h5");
  const io::SweepAxes axes = small_axes();
  {
    io::SweepFile file(h5::File::create(path), axes, provenance, "theory");
    declare(file);
    file.seal();
    for (int p = 0; p < 2; ++p) {
      const auto status = file.read_status(p);
      CHECK(status.depths == 2);
      CHECK(status.runs == 3);
      CHECK(status.sigmas == 4);
      CHECK(status.values == std::vector<std::int8_t>(24, status_of(PointStatus::not_run)));
    }
    file.close();
  }
  const h5::File file = h5::File::open_read_only(path);
  const h5::Group root = file.root();
  for (const std::string name : {"disorder", "initial_state", "spread"}) {
    const auto values = read_doubles(root, name);
    CHECK(values.size() == product(root.open_dataset(name).dims()));
    CHECK(all_nan(values));
  }
  for (const sweep::Protocol protocol : axes.protocols) {
    const h5::Group group = root.open_group(sweep::name(protocol));
    for (const std::string name : {"order_parameter", "m", "final_state", "coupling"}) {
      INFO(sweep::name(protocol) << "/" << name);
      const auto values = read_doubles(group, name);
      CHECK(values.size() == product(group.open_dataset(name).dims()));
      CHECK(all_nan(values));
    }
    CHECK(group.open_dataset("steps").read<std::int64_t>() == std::vector<std::int64_t>(24, 0));
    CHECK(group.open_dataset("status").read<std::int8_t>() ==
          std::vector<std::int8_t>(24, status_of(PointStatus::not_run)));
  }
}

TEST_CASE("write stores exactly the listed sigma points of one chain", "[sweep_file]") {
  const TemporaryDirectory directory;
  const std::string path = directory.path("write.h5");
  const io::SweepAxes axes = small_axes();
  const int protocol = 1, depth = 1, run = 2;
  const std::vector<int> listed = {3, 1};  // in visiting order, not grid order
  // The chain's whole slice: every sigma, then the trailing dimensions; distinct values.
  std::vector<double> summary(4), trace(4 * 3), pair(4 * 5 * 5);
  for (std::size_t i = 0; i < summary.size(); ++i) summary[i] = 100.0 + static_cast<double>(i);
  for (std::size_t i = 0; i < trace.size(); ++i) trace[i] = 0.5 * static_cast<double>(i) - 3;
  for (std::size_t i = 0; i < pair.size(); ++i) pair[i] = 1000.0 + static_cast<double>(i);
  const std::vector<std::int64_t> steps = {11, 12, 13, 14};
  {
    io::SweepFile file(h5::File::create(path), axes, provenance, "theory");
    declare(file);
    file.seal();
    file.write<double>(protocol, "order_parameter", depth, run, listed, summary);
    file.write<double>(protocol, "m", depth, run, listed, trace);
    file.write<double>(protocol, "coupling", depth, run, listed, pair);
    file.write<std::int64_t>(protocol, "steps", depth, run, listed, steps);
    // A whole chain of the other protocol at another (depth, run).
    const std::vector<int> all = {0, 1, 2, 3};
    file.write<double>(0, "order_parameter", 0, 1, all, summary);
    file.close();
  }
  const h5::File file = h5::File::open_read_only(path);
  const h5::Group group = file.root().open_group(sweep::name(axes.protocols[protocol]));
  const auto is_listed = [&](std::size_t d, std::size_t r, std::size_t s) {
    return d == static_cast<std::size_t>(depth) && r == static_cast<std::size_t>(run) &&
           (s == 1 || s == 3);
  };
  const h5::Dims summary_dims{2, 3, 4};
  const auto order_parameter = read_doubles(group, "order_parameter");
  const auto step_values = group.open_dataset("steps").read<std::int64_t>();
  const auto m = read_doubles(group, "m");
  const auto coupling = read_doubles(group, "coupling");
  for (std::size_t d = 0; d < 2; ++d)
    for (std::size_t r = 0; r < 3; ++r)
      for (std::size_t s = 0; s < 4; ++s) {
        INFO("point " << d << " " << r << " " << s);
        const std::size_t at = flat(summary_dims, {d, r, s});
        if (is_listed(d, r, s)) {
          CHECK(order_parameter[at] == summary[s]);
          CHECK(step_values[at] == steps[s]);
        } else {
          CHECK(std::isnan(order_parameter[at]));
          CHECK(step_values[at] == 0);
        }
        for (std::size_t t = 0; t < 3; ++t) {
          const double value = m[flat({2, 3, 4, 3}, {d, r, s, t})];
          if (is_listed(d, r, s))
            CHECK(value == trace[s * 3 + t]);
          else
            CHECK(std::isnan(value));
        }
        for (std::size_t i = 0; i < 5; ++i)
          for (std::size_t j = 0; j < 5; ++j) {
            const double value = coupling[flat({2, 3, 4, 5, 5}, {d, r, s, i, j})];
            if (is_listed(d, r, s))
              CHECK(value == pair[(s * 5 + i) * 5 + j]);
            else
              CHECK(std::isnan(value));
          }
      }
  // The other protocol: the whole chain at (0, 1), nothing else.
  const auto other =
      read_doubles(file.root().open_group(sweep::name(axes.protocols[0])), "order_parameter");
  for (std::size_t d = 0; d < 2; ++d)
    for (std::size_t r = 0; r < 3; ++r)
      for (std::size_t s = 0; s < 4; ++s) {
        const double value = other[flat(summary_dims, {d, r, s})];
        if (d == 0 && r == 1)
          CHECK(value == summary[s]);
        else
          CHECK(std::isnan(value));
      }
}

TEST_CASE("write_quenched and write_per_run write one realization only", "[sweep_file]") {
  const TemporaryDirectory directory;
  const std::string path = directory.path("quenched.h5");
  const std::vector<double> row = {-1.5, 0.25, 3.0, -0.0, 7.75};
  {
    io::SweepFile file(h5::File::create(path), small_axes(), provenance, "theory");
    declare(file);
    file.seal();
    file.write_quenched("disorder", 1, 0, row);
    file.write_per_run("spread", 0, 2, 0.125);
    CHECK_THROWS_AS(file.write_quenched("no_such_input", 0, 0, row), cdl::RuntimeError);
    CHECK_THROWS_AS(file.write_per_run("no_such_input", 0, 0, 1.0), cdl::RuntimeError);
    file.close();
  }
  const h5::File file = h5::File::open_read_only(path);
  const auto disorder = read_doubles(file.root(), "disorder");
  for (std::size_t d = 0; d < 2; ++d)
    for (std::size_t r = 0; r < 3; ++r)
      for (std::size_t u = 0; u < 5; ++u) {
        const double value = disorder[(d * 3 + r) * 5 + u];
        if (d == 1 && r == 0)
          CHECK(value == row[u]);
        else
          CHECK(std::isnan(value));
      }
  CHECK(all_nan(read_doubles(file.root(), "initial_state")));
  const auto spread = read_doubles(file.root(), "spread");
  for (std::size_t i = 0; i < spread.size(); ++i) {
    if (i == 0 * 3 + 2)
      CHECK(spread[i] == 0.125);
    else
      CHECK(std::isnan(spread[i]));
  }
}

TEST_CASE("finish_points writes the status of the listed points", "[sweep_file]") {
  const TemporaryDirectory directory;
  const std::string path = directory.path("status.h5");
  const io::SweepAxes axes = small_axes();
  // The chain's whole status slice; only sigma 0 and 2 are finished.
  const std::vector<std::int8_t> slice = {
      status_of(PointStatus::done), status_of(PointStatus::step_budget),
      status_of(PointStatus::diverged), status_of(PointStatus::chain_broken)};
  const std::vector<int> finished = {2, 0};
  io::SweepFile file(h5::File::create(path), axes, provenance, "theory");
  declare(file);
  file.seal();
  file.finish_points(0, 1, 1, finished, slice);
  const auto status = file.read_status(0);
  for (std::size_t d = 0; d < 2; ++d)
    for (std::size_t r = 0; r < 3; ++r)
      for (std::size_t s = 0; s < 4; ++s) {
        INFO("point " << d << " " << r << " " << s);
        if (d == 1 && r == 1 && (s == 0 || s == 2))
          CHECK(status.at(d, r, s) == slice[s]);
        else
          CHECK(status.at(d, r, s) == status_of(PointStatus::not_run));
      }
  // The other protocol is untouched.
  CHECK(file.read_status(1).values ==
        std::vector<std::int8_t>(24, status_of(PointStatus::not_run)));
  file.close();
  // And on disk.
  const h5::File reader = h5::File::open_read_only(path);
  CHECK(reader.root()
            .open_group(sweep::name(axes.protocols[0]))
            .open_dataset("status")
            .read<std::int8_t>() == status.values);
}

TEST_CASE("only a sealed file reopens and its status reads back", "[sweep_file]") {
  const TemporaryDirectory directory;
  const io::SweepAxes axes = small_axes();
  SECTION("a file that was not sealed is refused") {
    const std::string path = directory.path("unsealed.h5");
    {
      io::SweepFile file(h5::File::create(path), axes, provenance, "theory");
      declare(file);
      CHECK_FALSE(io::SweepFile::is_sealed(file.root()));
      file.close();
    }
    std::string message;
    try {
      io::SweepFile reopened(path, axes);
    } catch (const cdl::RuntimeError& error) {
      message = error.what();
    }
    CHECK(message.find(path) != std::string::npos);
  }
  SECTION("a file that does not exist is refused") {
    CHECK_THROWS_AS(io::SweepFile(directory.path("missing.h5"), axes), cdl::RuntimeError);
  }
  SECTION("a sealed file reopens with what was written") {
    const std::string path = directory.path("sealed.h5");
    const std::vector<std::int8_t> first = {
        status_of(PointStatus::done), status_of(PointStatus::not_converged),
        status_of(PointStatus::step_underflow), status_of(PointStatus::done)};
    const std::vector<double> op = {0.5, 0.25, 0.125, 0.0625};
    const std::vector<double> row = {1, 2, 3, 4, 5};
    {
      io::SweepFile file(h5::File::create(path), axes, provenance, "theory");
      declare(file);
      file.seal();
      CHECK(io::SweepFile::is_sealed(file.root()));
      const std::vector<int> all = {0, 1, 2, 3};
      file.write<double>(1, "order_parameter", 0, 2, all, op);
      file.finish_points(1, 0, 2, all, first);
      file.close();
    }
    std::vector<std::int8_t> expected(24, status_of(PointStatus::not_run));
    for (std::size_t s = 0; s < 4; ++s) expected[(0 * 3 + 2) * 4 + s] = first[s];
    {
      io::SweepFile file(path, axes);
      CHECK(file.read_status(1).values == expected);
      CHECK(file.read_status(0).values ==
            std::vector<std::int8_t>(24, status_of(PointStatus::not_run)));
      // Resuming: more points and quenched inputs go into the reopened file.
      const std::vector<int> one = {3};
      const std::vector<std::int8_t> more = {0, 0, 0, status_of(PointStatus::diverged)};
      file.finish_points(0, 1, 0, one, more);
      file.write_quenched("initial_state", 0, 2, row);
      file.close();
    }
    const h5::File file = h5::File::open_read_only(path);
    const h5::Group root = file.root();
    const auto status0 =
        root.open_group(sweep::name(axes.protocols[0])).open_dataset("status").read<std::int8_t>();
    for (std::size_t i = 0; i < status0.size(); ++i)
      CHECK(status0[i] == (i == (1 * 3 + 0) * 4 + 3 ? status_of(PointStatus::diverged)
                                                    : status_of(PointStatus::not_run)));
    const auto stored_op =
        read_doubles(root.open_group(sweep::name(axes.protocols[1])), "order_parameter");
    for (std::size_t s = 0; s < 4; ++s) CHECK(stored_op[(0 * 3 + 2) * 4 + s] == op[s]);
    const auto initial_state = read_doubles(root, "initial_state");
    for (std::size_t u = 0; u < 5; ++u) CHECK(initial_state[(0 * 3 + 2) * 5 + u] == row[u]);
  }
}

TEST_CASE("a dataset declared twice or written without declaration is an error", "[sweep_file]") {
  const TemporaryDirectory directory;
  io::SweepFile file(h5::File::create(directory.path("twice.h5")), small_axes(), provenance,
                     "theory");
  file.add<double>("loss", Shape::summary, "loss");
  CHECK_THROWS_AS(file.add<double>("loss", Shape::summary, "loss"), cdl::RuntimeError);
  file.add_quenched("disorder", "disorder");
  CHECK_THROWS_AS(file.add_quenched("disorder", "disorder"), cdl::RuntimeError);
  const std::vector<int> sigma = {0};
  const std::vector<double> values(4, 1.0);
  CHECK_THROWS_AS(file.write<double>(0, "no_such_dataset", 0, 0, sigma, values), cdl::RuntimeError);
  file.close();
}

TEST_CASE("mark_shard records the shard and the points it owns", "[sweep_file]") {
  const TemporaryDirectory directory;
  const io::SweepAxes axes = small_axes();
  // Non-adiabatic chains split into single points, adiabatic ones whole: skewed costs.
  const auto items = sweep::make_work_items(axes.protocols, 2, axes.runs, axes.sigma, true,
                                            [](int d, int s) { return 1.0 + d + s * s; });
  const int count = 3;
  std::vector<int> shard_of;
  SECTION("shards balanced by assign_shards") { shard_of = sweep::assign_shards(items, count); }
  SECTION("shards assigned round robin") {
    // Unlike the balanced split of these symmetric costs, a point's shard here differs
    // between the protocols.
    for (std::size_t i = 0; i < items.size(); ++i) shard_of.push_back(static_cast<int>(i % count));
  }
  REQUIRE(shard_of.size() == items.size());
  std::vector<std::vector<std::int8_t>> owned_by_shard[2];
  for (int index = 0; index < count; ++index) {
    const std::string path = directory.path("shard" + std::to_string(index) + ".h5");
    {
      io::SweepFile file(h5::File::create(path), axes, provenance, "theory");
      declare(file);
      file.mark_shard(items, shard_of, {index, count});
      file.seal();
      file.close();
    }
    const h5::File file = h5::File::open_read_only(path);
    const h5::Group root = file.root();
    CHECK(root.integer_attribute("shard_index") == index);
    CHECK(root.integer_attribute("shard_count") == count);
    for (std::size_t p = 0; p < axes.protocols.size(); ++p) {
      INFO("shard " << index << " protocol " << p);
      const h5::Dataset owned =
          root.open_group(sweep::name(axes.protocols[p])).open_dataset("owned");
      CHECK(owned.dims() == h5::Dims{2, 3, 4});
      CHECK(owned.scale_names() == std::vector<std::string>{"depth", "run", "sigma"});
      const auto mask = owned.read<std::int8_t>();
      // Expected from the items directly: 1 exactly at the points of this shard's items.
      std::vector<std::int8_t> expected(24, 0);
      for (std::size_t i = 0; i < items.size(); ++i) {
        const sweep::Chain& c = items[i].chain;
        if (shard_of[i] != index || c.protocol != static_cast<int>(p)) continue;
        for (const int s : items[i].sigma)
          expected[(static_cast<std::size_t>(c.depth_index) * 3 + static_cast<std::size_t>(c.run)) *
                       4 +
                   static_cast<std::size_t>(s)] = 1;
      }
      CHECK(mask == expected);
      owned_by_shard[p].push_back(mask);
    }
  }
  // The shards partition every point: each is owned by exactly one, and each shard owns some.
  for (std::size_t p = 0; p < 2; ++p)
    for (std::size_t point = 0; point < 24; ++point) {
      int owners = 0;
      for (int index = 0; index < count; ++index) owners += owned_by_shard[p][index][point];
      CHECK(owners == 1);
    }
  for (int index = 0; index < count; ++index) {
    int points = 0;
    for (std::size_t p = 0; p < 2; ++p)
      for (const std::int8_t x : owned_by_shard[p][index]) points += x;
    CHECK(points > 0);
  }
  // An adiabatic chain is owned whole by one shard.
  for (std::size_t d = 0; d < 2; ++d)
    for (std::size_t r = 0; r < 3; ++r)
      for (int index = 0; index < count; ++index) {
        const auto& mask = owned_by_shard[1][index];
        const std::size_t first = (d * 3 + r) * 4;
        for (std::size_t s = 1; s < 4; ++s) CHECK(mask[first + s] == mask[first]);
      }
}

TEST_CASE("mark_shard of a single shard records it without an owned mask", "[sweep_file]") {
  const TemporaryDirectory directory;
  const std::string path = directory.path("single.h5");
  const io::SweepAxes axes = small_axes();
  {
    io::SweepFile file(h5::File::create(path), axes, provenance, "theory");
    declare(file);
    file.mark_shard({}, {}, {0, 1});
    file.seal();
    file.close();
  }
  const h5::File file = h5::File::open_read_only(path);
  CHECK(file.root().integer_attribute("shard_index") == 0);
  CHECK(file.root().integer_attribute("shard_count") == 1);
  for (const sweep::Protocol protocol : axes.protocols)
    CHECK_FALSE(file.root().open_group(sweep::name(protocol)).has_link("owned"));
}
