#include "micro/failures.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "base/parse.hpp"

namespace cdl::micro {

namespace {

// Streams of the failure draws within Purpose::failure.
enum class Draw : std::uint64_t { crash = 0, dropout = 1, link = 2 };

std::uint64_t stream(Draw draw, std::uint64_t index) {
  return (static_cast<std::uint64_t>(draw) << 56) | index;
}

}  // namespace

std::string Failures::crash_text() const {
  if (crash_fraction <= 0) return "none";
  return base::format_double(crash_fraction) + ":" + std::to_string(crash_step);
}

double parse_probability(const std::string& text, const std::string& option) {
  const double p = base::parse_double(text, option);
  if (!(p >= 0 && p <= 1)) base::reject(option, text, "a probability must lie in [0, 1]");
  return p;
}

void parse_crash(const std::string& text, const std::string& option, Failures& failures) {
  if (text == "none") return;
  const auto fields = base::split(text, ':');
  if (fields.size() != 2) base::reject(option, text, "expected F:STEP or none");
  failures.crash_fraction = base::parse_double(fields[0], option);
  if (!(failures.crash_fraction > 0 && failures.crash_fraction <= 1))
    base::reject(option, text, "F must lie in (0, 1]");
  const long long step = base::parse_integer(fields[1], option);
  if (step < 0) base::reject(option, text, "STEP must be >= 0");
  failures.crash_step = static_cast<long>(step);
}

FailureModel::FailureModel(const Failures& failures, int units, std::uint64_t seed, int run)
    : failures_(failures),
      rng_(seed, base::Purpose::failure, static_cast<std::uint64_t>(run)),
      crashes_(static_cast<std::size_t>(units), 0),
      units_(units) {
  // round(F N) units, uniform without replacement (a partial Fisher–Yates shuffle).
  const int count = static_cast<int>(std::lround(failures.crash_fraction * units));
  std::vector<int> order(static_cast<std::size_t>(units));
  std::iota(order.begin(), order.end(), 0);
  for (int k = 0; k < count; ++k) {
    const double u = rng_.uniform(stream(Draw::crash, 0), static_cast<std::uint64_t>(k));
    std::swap(order[static_cast<std::size_t>(k)],
              order[static_cast<std::size_t>(k + static_cast<int>(u * (units - k)))]);
    crashes_[static_cast<std::size_t>(order[static_cast<std::size_t>(k)])] = 1;
  }
}

bool FailureModel::online(int unit, long step) const {
  return failures_.dropout <= 0 ||
         rng_.uniform(stream(Draw::dropout, static_cast<std::uint64_t>(unit)),
                      static_cast<std::uint64_t>(step)) >= failures_.dropout;
}

bool FailureModel::link_up(int i, int j, long step) const {
  if (failures_.link_failure <= 0) return true;
  const auto low = static_cast<std::uint64_t>(std::min(i, j));
  const auto high = static_cast<std::uint64_t>(std::max(i, j));
  return rng_.uniform(stream(Draw::link, low * static_cast<std::uint64_t>(units_) + high),
                      static_cast<std::uint64_t>(step)) >= failures_.link_failure;
}

}  // namespace cdl::micro
