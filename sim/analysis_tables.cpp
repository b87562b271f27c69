#include "analysis_tables.hpp"

#include <array>
#include <cmath>
#include <cstdio>
#include <string>

#include "base/not_a_number.hpp"
#include "sweep/status.hpp"

namespace cdl::sim {

namespace {

using base::nan;

std::string format_sigma(double value, const std::array<double, 2>& ci) {
  if (!std::isfinite(value)) return "-";
  char text[64];
  if (std::isfinite(ci[0]))
    std::snprintf(text, sizeof text, "%.3g [%.3g, %.3g]", value, ci[0], ci[1]);
  else
    std::snprintf(text, sizeof text, "%.3g", value);
  return text;
}

// The ordered window at each horizon, with the stationary theory's couplings as the t → ∞
// row when given; only for files with several horizons or a prediction to set beside them.
void print_horizons(const SweepAnalysis& analysis, const ProtocolAnalysis& protocol,
                    const Prediction& prediction) {
  if (protocol.horizons.size() < 2 && prediction.depths.empty()) return;
  std::printf("\n%s (%s): ordered window at each horizon, 95 %% bootstrap intervals\n",
              protocol.name.c_str(), protocol.observable.c_str());
  std::printf("%6s %10s  %-30s %-30s\n", "depth", "horizon", "sigma_c1", "sigma_c2");
  for (std::size_t d = 0; d < analysis.depths.size(); ++d) {
    for (std::size_t h = 0; h < protocol.horizons.size(); ++h)
      std::printf("%6d %10.4g  %-30s %-30s\n", analysis.depths[d], protocol.horizons[h],
                  format_sigma(protocol.horizon_window[d][h].sigma_c1,
                               protocol.horizon_interval[d][h].sigma_c1)
                      .c_str(),
                  format_sigma(protocol.horizon_window[d][h].sigma_c2,
                               protocol.horizon_interval[d][h].sigma_c2)
                      .c_str());
    for (std::size_t k = 0; k < prediction.depths.size(); ++k)
      if (prediction.depths[k] == analysis.depths[d])
        std::printf("%6d %10s  %-30s %-30s\n", analysis.depths[d], "inf",
                    format_sigma(prediction.sigma_c1[k], {nan, nan}).c_str(),
                    format_sigma(prediction.sigma_c2[k], {nan, nan}).c_str());
  }
}

}  // namespace

void print_analysis_tables(const SweepAnalysis& analysis, const Prediction& prediction) {
  for (const auto& protocol : analysis.protocols) {
    std::printf("\n%s (%s): ordered window, 95 %% bootstrap intervals\n", protocol.name.c_str(),
                protocol.observable.c_str());
    // Points that are not done never enter an average: say how many were left out, and why.
    std::string excluded;
    for (std::size_t k = 2; k < protocol.status_count.size(); ++k)
      if (protocol.status_count[k] > 0)
        excluded += (excluded.empty() ? "" : ", ") + std::to_string(protocol.status_count[k]) +
                    " " + sweep::point_status_names[k];
    if (!excluded.empty()) std::printf("(left out: %s)\n", excluded.c_str());
    std::printf("%6s  %-30s %-30s", "depth", "sigma_c1", "sigma_c2");
    if (!prediction.depths.empty()) std::printf(" %-10s %-10s", "theory c1", "theory c2");
    std::printf("\n");
    for (std::size_t d = 0; d < analysis.depths.size(); ++d) {
      std::printf("%6d  %-30s %-30s", analysis.depths[d],
                  format_sigma(protocol.window[d].sigma_c1, protocol.interval[d].sigma_c1).c_str(),
                  format_sigma(protocol.window[d].sigma_c2, protocol.interval[d].sigma_c2).c_str());
      for (std::size_t k = 0; k < prediction.depths.size(); ++k)
        if (prediction.depths[k] == analysis.depths[d])
          std::printf(" %-10.3g %-10.3g", prediction.sigma_c1[k], prediction.sigma_c2[k]);
      std::printf("\n");
    }
  }
  for (const auto& protocol : analysis.protocols) print_horizons(analysis, protocol, prediction);
  if (!analysis.loops.empty()) {
    std::printf("\nhysteresis (adiabatic_up vs adiabatic_down)\n%6s  %-12s %-12s %-12s\n", "depth",
                "width c1", "width c2", "area");
    for (std::size_t d = 0; d < analysis.depths.size(); ++d)
      std::printf("%6d  %-12.3g %-12.3g %-12.3g\n", analysis.depths[d], analysis.loops[d].width_c1,
                  analysis.loops[d].width_c2, analysis.loops[d].area);
  }
}

}  // namespace cdl::sim
