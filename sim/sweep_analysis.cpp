#include "sweep_analysis.hpp"

#include <algorithm>
#include <cmath>

#include "base/errors.hpp"
#include "base/not_a_number.hpp"
#include "base/parse.hpp"
#include "h5/hdf5.hpp"
#include "sweep/status.hpp"

namespace cdl::sim {

namespace {

using base::nan;

// values[run][σ] of one depth; NaN where the point is not done.
std::vector<std::vector<double>> per_run(const io::PointTable<double>& data,
                                         const io::PointTable<std::int8_t>& status, std::size_t d) {
  std::vector<std::vector<double>> values(data.runs, std::vector<double>(data.sigmas, nan));
  for (std::size_t r = 0; r < data.runs; ++r)
    for (std::size_t s = 0; s < data.sigmas; ++s)
      if (sweep::is_done(status.at(d, r, s))) values[r][s] = data.at(d, r, s);
  return values;
}

// The ordered window of the signal at every horizon of the file (`<signal>_horizon`).
void analyse_horizons(const io::SweepReader& reader, const io::PointTable<std::int8_t>& status,
                      const BootstrapSettings& bootstrap, ProtocolAnalysis& protocol) {
  protocol.horizons = reader.horizons(protocol.name);
  const std::size_t depths = reader.depths().size();
  protocol.horizon_mean.assign(depths, {});
  protocol.horizon_window.assign(depths, {});
  protocol.horizon_interval.assign(depths, {});
  const auto signals = reader.horizon_points(protocol.name, protocol.observable + "_horizon");
  for (std::size_t h = 0; h < protocol.horizons.size(); ++h) {
    const io::PointTable<double>& signal = signals[h];
    for (std::size_t d = 0; d < depths; ++d) {
      const auto values_d = per_run(signal, status, d);
      const estimators::Curve curve = estimators::average_over_runs(values_d);
      protocol.horizon_mean[d].push_back(curve.mean);
      protocol.horizon_window[d].push_back(estimators::locate_window(protocol.sigma, curve.mean));
      protocol.horizon_interval[d].push_back(estimators::bootstrap_window(
          protocol.sigma, values_d, bootstrap.resamples, bootstrap.seed));
    }
  }
}

// Averages over realizations and the ordered window of one protocol group, per depth.
ProtocolAnalysis analyse_protocol(const io::SweepReader& reader, const std::string& name,
                                  const BootstrapSettings& bootstrap) {
  const bool micro = reader.subcommand() == "micro";
  ProtocolAnalysis protocol;
  protocol.name = name;
  protocol.sigma = reader.sigma(name);
  const io::PointTable<std::int8_t> status = reader.points<std::int8_t>(name, "status");
  protocol.status_count.assign(sweep::point_status_names.size(), 0);
  for (const auto s : status.values) ++protocol.status_count[static_cast<std::size_t>(s)];
  const io::PointTable<double> order = reader.points<double>(name, "order_parameter");
  const io::PointTable<double> loss = reader.points<double>(name, micro ? "loss_test" : "loss");
  io::PointTable<double> signal = order;
  protocol.observable = "order_parameter";
  io::PointTable<double> rank1, mean_model;
  if (micro) {
    io::PointTable<double> accuracy = reader.points<double>(name, "accuracy");
    if (std::any_of(accuracy.values.begin(), accuracy.values.end(),
                    [](double analysis) { return std::isfinite(analysis); })) {
      signal = std::move(accuracy);
      protocol.observable = "accuracy";
    }
    rank1 = reader.points<double>(name, "rank1_r2");
    if (protocol.observable == "accuracy")
      mean_model = reader.points<double>(name, "accuracy_mean_model");
  }
  // The susceptibility of a finite ensemble; undefined for the N → ∞ population.
  const double units = reader.units() > 0 ? static_cast<double>(reader.units()) : nan;
  for (std::size_t d = 0; d < reader.depths().size(); ++d) {
    const auto values_d = per_run(signal, status, d);
    const estimators::Curve curve = estimators::average_over_runs(values_d);
    const estimators::Curve order_curve = estimators::average_over_runs(per_run(order, status, d));
    protocol.mean.push_back(curve.mean);
    protocol.se.push_back(curve.se);
    std::vector<double> chi(protocol.sigma.size());
    for (std::size_t s = 0; s < chi.size(); ++s) chi[s] = units * order_curve.variance[s];
    protocol.chi.push_back(chi);
    const estimators::Curve loss_curve = estimators::average_over_runs(per_run(loss, status, d));
    protocol.loss.push_back(loss_curve.mean);
    protocol.loss_se.push_back(loss_curve.se);
    if (!rank1.values.empty())
      protocol.rank1_r2.push_back(estimators::average_over_runs(per_run(rank1, status, d)).mean);
    if (!mean_model.values.empty()) {
      const estimators::Curve model = estimators::average_over_runs(per_run(mean_model, status, d));
      protocol.mean_model.push_back(model.mean);
      protocol.mean_model_se.push_back(model.se);
    }
    protocol.window.push_back(estimators::locate_window(protocol.sigma, curve.mean));
    protocol.interval.push_back(estimators::bootstrap_window(protocol.sigma, values_d,
                                                             bootstrap.resamples, bootstrap.seed));
  }
  analyse_horizons(reader, status, bootstrap, protocol);
  return protocol;
}

}  // namespace

SweepAnalysis analyse_sweep(const io::SweepReader& reader, const std::string& path,
                            const BootstrapSettings& bootstrap) {
  SweepAnalysis analysis;
  analysis.subcommand = reader.subcommand();
  analysis.depths = reader.depths();
  long done = 0;
  for (const std::string& name : reader.protocols()) {
    analysis.protocols.push_back(analyse_protocol(reader, name, bootstrap));
    done += analysis.protocols.back().status_count[0];
  }
  if (analysis.protocols.empty()) base::reject("file", path, "holds no protocol groups");
  if (done == 0) base::reject("file", path, "every point failed or was not run");
  const auto find = [&](const std::string& name) -> const ProtocolAnalysis* {
    for (const auto& protocol : analysis.protocols)
      if (protocol.name == name) return &protocol;
    return nullptr;
  };
  const ProtocolAnalysis *up = find("adiabatic_up"), *down = find("adiabatic_down");
  if (up && down)
    for (std::size_t d = 0; d < analysis.depths.size(); ++d)
      analysis.loops.push_back(estimators::hysteresis(up->sigma, up->mean[d], down->mean[d]));
  return analysis;
}

Prediction read_prediction(const std::string& theory) {
  Prediction prediction;
  try {
    const h5::File file = h5::File::open_read_only(theory);
    const h5::Group critical = file.root().open_group("critical");
    prediction.depths = critical.open_dataset("depth").read<std::int32_t>();
    prediction.sigma_c1 = critical.open_dataset("sigma_c1").read<double>();
    prediction.sigma_c2 = critical.open_dataset("sigma_c2").read<double>();
  } catch (const h5::Error& e) {
    base::reject(
        "theory", theory,
        "not a cdl stationary file with /critical" + (e.cause().empty() ? "" : ": " + e.cause()));
  } catch (const std::exception&) {
    base::reject("theory", theory, "not a cdl stationary file with /critical");
  }
  if (prediction.sigma_c1.size() != prediction.depths.size() ||
      prediction.sigma_c2.size() != prediction.depths.size())
    base::reject("theory", theory, "/critical: sigma_c1, sigma_c2 and depth differ in length");
  return prediction;
}

}  // namespace cdl::sim
