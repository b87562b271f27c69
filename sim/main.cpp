// `cdl <subcommand> [options]`: exit codes 0 success, 1 failure, 2 bad input, 3 interrupted.
#include <malloc.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <string>
#include <vector>

#include "base/errors.hpp"
#include "base/parse.hpp"
#include "commands.hpp"
#include "config.hpp"
#include "cpu_guard.hpp"
#include "h5/hdf5.hpp"
#include "subcommands.hpp"
#include "sweep/driver.hpp"

namespace {

void interrupt(int) { cdl::sim::stop_request().interrupt(); }

void usage(std::ostream& out) {
  out << "usage: cdl <subcommand> [options]    (cdl <subcommand> --help for its options)\n"
         "subcommands:\n";
  for (const cdl::sim::Subcommand& subcommand : cdl::sim::subcommands())
    out << "  " << std::left << std::setw(13) << subcommand.name << subcommand.summary << "\n";
  out << "options: --help, --version\n";
}

}  // namespace

int main(int argc, char** argv) {
  // HDF5 allocates and frees large chunk buffers on every write; without this glibc returns
  // the memory to the kernel each time and the page faults cost a third of a quick sweep.
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  mallopt(M_TOP_PAD, 64 << 20);
  const std::vector<std::string> words(argv + 1, argv + argc);
  std::string command_line = "cdl";
  for (const auto& w : words) command_line += " " + w;
  if (words.empty()) {
    usage(std::cerr);
    return 2;
  }
  const std::string& subcommand = words[0];
  if (subcommand == "--version") {
    std::cout << "cdl " << CDL_VERSION << "\n";
    std::cout << "built for: " << cdl::sim::built_for() << "\n";
    return 0;
  }
  if (subcommand == "--help" || subcommand == "-h") {
    usage(std::cout);
    return 0;
  }
  cdl::sim::stop_request();  // constructed before a signal can arrive
  std::signal(SIGINT, interrupt);
  std::signal(SIGTERM, interrupt);
  const std::vector<std::string> arguments(words.begin() + 1, words.end());
  try {
    if (const cdl::sim::Subcommand* found = cdl::sim::find_subcommand(subcommand))
      return found->run(arguments, command_line);
    std::cerr << "cdl: unknown subcommand '" << subcommand << "' (try cdl --help)\n";
    return 2;
  } catch (const cdl::Interrupted&) {
    std::cerr << "cdl " << subcommand << ": interrupted; nothing was written\n";
    return 3;
  } catch (const cdl::InputError& e) {
    // Messages quote values read from files, which may be damaged: never invalid text.
    std::cerr << "cdl " << subcommand << ": " << cdl::base::valid_utf8(e.what()) << "\n";
    if (cdl::h5::write_failed()) std::_Exit(2);  // see below
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "cdl " << subcommand << ": error: " << cdl::base::valid_utf8(e.what()) << "\n";
    if (cdl::h5::write_failed()) {
      // HDF5 still holds the file it failed to write, and its exit-time cleanup would crash on
      // it: end here (the output was not renamed; a failed .part is the caller's to remove).
      std::cout.flush();
      std::cerr.flush();
      std::fflush(nullptr);
      std::_Exit(1);
    }
    return 1;
  }
}
