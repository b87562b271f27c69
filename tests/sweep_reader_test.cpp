// The validating reader of sweep files: a file that matches the layout its config produces is
// read, with every [depth, run, sigma] point where the writer put it; anything else is refused
// through the caller's Refuse, naming the dataset.
#include "io/sweep_reader.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "base/errors.hpp"
#include "io/sweep_file.hpp"
#include "sweep/status.hpp"
#include "test_support.hpp"

namespace h5 = cdl::h5;
namespace io = cdl::io;
namespace sweep = cdl::sweep;
using cdl::test::TemporaryDirectory;

namespace {

io::SweepAxes axes() {
  io::SweepAxes a;
  a.depths = {0, 2};
  a.runs = 3;
  a.units = 4;
  a.sigma = {0.1, 1.0, 10.0, 100.0, 1000.0};
  a.time = {0.0, 1.0};
  a.protocols = {sweep::Protocol::nonadiabatic, sweep::Protocol::adiabatic_up};
  return a;
}

// The layout of the configuration "ok": what the reader compares a file with.
h5::File lay_out(h5::File file, const std::string& config) {
  io::SweepFile layout(std::move(file), axes(), {"cdl theory", config}, "theory");
  layout.add_quenched("disorder", "quenched disorder");
  layout.add<double>("order_parameter", io::Shape::summary, "order parameter");
  layout.seal();
  return std::move(layout).release();
}

h5::File layout_of(const std::string& subcommand, const std::string& config) {
  if (subcommand != "theory" || config != "ok") throw cdl::InputError("not a configuration");
  return lay_out(h5::File::create_in_memory(), config);
}

// The refusal of opening `path`, "" if it opens.
std::string refusal(const std::string& path) {
  return cdl::test::message_of<cdl::InputError>([&] {
    io::SweepReader::open(path, layout_of,
                          [](const std::string& why) { throw cdl::InputError(why); });
  });
}

}  // namespace

TEST_CASE("the reader places every point where the writer put it", "[sweep_reader]") {
  const TemporaryDirectory directory;
  const std::string path = directory.path("sweep.h5");
  lay_out(h5::File::create(path), "ok").close();
  {
    io::SweepFile file(path, axes());
    // Point (d, r, s) holds 100 d + 10 r + s; depth 1, run 2 is left unwritten.
    for (int d = 0; d < 2; ++d)
      for (int r = 0; r < 3; ++r) {
        if (d == 1 && r == 2) continue;
        std::vector<double> values;
        for (int s = 0; s < 5; ++s) values.push_back(100 * d + 10 * r + s);
        const std::vector<int> sigma = {0, 1, 2, 3, 4};
        file.write<double>(0, "order_parameter", d, r, sigma, values);
        file.finish_points(0, d, r, sigma, std::vector<std::int8_t>(5, 0));
      }
  }
  REQUIRE(refusal(path).empty());
  const auto reader =
      io::SweepReader::open(path, layout_of, [](const std::string& why) { FAIL(why); });
  CHECK(reader.subcommand() == "theory");
  CHECK(reader.config() == "ok");
  CHECK(reader.depths() == std::vector<std::int32_t>{0, 2});
  CHECK(reader.runs() == 3);
  CHECK(reader.units() == 4);
  // The protocol groups in the file's (alphabetical) order of names.
  CHECK(reader.protocols() == std::vector<std::string>{"adiabatic_up", "nonadiabatic"});
  CHECK(reader.sigma("nonadiabatic") == axes().sigma);
  const io::PointTable<double> order = reader.points<double>("nonadiabatic", "order_parameter");
  const io::PointTable<std::int8_t> status = reader.points<std::int8_t>("nonadiabatic", "status");
  for (std::size_t d = 0; d < 2; ++d)
    for (std::size_t r = 0; r < 3; ++r)
      for (std::size_t s = 0; s < 5; ++s) {
        INFO("point " << d << " " << r << " " << s);
        if (d == 1 && r == 2) {
          CHECK(std::isnan(order.at(d, r, s)));
          CHECK(status.at(d, r, s) == static_cast<std::int8_t>(sweep::PointStatus::not_run));
        } else {
          CHECK(order.at(d, r, s) == 100.0 * d + 10.0 * r + s);
          CHECK(status.at(d, r, s) == 0);
        }
      }
  // A file that is no shard owns every point.
  for (const auto owned : reader.owned("adiabatic_up").values) CHECK(owned == 1);
  CHECK(reader.shard_count() == 1);
}

TEST_CASE("the reader refuses a file that differs from its layout", "[sweep_reader]") {
  const TemporaryDirectory directory;
  const auto damaged = [&](const std::string& name, const auto& damage) {
    const std::string path = directory.path(name);
    h5::File file = lay_out(h5::File::create(path), "ok");
    damage(file.root());
    file.close();
    return refusal(path);
  };
  // With HDF5's account: its reason, then its error stack from the API call inwards.
  const std::string unreadable = refusal(directory.file("text.h5", "not HDF5"));
  CHECK(unreadable.rfind("not a readable HDF5 file: Not an HDF5 file [H5Fopen: ", 0) == 0);
  CHECK(unreadable.find("H5F__super_read: file signature not found (H5Fsuper.c:") !=
        std::string::npos);
  CHECK(damaged("missing.h5", [](const h5::Group& root) {
          root.open_group("adiabatic_up").remove("order_parameter");
        }) == "has no dataset /adiabatic_up/order_parameter");
  CHECK(damaged("bad_status.h5", [](const h5::Group& root) {
          const std::vector<std::int8_t> values(30, 9);
          root.open_group("nonadiabatic").open_dataset("status").write<std::int8_t>(values);
        }) == "/nonadiabatic/status holds 9, outside its flag table");
  CHECK(damaged("sigma.h5", [](const h5::Group& root) {
          const std::vector<double> other = {0.1, 1.0, 10.0, 100.0, 999.0};
          root.open_group("nonadiabatic").open_dataset("sigma").write<double>(other);
        }) == "coordinate /nonadiabatic/sigma differs from the file's configuration");
  CHECK(damaged("config.h5", [](const h5::Group& root) {
          root.set_attribute("config", std::string("something else"));
        }) == "its config is not a valid configuration: not a configuration");
  // Shard attributes are integers, both present, with 0 <= index < count.
  CHECK(damaged("one_shard_attribute.h5", [](const h5::Group& root) {
          root.set_attribute("shard_index", std::int64_t{0});
        }) == "has only one of the attributes shard_index, shard_count");
  CHECK(damaged("float_shard.h5", [](const h5::Group& root) {
          root.set_attribute("shard_index", 0.0);
          root.set_attribute("shard_count", 2.0);
        }) == "shard_index, shard_count are not integers");
  CHECK(damaged("shard_range.h5", [](const h5::Group& root) {
          root.set_attribute("shard_index", std::int64_t{2});
          root.set_attribute("shard_count", std::int64_t{2});
        }) == "shard_index, shard_count are not a shard I of K");
  CHECK(damaged("good_shard.h5", [](const h5::Group& root) {
          root.set_attribute("shard_index", std::int64_t{1});
          root.set_attribute("shard_count", std::int64_t{2});
        }).empty());
}

TEST_CASE("the reader refuses a file whose creation was interrupted", "[sweep_reader]") {
  const TemporaryDirectory directory;
  const std::string path = directory.path("unsealed.h5");
  {
    io::SweepFile layout(h5::File::create(path), axes(), {"cdl theory", "ok"}, "theory");
    layout.add_quenched("disorder", "quenched disorder");
    layout.add<double>("order_parameter", io::Shape::summary, "order parameter");
    std::move(layout).release().close();
  }
  CHECK(refusal(path) == "its creation was interrupted (no layout_complete)");
}
