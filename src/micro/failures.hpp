// Failing units and links (`--dropout`, `--link-failure`, `--crash`), deterministic in the seed:
// whether unit i is online and whether edge (i, j) is up at step t of a point are pure
// functions of (seed, realization, i, j, t), so every thread count sees the same failures.
// An offline unit neither updates nor sends or receives; a link that is down carries nothing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/random.hpp"

namespace cdl::micro {

struct Failures {
  double dropout = 0;         // P(a unit is offline at a step)
  double link_failure = 0;    // P(an edge is down at a step)
  double crash_fraction = 0;  // F: this fraction of the units (round(F N)) stops for good ...
  long crash_step = 0;        // ... from this step on (of a point, or of an adiabatic chain)
  bool any() const { return dropout > 0 || link_failure > 0 || crash_fraction > 0; }
  std::string crash_text() const;  // "F:STEP", or "none"
};

// --dropout P and --link-failure P: a probability in [0, 1]; --crash F:STEP or none.
double parse_probability(const std::string& text, const std::string& option);
void parse_crash(const std::string& text, const std::string& option, Failures& failures);

// The failures of one realization.
class FailureModel {
 public:
  FailureModel(const Failures& failures, int units, std::uint64_t seed, int run);
  bool crashed(int unit, long step) const {
    return step >= failures_.crash_step && crashes_[static_cast<std::size_t>(unit)];
  }
  bool online(int unit, long step) const;  // not dropped out at this step (crashes aside)
  bool link_up(int i, int j, long step) const;
  const Failures& failures() const { return failures_; }

 private:
  Failures failures_;
  base::CounterRng rng_;
  std::vector<char> crashes_;  // the units that crash at crash_step
  int units_;
};

}  // namespace cdl::micro
