#include "open_sweep.hpp"

#include "base/parse.hpp"
#include "commands.hpp"

namespace cdl::sim {

io::SweepReader open_sweep_file(const std::string& path, const io::Refuse& refuse) {
  const auto layout_of = [](const std::string& subcommand, const std::string& config) {
    return subcommand == "theory" ? theory_layout(config, h5::File::create_in_memory(), "")
                                  : micro_layout(config, h5::File::create_in_memory(), "");
  };
  return io::SweepReader::open(path, layout_of, refuse);
}

io::SweepReader open_sweep_file(const std::string& path, const std::string& option) {
  return open_sweep_file(path, [&](const std::string& why) { base::reject(option, path, why); });
}

}  // namespace cdl::sim
