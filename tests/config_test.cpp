// Options from the command line and INI files: precedence (command line over files, later
// files over earlier ones), the subcommand's own section, rejected keys, sections and files,
// and the resolved configuration that reads back as the same values.
#include "config.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/errors.hpp"
#include "options.hpp"
#include "sweep_job.hpp"
#include "subcommands.hpp"
#include "test_support.hpp"

using namespace cdl::sim;
namespace fs = std::filesystem;

namespace {

using cdl::test::TemporaryDirectory;

// The options of a small subcommand: the common ones (--config among them) and a few of its own.
po::options_description test_options() {
  po::options_description options = common_options("sweep.h5");
  po::options_description own("own options");
  // clang-format off
  own.add_options()
      ("units", text_option("100"), "units N")
      ("sigma", text_option("log:-2:3:30"), "coupling grid")
      ("disorder", text_option("normal:0:2"), "disorder");
  // clang-format on
  options.add(own);
  return options;
}

po::variables_map parse(const std::vector<std::string>& arguments,
                        const std::string& subcommand = "theory") {
  return parse_options(subcommand, test_options(), arguments);
}

template <class Call>
std::string rejection_of(Call call) {
  return cdl::test::message_of<cdl::InputError>(call);
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("without files the command line and the defaults give the values", "[config]") {
  const auto values = parse({"--units", "12", "--overwrite"});
  CHECK(text(values, "units") == "12");
  CHECK(text(values, "sigma") == "log:-2:3:30");
  CHECK(text(values, "output") == "sweep.h5");
  CHECK(values["overwrite"].as<bool>());
  CHECK_FALSE(values["quiet"].as<bool>());
  CHECK(values.count("config") == 0);
}

TEST_CASE("text returns the string value of an option", "[config]") {
  const auto values = parse({"--disorder", "uniform:-1:1", "--output=out dir/run.h5"});
  CHECK(text(values, "disorder") == "uniform:-1:1");
  CHECK(text(values, "output") == "out dir/run.h5");
  CHECK(text(values, "units") == "100");
  // Switches are not strings.
  CHECK_THROWS(text(values, "overwrite"));
}

TEST_CASE("keys at top level and in the subcommand's section apply", "[config]") {
  const TemporaryDirectory directory;
  const std::string file = directory.file(
      "run.ini", "units = 7\n# a comment\n\n[theory]\nsigma = 0.5\noverwrite = true\n");
  const auto values = parse({"--config", file});
  CHECK(text(values, "units") == "7");
  CHECK(text(values, "sigma") == "0.5");
  CHECK(values["overwrite"].as<bool>());
  CHECK(text(values, "disorder") == "normal:0:2");  // untouched: the default
  CHECK(values["config"].as<std::vector<std::string>>() == std::vector<std::string>{file});
}

TEST_CASE("the command line wins over every config file", "[config]") {
  const TemporaryDirectory directory;
  const std::string first =
      directory.file("first.ini", "units = 7\nsigma = 0.5\n[theory]\ndisorder = bimodal:1:0.5\n");
  const std::string second = directory.file("second.ini", "[theory]\nunits = 8\n");
  SECTION("before or after --config") {
    for (const auto& arguments : std::vector<std::vector<std::string>>{
             {"--units", "3", "--config", first, "--config", second},
             {"--config", first, "--config", second, "--units", "3"},
             {"--config", first, "--units=3", "--config", second}}) {
      const auto values = parse(arguments);
      CHECK(text(values, "units") == "3");
      CHECK(text(values, "sigma") == "0.5");               // only in a file
      CHECK(text(values, "disorder") == "bimodal:1:0.5");  // only in a file's section
      CHECK(text(values, "output") == "sweep.h5");         // nowhere: the default
    }
  }
  SECTION("a switch given on the command line stays on") {
    const std::string off = directory.file("off.ini", "overwrite = false\nquiet = false\n");
    const auto values = parse({"--config", off, "--overwrite"});
    CHECK(values["overwrite"].as<bool>());
    CHECK_FALSE(values["quiet"].as<bool>());
  }
}

TEST_CASE("later config files win over earlier ones", "[config]") {
  const TemporaryDirectory directory;
  const std::string a = directory.file("a.ini", "units = 5\nsigma = 0.1\n");
  const std::string b = directory.file("b.ini", "[theory]\nunits = 6\ndisorder = uniform:0:1\n");
  const auto ab = parse({"--config", a, "--config", b});
  CHECK(text(ab, "units") == "6");
  CHECK(text(ab, "sigma") == "0.1");
  CHECK(text(ab, "disorder") == "uniform:0:1");
  const auto ba = parse({"--config", b, "--config", a});
  CHECK(text(ba, "units") == "5");
  CHECK(text(ba, "sigma") == "0.1");
  CHECK(text(ba, "disorder") == "uniform:0:1");
  const std::string c = directory.file("c.ini", "units = 9\n");
  CHECK(text(parse({"--config", a, "--config", b, "--config", c}), "units") == "9");
  CHECK(text(parse({"--config", c, "--config", a, "--config", b}), "units") == "6");
  CHECK(text(parse({"--config", b, "--config", c, "--config", a}), "units") == "5");
}

TEST_CASE("sections of other subcommands are skipped", "[config]") {
  const TemporaryDirectory directory;
  const std::string file = directory.file("mixed.ini",
                                          "units = 10\n"
                                          "[micro]\nunits = 9\nsigma = 2\nlearning-rate = 0.1\n"
                                          "[stationary]\nsigma = 3\n"
                                          "[theory]\nsigma = 4\n");
  const auto theory = parse({"--config", file}, "theory");
  CHECK(text(theory, "units") == "10");
  CHECK(text(theory, "sigma") == "4");
  // The same file for `micro`: its own section applies, and its unknown key is an error.
  const std::string message = rejection_of([&] { parse({"--config", file}, "micro"); });
  CHECK(contains(message, "micro.learning-rate"));
  CHECK(contains(message, file));
  // Without the unknown key, micro's section applies and theory's is skipped.
  const std::string micro_file =
      directory.file("micro.ini", "sigma = 1\n[micro]\nunits = 9\n[theory]\nunits = 4\n");
  const auto micro = parse({"--config", micro_file}, "micro");
  CHECK(text(micro, "units") == "9");
  CHECK(text(micro, "sigma") == "1");
  const auto theory_again = parse({"--config", micro_file}, "theory");
  CHECK(text(theory_again, "units") == "4");
  CHECK(text(theory_again, "sigma") == "1");
}

TEST_CASE("a sweep file records every option but the common and cluster ones", "[config]") {
  // An option missing from the list would not be in the file's configuration: a rerun from it,
  // --resume and `cdl merge` could not tell two configurations apart.
  const auto names_of = [](const po::options_description& options) {
    std::set<std::string> names;
    for (const auto& option : options.options()) names.insert(option->long_name());
    return names;
  };
  const std::set<std::string> common = names_of(common_options("out.h5"));
  const std::set<std::string> cluster = names_of(job_options());
  int sweeps = 0;
  for (const Subcommand& subcommand : subcommands()) {
    if (!subcommand.options) continue;
    ++sweeps;
    INFO(subcommand.name);
    std::set<std::string> expected;
    for (const std::string& name : names_of(subcommand.options()))
      if (!common.count(name) && !cluster.count(name)) expected.insert(name);
    const std::vector<std::string>& recorded = *subcommand.recorded_options;
    CHECK(std::set<std::string>(recorded.begin(), recorded.end()) == expected);
    CHECK(expected.size() == recorded.size());  // none twice
  }
  CHECK(sweeps == 3);
}

TEST_CASE("every subcommand's section is known", "[config]") {
  const auto& names = subcommand_names();
  for (const std::string name : {"theory", "stationary", "micro", "merge", "analyze", "info"})
    CHECK(std::find(names.begin(), names.end(), name) != names.end());
  // A section of each other subcommand is skipped for theory.
  for (const std::string& name : names) {
    if (name == "theory") continue;
    const auto values =
        parse_config_text("theory", test_options(), "[" + name + "]\nunits = 1\n", "text");
    CHECK(text(values, "units") == "100");
  }
}

TEST_CASE("bad config files are InputErrors naming the file and the key", "[config]") {
  const TemporaryDirectory directory;
  SECTION("an unknown key at top level") {
    const std::string file = directory.file("bad.ini", "units = 5\nbogus = 1\n");
    const std::string message = rejection_of([&] { parse({"--config", file}); });
    CHECK(contains(message, "'bogus'"));
    CHECK(contains(message, file));
  }
  SECTION("an unknown key in the subcommand's section") {
    const std::string file = directory.file("bad.ini", "[theory]\nlearning-rate = 1\n");
    const std::string message = rejection_of([&] { parse({"--config", file}); });
    CHECK(contains(message, "theory.learning-rate"));
    CHECK(contains(message, file));
  }
  SECTION("an unknown section") {
    const std::string file = directory.file("bad.ini", "[theroy]\nunits = 5\n");
    const std::string message = rejection_of([&] { parse({"--config", file}); });
    CHECK(contains(message, "theroy.units"));
    CHECK(contains(message, file));
  }
  SECTION("a nested section") {
    const std::string file = directory.file("bad.ini", "[theory.extra]\nunits = 5\n");
    const std::string message = rejection_of([&] { parse({"--config", file}); });
    CHECK(contains(message, "theory.extra.units"));
    CHECK(contains(message, file));
  }
  SECTION("a malformed line") {
    const std::string file = directory.file("bad.ini", "units = 5\nthis line has no equals\n");
    const std::string message = rejection_of([&] { parse({"--config", file}); });
    CHECK(contains(message, "--config"));
    CHECK(contains(message, file));
    CHECK(contains(message, "this line has no equals"));
  }
  SECTION("a file that does not exist") {
    const std::string file = directory.path("missing.ini");
    const std::string message = rejection_of([&] { parse({"--config", file}); });
    CHECK(contains(message, "--config"));
    CHECK(contains(message, file));
  }
  SECTION("a directory") {
    const std::string path = directory.path("folder.ini");
    fs::create_directories(path);
    const std::string message = rejection_of([&] { parse({"--config", path}); });
    CHECK(contains(message, "--config"));
    CHECK(contains(message, path));
  }
  SECTION("a device") {
    const std::string message = rejection_of([&] { parse({"--config", "/dev/null"}); });
    CHECK(contains(message, "/dev/null"));
  }
  SECTION("a file naming further config files in its section") {
    const std::string other = directory.file("other.ini", "units = 9\n");
    const std::string file = directory.file("bad.ini", "[theory]\nconfig = " + other + "\n");
    const std::string message = rejection_of([&] { parse({"--config", file}); });
    CHECK(contains(message, file));
    CHECK(contains(message, "further config"));
  }
  SECTION("a good file does not excuse a bad one") {
    const std::string good = directory.file("good.ini", "units = 5\n");
    const std::string bad = directory.file("bad.ini", "[theory]\nbogus = 1\n");
    for (const auto& arguments : std::vector<std::vector<std::string>>{
             {"--config", good, "--config", bad}, {"--config", bad, "--config", good}}) {
      const std::string message = rejection_of([&] { parse(arguments); });
      CHECK(contains(message, "theory.bogus"));
      CHECK(contains(message, bad));
    }
  }
}

TEST_CASE("a bad command line is an InputError", "[config]") {
  CHECK_THROWS_AS(parse({"--no-such-option", "1"}), cdl::InputError);
  CHECK_THROWS_AS(parse({"--units"}), cdl::InputError);
  CHECK_THROWS_AS(parse({"--units", "1", "--units", "2"}), cdl::InputError);
  CHECK(contains(rejection_of([] { parse({"--no-such-option", "1"}); }), "no-such-option"));
}

TEST_CASE("parse_config_text reads text as a config file named in messages", "[config]") {
  const auto values = parse_config_text(
      "theory", test_options(), "units = 64\n[theory]\nsigma = lin:0:1:3\n", "run.h5:config");
  CHECK(text(values, "units") == "64");
  CHECK(text(values, "sigma") == "lin:0:1:3");
  CHECK(text(values, "disorder") == "normal:0:2");
  const std::string message = rejection_of([] {
    parse_config_text("theory", test_options(), "[theory]\nbogus = 1\n", "run.h5:config");
  });
  CHECK(contains(message, "theory.bogus"));
  CHECK(contains(message, "run.h5:config"));
  const std::string malformed = rejection_of(
      [] { parse_config_text("theory", test_options(), "[theory\nunits = 1\n", "run.h5:config"); });
  CHECK(contains(malformed, "run.h5:config"));
}

TEST_CASE("resolved_ini reads back as the same values", "[config]") {
  const TemporaryDirectory directory;
  const std::string file =
      directory.file("run.ini", "units = 7\n[theory]\ndisorder = uniform:-1.5:2.5\nquiet = true\n");
  const std::vector<std::string> names = {"units",  "sigma",     "disorder",
                                          "output", "overwrite", "quiet"};
  const auto values = parse({"--config", file, "--sigma", "log:-2:3:30,100", "--output", "o.h5"});
  const std::string ini = resolved_ini("theory", values, names);
  CHECK(ini.rfind("[theory]\n", 0) == 0);
  const auto again = parse_config_text("theory", test_options(), ini, "resolved");
  for (const std::string name : {"units", "sigma", "disorder", "output"}) {
    INFO("option " << name);
    CHECK(text(again, name) == text(values, name));
  }
  CHECK(text(again, "units") == "7");
  CHECK(text(again, "sigma") == "log:-2:3:30,100");
  CHECK(again["overwrite"].as<bool>() == values["overwrite"].as<bool>());
  CHECK(again["quiet"].as<bool>() == values["quiet"].as<bool>());
  CHECK(again["quiet"].as<bool>());
  CHECK_FALSE(again["overwrite"].as<bool>());
  // A fixed point: the values read back resolve to the same text.
  CHECK(resolved_ini("theory", again, names) == ini);
  // Only the named options are recorded.
  const auto partial = parse_config_text("theory", test_options(),
                                         resolved_ini("theory", values, {"units"}), "resolved");
  CHECK(text(partial, "units") == "7");
  CHECK(text(partial, "disorder") == "normal:0:2");
  // Recorded for another subcommand, the section is skipped.
  const auto other =
      parse_config_text("theory", test_options(), resolved_ini("micro", values, names), "resolved");
  CHECK(text(other, "units") == "100");
}

TEST_CASE("a config file naming another config file is refused at top level too", "[config]") {
  const TemporaryDirectory directory;
  const std::string other = directory.file("other.ini", "units = 9\n");
  for (const std::string& text :
       {"config = " + other + "\n", "[theory]\nconfig = " + other + "\n"}) {
    INFO(text);
    const std::string file = directory.file("outer.ini", text);
    const std::string message = rejection_of([&] { parse({"--config", file}); });
    CHECK(contains(message, "may not name further config files"));
    CHECK(contains(message, file));
  }
}

TEST_CASE("resolved_ini refuses a value that would not read back", "[config]") {
  // INI reads '#' as a comment and trims spaces: such a value could not rerun the sweep.
  for (const std::string value : {"file:/data/d#1/dis.txt", " uniform:0:1", "uniform:0:1 "}) {
    INFO("value '" << value << "'");
    const auto values = parse({"--disorder", value});
    const std::string message = rejection_of([&] {
      resolved_ini("theory", values, {"units", "disorder"});
    });
    CHECK(message.rfind("--disorder: invalid value '" + value + "'", 0) == 0);
  }
  const std::map<std::string, std::string> canonical = {{"disorder", "file:/a#b"}};
  CHECK_THROWS_AS(resolved_ini("theory", parse({}), {"disorder"}, canonical), cdl::InputError);
}

TEST_CASE("resolved_ini records canonical text in place of the typed one", "[config]") {
  const auto values = parse({"--disorder", "file:data.txt", "--units", "5"});
  const std::map<std::string, std::string> canonical = {{"disorder", "file:/abs/data.txt"}};
  const std::string ini = resolved_ini("theory", values, {"units", "disorder"}, canonical);
  const auto again = parse_config_text("theory", test_options(), ini, "resolved");
  CHECK(text(again, "disorder") == "file:/abs/data.txt");
  CHECK(text(again, "units") == "5");
  CHECK_FALSE(contains(ini, "file:data.txt"));
}
