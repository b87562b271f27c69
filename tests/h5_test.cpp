// The HDF5 RAII layer: round trips, and failures that name the object and carry HDF5's reason.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "base/errors.hpp"
#include "h5/hdf5.hpp"
#include "test_support.hpp"

namespace h5 = cdl::h5;

namespace {

std::string temporary_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("cdl_h5_test_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

template <class Call>
std::string failure_of(Call call) {
  return cdl::test::message_of<cdl::RuntimeError>(call);
}

}  // namespace

TEST_CASE("datasets, blocks and attributes come back as written") {
  const std::string path = temporary_path("roundtrip.h5");
  {
    h5::File file = h5::File::create(path);
    const h5::Group root = file.root();
    const h5::Group group = root.create_group("sweep");
    h5::DatasetOptions chunked;
    chunked.chunk = {1, 3};
    chunked.has_fill = true;
    chunked.fill_double = -1;
    const h5::Dataset m = group.create_dataset<double>("m", {2, 3}, chunked);
    const std::vector<double> row = {0.5, 0.25, 0.125};
    m.write_block<double>({1, 0}, {1, 3}, row);
    const std::vector<std::int32_t> flags = {0, 1, 6};
    group.set_attribute("flag_values", flags);
    group.set_attribute("command", std::string("theory"));
    group.set_attribute("sigma", 0.3);
    file.close();
  }
  const h5::File file = h5::File::open_read_only(path);
  const h5::Group group = file.root().open_group("sweep");
  const h5::Dataset m = group.open_dataset("m");
  CHECK(m.name() == "m");
  CHECK(m.dims() == h5::Dims{2, 3});
  CHECK(m.read<double>() == std::vector<double>{-1, -1, -1, 0.5, 0.25, 0.125});  // fill, block
  CHECK(group.string_attribute("command") == "theory");
  CHECK(group.double_attribute("sigma") == 0.3);
  CHECK(group.has_attribute("flag_values"));
  std::filesystem::remove(path);
}

TEST_CASE("a failed call names the object and carries HDF5's own reason, on one line") {
  const std::string path = temporary_path("errors.h5");
  h5::File file = h5::File::create(path);
  const h5::Group root = file.root();
  const std::string missing = failure_of([&] { root.open_dataset("order_parameter"); });
  CHECK(missing.find("opening dataset order_parameter failed: ") != std::string::npos);
  CHECK(missing.size() > std::string("HDF5: opening dataset order_parameter failed: ").size());
  CHECK(missing.find('\n') == std::string::npos);
  root.create_group("run");
  const std::string twice = failure_of([&] { root.create_group("run"); });
  CHECK(twice.find("run") != std::string::npos);
  CHECK(twice.find("failed: ") != std::string::npos);
  // The reason belongs to its own failure: the stack is cleared after each.
  CHECK(twice != missing);
  file.close();
  std::filesystem::remove(path);
  const std::string absent = failure_of([] { h5::File::open_read_only("/nonexistent/x.h5"); });
  CHECK(absent.find("/nonexistent/x.h5") != std::string::npos);
}
