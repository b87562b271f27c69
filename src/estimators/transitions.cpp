#include "estimators/transitions.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "base/not_a_number.hpp"
#include "base/random.hpp"

namespace cdl::estimators {

namespace {

using base::nan;

// Indices of the points with σ > 0, sorted by σ (stable: duplicated σ keep grid order).
std::vector<std::size_t> positive_sorted(const std::vector<double>& sigma) {
  std::vector<std::size_t> order;
  for (std::size_t k = 0; k < sigma.size(); ++k)
    if (sigma[k] > 0) order.push_back(k);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return sigma[a] < sigma[b]; });
  return order;
}

double crossing(double x0, double x1, double y0, double y1, double level) {
  return x0 + (level - y0) * (x1 - x0) / (y1 - y0);
}

// The p-th percentile (0..100) of sorted values, linearly interpolated (numpy's default).
double percentile(const std::vector<double>& sorted, double p) {
  const double at = p / 100.0 * static_cast<double>(sorted.size() - 1);
  const auto low = static_cast<std::size_t>(std::floor(at));
  const std::size_t high = std::min(low + 1, sorted.size() - 1);
  return sorted[low] + (at - static_cast<double>(low)) * (sorted[high] - sorted[low]);
}

std::array<double, 2> interval(std::vector<double> values, int resamples) {
  values.erase(
      std::remove_if(values.begin(), values.end(), [](double v) { return !std::isfinite(v); }),
      values.end());
  if (2 * static_cast<int>(values.size()) < resamples) return {nan, nan};
  std::sort(values.begin(), values.end());
  return {percentile(values, 2.5), percentile(values, 97.5)};
}

}  // namespace

Window locate_window(const std::vector<double>& sigma, const std::vector<double>& y_grid) {
  const std::vector<std::size_t> order = positive_sorted(sigma);
  std::vector<double> x, y;
  for (std::size_t k : order) {
    if (!std::isfinite(y_grid[k])) continue;
    x.push_back(std::log10(sigma[k]));
    y.push_back(y_grid[k]);
  }
  Window window{nan, nan};
  if (y.size() < 2) return window;
  const std::size_t peak =
      static_cast<std::size_t>(std::max_element(y.begin(), y.end()) - y.begin());
  const double top = y[peak], left = y.front(), right = y.back();
  // A window needs a height of 20 % of its peak and at least 0.01 (m and accuracies are O(1)),
  // so that round-off on a flat curve (D = 0 at N → ∞) finds none.
  const double needed = std::max(0.2 * std::abs(top), 0.01);
  if (top - left >= needed) {
    const double level = 0.5 * (left + top);
    for (std::size_t k = 0; k < peak; ++k)
      if (y[k] < level && level <= y[k + 1]) {
        window.sigma_c1 = std::pow(10.0, crossing(x[k], x[k + 1], y[k], y[k + 1], level));
        break;
      }
  }
  if (top - right >= needed) {
    const double level = 0.5 * (top + right);
    for (std::size_t k = peak; k + 1 < y.size(); ++k)
      if (y[k] >= level && level > y[k + 1]) {
        window.sigma_c2 = std::pow(10.0, crossing(x[k], x[k + 1], y[k], y[k + 1], level));
        break;
      }
  }
  return window;
}

MeanError mean_and_error(std::span<const double> values) {
  MeanError result{nan, nan, nan, 0};
  double sum = 0;
  for (double x : values)
    if (std::isfinite(x)) sum += x, ++result.count;
  const int n = result.count;
  if (n == 0) return result;
  result.mean = sum / n;
  double squares = 0;
  for (double x : values)
    if (std::isfinite(x)) squares += (x - result.mean) * (x - result.mean);
  if (n > 1) {
    result.variance = squares / (n - 1);
    result.se = std::sqrt(result.variance / n);
  }
  return result;
}

Curve average_over_runs(const std::vector<std::vector<double>>& values) {
  const std::size_t n_sigma = values.empty() ? 0 : values.front().size();
  Curve curve{std::vector<double>(n_sigma, nan), std::vector<double>(n_sigma, nan),
              std::vector<double>(n_sigma, nan), std::vector<int>(n_sigma, 0)};
  std::vector<double> column(values.size());
  for (std::size_t s = 0; s < n_sigma; ++s) {
    for (std::size_t r = 0; r < values.size(); ++r) column[r] = values[r][s];
    const MeanError m = mean_and_error(column);
    curve.mean[s] = m.mean;
    curve.variance[s] = m.variance;
    curve.se[s] = m.se;
    curve.count[s] = m.count;
  }
  return curve;
}

WindowInterval bootstrap_window(const std::vector<double>& sigma,
                                const std::vector<std::vector<double>>& values, int resamples,
                                std::uint64_t seed) {
  const base::CounterRng rng(seed, base::Purpose::data, 0);
  const std::size_t runs = values.size();
  std::vector<double> c1, c2;
  std::vector<std::vector<double>> sample(runs);
  for (int b = 0; b < resamples; ++b) {
    for (std::size_t r = 0; r < runs; ++r) {
      const double u = rng.uniform(static_cast<std::uint64_t>(b), r);
      sample[r] =
          values[std::min(runs - 1, static_cast<std::size_t>(u * static_cast<double>(runs)))];
    }
    const Window w = locate_window(sigma, average_over_runs(sample).mean);
    c1.push_back(w.sigma_c1);
    c2.push_back(w.sigma_c2);
  }
  return {interval(c1, resamples), interval(c2, resamples)};
}

Hysteresis hysteresis(const std::vector<double>& sigma, const std::vector<double>& up,
                      const std::vector<double>& down) {
  const Window w_up = locate_window(sigma, up), w_down = locate_window(sigma, down);
  Hysteresis h{std::log10(w_up.sigma_c1 / w_down.sigma_c1),
               std::log10(w_up.sigma_c2 / w_down.sigma_c2), 0.0};
  const std::vector<std::size_t> order = positive_sorted(sigma);
  for (std::size_t i = 0; i + 1 < order.size(); ++i) {
    const std::size_t a = order[i], b = order[i + 1];
    const double gap_a = std::abs(up[a] - down[a]), gap_b = std::abs(up[b] - down[b]);
    if (std::isfinite(gap_a) && std::isfinite(gap_b))
      h.area += 0.5 * (gap_a + gap_b) * (std::log10(sigma[b]) - std::log10(sigma[a]));
  }
  return h;
}

}  // namespace cdl::estimators
