#include "options.hpp"

#include <omp.h>
#include <unistd.h>

#include <iostream>

#include "io/config.hpp"

namespace cdl::sim {

namespace fs = std::filesystem;

po::typed_value<std::string>* text_option(const char* default_value) {
  return po::value<std::string>()->default_value(default_value);
}

po::options_description common_options(const char* default_output) {
  po::options_description options("common options");
  // clang-format off
  options.add_options()
      ("help,h", "show this help")
      ("version", "print the version")
      ("config", po::value<std::vector<std::string>>()->composing(),
       "INI file of options (repeatable, later files win; the command line wins over files)")
      ("output", text_option(default_output), "output HDF5 file")
      ("overwrite", po::bool_switch(), "replace an existing output file")
      ("threads", text_option("0"), "OpenMP threads (0: all cores); results do not depend on it")
      ("quiet", po::bool_switch(), "no progress or messages on stderr")
      ("dry-run", po::bool_switch(), "check the options and print the work, run nothing");
  // clang-format on
  return options;
}

std::optional<po::variables_map> parse_command(const std::string& subcommand,
                                               const po::options_description& options,
                                               const std::vector<std::string>& arguments) {
  po::variables_map values = io::parse_options(subcommand, options, arguments);
  if (values.count("help")) {
    std::cout << "usage: cdl " << subcommand << " [options]\n" << options << "\n";
    return std::nullopt;
  }
  if (values.count("version")) {
    std::cout << "cdl " << CDL_VERSION << "\n";
    return std::nullopt;
  }
  return values;
}

long long integer_at_least(const po::variables_map& values, const std::string& name, long long low,
                           const std::string& requirement) {
  const std::string value = io::text(values, name);
  const long long n = io::parse_integer(value, name);
  if (n < low) io::reject(name, value, requirement);
  return n;
}

double positive(const po::variables_map& values, const std::string& name) {
  const std::string value = io::text(values, name);
  const double x = io::parse_double(value, name);
  if (!(x > 0)) io::reject(name, value, "must be > 0");
  return x;
}

int thread_count(const po::variables_map& values) {
  const auto threads = static_cast<int>(integer_at_least(values, "threads", 0, "must be >= 0"));
  return threads > 0 ? threads : omp_get_max_threads();
}

void check_output(const std::string& output, bool overwrite) {
  if (output.empty()) io::reject("output", output, "empty path");
  const fs::path path(output);
  std::error_code error;
  if (fs::is_directory(path, error)) io::reject("output", output, "is a directory");
  if (!overwrite && (fs::exists(path, error) || fs::exists(output + ".part", error)))
    io::reject("output", output,
               fs::exists(path, error)
                   ? "file exists; pass --overwrite to replace it"
                   : "a partial file " + output + ".part exists; pass --overwrite");
  fs::path ancestor = fs::absolute(path, error).parent_path();
  while (!ancestor.empty() && !fs::exists(ancestor, error) && ancestor != ancestor.root_path())
    ancestor = ancestor.parent_path();
  if (!fs::is_directory(ancestor, error) || access(ancestor.c_str(), W_OK) != 0)
    io::reject("output", output, "directory " + ancestor.string() + " is not writable");
  if (fs::exists(path, error) && access(path.c_str(), W_OK) != 0)
    io::reject("output", output, "file is not writable");
}

}  // namespace cdl::sim
