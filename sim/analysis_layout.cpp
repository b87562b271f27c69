#include "analysis_layout.hpp"

#include <array>
#include <string>
#include <vector>

#include "base/not_a_number.hpp"

namespace cdl::sim {

namespace {

using base::nan;

void write_matrix(const h5::Group& group, const std::string& name,
                  const std::vector<std::vector<double>>& rows, const h5::Dataset& depth,
                  const h5::Dataset& sigma, const std::string& long_name) {
  std::vector<double> flat;
  for (const auto& row : rows) flat.insert(flat.end(), row.begin(), row.end());
  const h5::Dataset d =
      group.create_dataset<double>(name, {rows.size(), rows.empty() ? 0 : rows[0].size()});
  d.write<double>(flat);
  depth.attach_to(d, 0);
  sigma.attach_to(d, 1);
  d.set_attribute("long_name", long_name);
}

void write_vector(const h5::Group& group, const std::string& name, const std::vector<double>& v,
                  const h5::Dataset& depth, const std::string& long_name) {
  const h5::Dataset d = group.create_dataset<double>(name, {v.size()});
  d.write<double>(v);
  depth.attach_to(d, 0);
  d.set_attribute("long_name", long_name);
}

void write_intervals(const h5::Group& group, const std::string& name,
                     const std::vector<std::array<double, 2>>& v, const h5::Dataset& depth,
                     const std::string& long_name) {
  std::vector<double> flat;
  for (const auto& pair : v) flat.insert(flat.end(), pair.begin(), pair.end());
  const h5::Dataset d = group.create_dataset<double>(name, {v.size(), 2});
  d.write<double>(flat);
  depth.attach_to(d, 0);
  d.set_attribute("long_name", long_name);
}

// Per horizon: the mean curve [depth, sigma, horizon], and σ_c1, σ_c2 [depth, horizon] with
// their intervals [depth, horizon, 2].
void write_horizons(const h5::Group& group, const ProtocolAnalysis& protocol,
                    const h5::Dataset& depth, const h5::Dataset& sigma) {
  const h5::Dataset horizon = group.create_scale<double>("horizon", protocol.horizons);
  const std::size_t n_depth = protocol.horizon_mean.size(), n_horizon = protocol.horizons.size();
  std::vector<double> mean;
  for (std::size_t d = 0; d < n_depth; ++d)
    for (std::size_t s = 0; s < protocol.sigma.size(); ++s)
      for (std::size_t h = 0; h < n_horizon; ++h) mean.push_back(protocol.horizon_mean[d][h][s]);
  const h5::Dataset m =
      group.create_dataset<double>("mean_horizon", {n_depth, protocol.sigma.size(), n_horizon});
  m.write<double>(mean);
  depth.attach_to(m, 0);
  sigma.attach_to(m, 1);
  horizon.attach_to(m, 2);
  m.set_attribute("long_name",
                  "mean over realizations of " + protocol.observable + " at each horizon");
  const auto write = [&](const std::string& name, auto value, std::size_t pairs,
                         const std::string& long_name) {
    std::vector<double> flat;
    for (std::size_t d = 0; d < n_depth; ++d)
      for (std::size_t h = 0; h < n_horizon; ++h) {
        const std::array<double, 2> v = value(d, h);
        flat.insert(flat.end(), v.begin(), v.begin() + static_cast<long>(pairs));
      }
    h5::Dims dims{n_depth, n_horizon};
    if (pairs == 2) dims.push_back(2);
    const h5::Dataset dataset = group.create_dataset<double>(name, dims);
    dataset.write<double>(flat);
    depth.attach_to(dataset, 0);
    horizon.attach_to(dataset, 1);
    dataset.set_attribute("long_name", long_name);
  };
  const auto& w = protocol.horizon_window;
  const auto& ci = protocol.horizon_interval;
  write(
      "sigma_c1_horizon",
      [&](auto d, auto h) {
        return std::array{w[d][h].sigma_c1, nan};
      },
      1, "onset of the ordered window at each horizon");
  write(
      "sigma_c2_horizon",
      [&](auto d, auto h) {
        return std::array{w[d][h].sigma_c2, nan};
      },
      1, "end of the ordered window at each horizon");
  write(
      "sigma_c1_horizon_ci", [&](auto d, auto h) { return ci[d][h].sigma_c1; }, 2,
      "95 % bootstrap interval of sigma_c1_horizon");
  write(
      "sigma_c2_horizon_ci", [&](auto d, auto h) { return ci[d][h].sigma_c2; }, 2,
      "95 % bootstrap interval of sigma_c2_horizon");
}

void write_protocol(const h5::Group& analysis_group, const ProtocolAnalysis& protocol,
                    const SweepAnalysis& analysis) {
  const h5::Group group = analysis_group.create_group(protocol.name);
  group.set_attribute("observable", protocol.observable);
  // What this analysis saw: the points that were done, of all the grid's points (an analysis
  // of an unfinished sweep says so).
  std::int64_t total = 0;
  for (long n : protocol.status_count) total += n;
  group.set_attribute("points_done", static_cast<std::int64_t>(protocol.status_count[0]));
  group.set_attribute("points_total", total);
  const h5::Dataset depth = group.create_scale<std::int32_t>("depth", analysis.depths);
  const h5::Dataset sigma = group.create_scale<double>("sigma", protocol.sigma);
  write_matrix(group, "mean", protocol.mean, depth, sigma,
               "mean over realizations of " + protocol.observable);
  write_matrix(group, "se", protocol.se, depth, sigma, "standard error of mean");
  write_matrix(group, "chi", protocol.chi, depth, sigma,
               "susceptibility N * variance over realizations of order_parameter");
  write_matrix(group, "loss", protocol.loss, depth, sigma,
               analysis.subcommand == "micro" ? "mean test loss" : "mean effective loss");
  write_matrix(group, "loss_se", protocol.loss_se, depth, sigma, "standard error of loss");
  if (!protocol.rank1_r2.empty())
    write_matrix(group, "rank1_r2", protocol.rank1_r2, depth, sigma, "mean rank-one R^2");
  if (!protocol.mean_model.empty()) {
    write_matrix(group, "accuracy_mean_model", protocol.mean_model, depth, sigma,
                 "mean over realizations of accuracy_mean_model (the units' mean parameters)");
    write_matrix(group, "accuracy_mean_model_se", protocol.mean_model_se, depth, sigma,
                 "standard error of accuracy_mean_model");
  }
  std::vector<double> c1, c2;
  std::vector<std::array<double, 2>> c1_ci, c2_ci;
  for (std::size_t d = 0; d < analysis.depths.size(); ++d) {
    c1.push_back(protocol.window[d].sigma_c1);
    c2.push_back(protocol.window[d].sigma_c2);
    c1_ci.push_back(protocol.interval[d].sigma_c1);
    c2_ci.push_back(protocol.interval[d].sigma_c2);
  }
  write_vector(group, "sigma_c1", c1, depth, "onset of the ordered window");
  write_vector(group, "sigma_c2", c2, depth, "end of the ordered window");
  write_intervals(group, "sigma_c1_ci", c1_ci, depth, "95 % bootstrap interval of sigma_c1");
  write_intervals(group, "sigma_c2_ci", c2_ci, depth, "95 % bootstrap interval of sigma_c2");
  write_horizons(group, protocol, depth, sigma);
}

void write_hysteresis(const h5::Group& analysis_group, const SweepAnalysis& analysis) {
  const h5::Group group = analysis_group.create_group("hysteresis");
  const h5::Dataset depth = group.create_scale<std::int32_t>("depth", analysis.depths);
  std::vector<double> w1, w2, area;
  for (const auto& h : analysis.loops)
    w1.push_back(h.width_c1), w2.push_back(h.width_c2), area.push_back(h.area);
  write_vector(group, "width_c1", w1, depth, "log10(sigma_c1 up / sigma_c1 down), decades");
  write_vector(group, "width_c2", w2, depth, "log10(sigma_c2 up / sigma_c2 down), decades");
  write_vector(group, "area", area, depth, "integral of |m_up - m_down| d log10 sigma");
}

}  // namespace

void write_analysis_group(const h5::Group& root, const SweepAnalysis& analysis) {
  const h5::Group analysis_group = root.create_group("analysis");
  analysis_group.set_attribute(
      "estimator",
      std::string("sigma_c1/sigma_c2: half-height crossings of the realization mean on log10 "
                  "sigma (README, cdl analyze); intervals: 95 % bootstrap over realizations"));
  for (const auto& protocol : analysis.protocols)
    write_protocol(analysis_group, protocol, analysis);
  if (!analysis.loops.empty()) write_hysteresis(analysis_group, analysis);
}

}  // namespace cdl::sim
