// The HDF5 RAII layer: round trips, and failures that name the object and carry HDF5's reason.
#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <type_traits>
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

TEST_CASE("every call is checked: a closed object's failure names it and carries HDF5's stack") {
  const std::string path = temporary_path("closed.h5");
  h5::File file = h5::File::create(path);
  const h5::Group root = file.root();
  const h5::Group group = root.create_group("sweep");
  const h5::Dataset m = group.create_dataset<double>("m", {2, 3});
  STATIC_REQUIRE(std::is_same_v<decltype(m.stored_type_class()), H5T_class_t>);
  CHECK(m.stored_type_class() == H5T_FLOAT);
  // Closed behind the wrappers' backs: every call on them now fails inside HDF5 (the wrappers'
  // own closing later fails unchecked, as a destructor's must).
  REQUIRE(H5Dclose(m.id()) >= 0);
  REQUIRE(H5Gclose(group.id()) >= 0);
  const auto check_failure = [](const std::string& message, const std::string& what,
                                const std::string& function) {
    INFO(message);
    CHECK(message.rfind("HDF5: " + what + " failed: ", 0) == 0);
    CHECK(message.find(" [" + function) != std::string::npos);  // the stack, outermost first
    CHECK(message.find('\n') == std::string::npos);
  };
  CHECK(m.name() == "m");  // kept from the open: no HDF5 call that could fail
  const std::vector<double> values(6, 1.0);
  check_failure(failure_of([&] { m.write<double>(values); }), "writing dataset m", "H5Dwrite");
  check_failure(failure_of([&] { m.dims(); }), "H5Dget_space of dataset m", "H5Dget_space");
  check_failure(failure_of([&] { m.read<double>(); }), "H5Dget_space of dataset m", "H5Dget_space");
  check_failure(failure_of([&] { m.stored_type_class(); }), "H5Dget_type of dataset m",
                "H5Dget_type");
  // A high-level (H5DS) call leaves only its last inner call's stack.
  check_failure(failure_of([&] { m.is_scale(); }), "checking whether dataset m is a scale", "");
  // These returned an answer (no links, no attribute, no scale) when HDF5 had none.
  check_failure(failure_of([&] { group.link_names(); }), "listing the links of (unnamed)",
                "H5Literate");
  check_failure(failure_of([&] { group.has_link("m"); }), "checking link m of (unnamed)",
                "H5Lexists");
  check_failure(failure_of([&] { group.is_group("m"); }), "checking link m of (unnamed)",
                "H5Lexists");
  check_failure(failure_of([&] { group.has_attribute("units"); }),
                "checking attribute units of (unnamed)", "H5Aexists");
  file.close();
  std::filesystem::remove(path);
}

TEST_CASE("a valid write succeeds, a failed one names the dataset and carries HDF5's stack") {
  const std::string path = temporary_path("read_only.h5");
  const std::vector<double> values = {1, 2, 3};
  {
    h5::File file = h5::File::create(path);
    const h5::Dataset x = file.root().create_dataset<double>("x", {3});
    x.write<double>(values);  // valid: no exception, and no message made
    file.close();
  }
  const h5::File file = h5::File::open_read_only(path);
  const h5::Dataset x = file.root().open_dataset("x");
  CHECK(x.read<double>() == values);
  const std::string message = failure_of([&] { x.write<double>(values); });
  INFO(message);
  CHECK(message.rfind("HDF5: writing dataset x failed: ", 0) == 0);
  CHECK(message.find("[H5Dwrite: ") != std::string::npos);
  CHECK(message.find("no write intent on file") != std::string::npos);
  CHECK(message.find('\n') == std::string::npos);
  // The type the callers catch, with HDF5's account apart.
  try {
    x.write<double>(values);
    FAIL("a write to a read-only file succeeded");
  } catch (const h5::Error& error) {
    CHECK(std::string(error.what()).find(error.cause()) != std::string::npos);
    CHECK(error.cause().rfind("[H5Dwrite: ") != std::string::npos);
  }
  std::filesystem::remove(path);
}

// Run alone, in a fresh process, by the case below: write_failed() is for the whole process.
TEST_CASE("in a fresh process: failed reads leave write_failed() false, a failed write sets it",
          "[.][h5_write_failed]") {
  REQUIRE_FALSE(h5::write_failed());
  const std::string path = temporary_path("write_failed.h5");
  {
    h5::File file = h5::File::create(path);
    const std::vector<double> values = {1, 2, 3};
    file.root().create_dataset<double>("x", {3}).write<double>(values);
    file.close();
  }
  const h5::File file = h5::File::open_read_only(path);
  const h5::Group root = file.root();
  CHECK_FALSE(failure_of([&] { root.open_dataset("missing"); }).empty());
  CHECK_FALSE(failure_of([&] { root.open_group("missing"); }).empty());
  CHECK_FALSE(failure_of([&] { root.string_attribute("missing"); }).empty());
  CHECK_FALSE(failure_of([] { h5::File::open_read_only("/nonexistent/x.h5"); }).empty());
  const h5::Dataset x = root.open_dataset("x");
  REQUIRE(H5Dclose(x.id()) >= 0);
  CHECK_FALSE(failure_of([&] { x.read<double>(); }).empty());
  CHECK_FALSE(h5::write_failed());
  const h5::Dataset y = root.open_dataset("x");
  const std::vector<double> values = {4, 5, 6};
  CHECK_FALSE(failure_of([&] { y.write<double>(values); }).empty());
  CHECK(h5::write_failed());
  std::filesystem::remove(path);
}

TEST_CASE("a failed read does not count as a failed write") {
  // The hidden case above, in a process of its own (this binary, given its tag).
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  const std::string log = temporary_path("write_failed.log");
  const int status =
      std::system(("'" + self + "' '[h5_write_failed]' > '" + log + "' 2>&1").c_str());
  std::ifstream in(log);
  const std::string output((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  INFO(output);
  CHECK(status == 0);
  CHECK(output.find("All tests passed") != std::string::npos);
  std::filesystem::remove(log);
}

TEST_CASE("a failure in another thread prints nothing: HDF5's printing is off in every thread") {
  const std::string path = temporary_path("threads.h5");
  h5::File file = h5::File::create(path);
  const h5::Group root = file.root();
  // The library is thread-safe: each thread has its own error stack and printing switch.
  const std::string log = temporary_path("threads.log");
  std::fflush(stderr);
  const int saved = ::dup(2);
  const int to_log = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  REQUIRE(saved >= 0);
  REQUIRE(to_log >= 0);
  ::dup2(to_log, 2);
  std::string message;
  std::thread([&] { message = failure_of([&] { root.open_dataset("missing"); }); }).join();
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  ::close(to_log);
  CHECK(message.rfind("HDF5: opening dataset missing failed: Object not found [H5Dopen2: ", 0) ==
        0);
  CHECK(std::filesystem::file_size(log) == 0);
  std::filesystem::remove(log);
  file.close();
  std::filesystem::remove(path);
}
