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

long PointCounts::failed() const {
  long n = 0;
  for (std::size_t k = 2; k < by_status.size(); ++k) n += by_status[k];
  return n;
}

PointCounts& PointCounts::operator+=(const PointCounts& other) {
  for (std::size_t k = 0; k < by_status.size(); ++k) by_status[k] += other.by_status[k];
  other_shards += other.other_shards;
  return *this;
}

std::string PointCounts::failure_reasons() const {
  std::string reasons;
  for (std::size_t k = 2; k < by_status.size(); ++k)
    if (by_status[k] > 0)
      reasons += (reasons.empty() ? "" : ", ") + std::to_string(by_status[k]) + " " +
                 sweep::point_status_names[k];
  return reasons;
}

PointCounts count_points(const io::SweepReader& reader, const std::string& protocol) {
  PointCounts counts;
  const auto status = reader.points<std::int8_t>(protocol, "status").values;
  const auto owned = reader.owned(protocol).values;
  for (std::size_t k = 0; k < status.size(); ++k) {
    if (owned[k])
      ++counts.by_status[static_cast<std::size_t>(status[k])];
    else
      ++counts.other_shards;
  }
  return counts;
}

std::string count_text(const PointCounts& counts, const io::SweepReader& reader) {
  std::string text =
      std::to_string(counts.done()) + " done, " + std::to_string(counts.failed()) + " failed";
  if (counts.failed() > 0) text += " (" + counts.failure_reasons() + ")";
  if (counts.missing() > 0) text += ", " + std::to_string(counts.missing()) + " not run";
  if (counts.other_shards > 0)
    text += "; " + std::to_string(counts.other_shards) +
            " are other shards' points (this is shard " + std::to_string(reader.shard_index()) +
            " of " + std::to_string(reader.shard_count()) + ")";
  return text;
}

}  // namespace cdl::sim
