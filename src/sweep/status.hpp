// Outcome of one sweep point, stored in the `status` dataset (CF flag_values/flag_meanings).
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace cdl::sweep {

enum class PointStatus : std::int8_t {
  done = 0,
  not_run = 1,         // not computed (yet): the fill value of every status dataset
  diverged = 2,        // the state became non-finite
  step_underflow = 3,  // the adaptive step size collapsed below round-off
  step_budget = 4,     // the integration exceeded its step budget
  chain_broken = 5,    // adiabatic chain: an earlier coupling failed, so this one has no start
  not_converged = 6,   // N → ∞: the error estimate stayed above --accuracy within the budget;
                       // the best value and its estimate are kept, never averaged
};

// Whether a stored status value says the point has its value.
inline bool is_done(std::int8_t status) {
  return status == static_cast<std::int8_t>(PointStatus::done);
}

inline constexpr std::array<const char*, 7> point_status_names = {
    "done",        "not_run",      "diverged",     "step_underflow",
    "step_budget", "chain_broken", "not_converged"};

inline std::string flag_meanings() {
  std::string text;
  for (const char* n : point_status_names) {
    if (!text.empty()) text += ' ';
    text += n;
  }
  return text;
}

}  // namespace cdl::sweep
