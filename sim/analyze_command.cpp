// `cdl analyze FILE`: per protocol and depth, the realization-averaged order parameter (or
// accuracy) with standard errors, the susceptibility, the ordered window σ_c1..σ_c2 with
// bootstrap intervals, and the hysteresis of adiabatic pairs; a table on stdout and the
// results under /analysis (in FILE, or in --output).

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <utility>

#include "base/errors.hpp"
#include "base/not_a_number.hpp"
#include "base/parse.hpp"
#include "commands.hpp"
#include "config.hpp"
#include "estimators/transitions.hpp"
#include "h5/hdf5.hpp"
#include "io/sweep_file.hpp"
#include "io/sweep_reader.hpp"
#include "open_sweep.hpp"
#include "options.hpp"
#include "output_lock.hpp"
#include "sweep/status.hpp"

namespace cdl::sim {

namespace h5 = cdl::h5;
namespace fs = std::filesystem;

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

struct ProtocolAnalysis {
  std::string name;
  std::vector<double> sigma;
  std::string observable;
  // [depth][σ]
  std::vector<std::vector<double>> mean, se, chi, loss, loss_se, rank1_r2;
  // micro, classes: the mean model's test accuracy, mean and standard error ([depth][σ])
  std::vector<std::vector<double>> mean_model, mean_model_se;
  std::vector<estimators::Window> window;
  std::vector<estimators::WindowInterval> interval;
  std::vector<long> status_count;  // points per status code: only done points are analysed
  // The same signal at every observation horizon: [depth][horizon][σ] and [depth][horizon].
  std::vector<double> horizons;
  std::vector<std::vector<std::vector<double>>> horizon_mean;
  std::vector<std::vector<estimators::Window>> horizon_window;
  std::vector<std::vector<estimators::WindowInterval>> horizon_interval;
};

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

std::string format_sigma(double value, const std::array<double, 2>& ci) {
  if (!std::isfinite(value)) return "-";
  char text[64];
  if (std::isfinite(ci[0]))
    std::snprintf(text, sizeof text, "%.3g [%.3g, %.3g]", value, ci[0], ci[1]);
  else
    std::snprintf(text, sizeof text, "%.3g", value);
  return text;
}

struct AnalyzeOptions {
  std::string path;
  std::optional<std::string> output, theory;
  int resamples = 1000;
  std::uint64_t seed = 1;
  bool quiet = false;
  bool overwrite = false;
};

// What identifies the content of a file without reading it: an in-place analysis replaces FILE
// only if it is still the one that was analysed.
struct FileIdentity {
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  timespec modified{}, changed{};
  bool operator==(const FileIdentity& other) const {
    const auto same = [](const timespec& a, const timespec& b) {
      return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
    };
    return device == other.device && inode == other.inode && size == other.size &&
           same(modified, other.modified) && same(changed, other.changed);
  }
};

// The identity of `path`; unset (all zero) if it cannot be read.
FileIdentity identity_of(const std::string& path) {
  struct stat status {};
  if (::stat(path.c_str(), &status) != 0) return {};
  return {status.st_dev, status.st_ino, status.st_size, status.st_mtim, status.st_ctim};
}

// The measured sweep: everything /analysis holds.
struct SweepAnalysis {
  std::string subcommand;
  std::vector<std::int32_t> depths;
  std::vector<ProtocolAnalysis> protocols;
  std::vector<estimators::Hysteresis> loops;  // [depth], when both adiabatic directions exist
};

// The critical couplings of a cdl stationary file, per depth.
struct Prediction {
  std::vector<std::int32_t> depths;
  std::vector<double> sigma_c1, sigma_c2;
};

po::options_description analyze_options() {
  po::options_description options("cdl analyze options");
  // clang-format off
  options.add_options()
      ("help,h", "show this help")
      ("output", po::value<std::string>(),
       "write /analysis to this new file instead of into FILE")
      ("overwrite", po::bool_switch(), "replace an existing --output file")
      ("theory", po::value<std::string>(),
       "a cdl stationary file: its critical couplings beside the measured ones")
      ("bootstrap", po::value<std::string>()->default_value("1000"),
       "bootstrap resamples of the realizations for the intervals")
      ("seed", po::value<std::string>()->default_value("1"), "seed of the bootstrap")
      ("quiet", po::bool_switch(), "no messages on stderr")
      ("file", po::value<std::string>(), "FILE");
  // clang-format on
  return options;
}

AnalyzeOptions read_options(const po::variables_map& values) {
  AnalyzeOptions o;
  if (!values.count("file")) base::reject("file", "", "name a cdl theory or micro file");
  o.path = values["file"].as<std::string>();
  const long long resamples = base::parse_integer(text(values, "bootstrap"), "bootstrap");
  if (resamples < 10 || resamples > 1000000)
    base::reject("bootstrap", text(values, "bootstrap"), "need 10 to 10^6 resamples");
  o.resamples = static_cast<int>(resamples);
  o.seed = static_cast<std::uint64_t>(base::parse_integer(text(values, "seed"), "seed"));
  o.overwrite = values["overwrite"].as<bool>();
  if (values.count("output")) {
    o.output = values["output"].as<std::string>();
    check_output(*o.output, o.overwrite);  // a quick refusal; repeated under the lock
    std::error_code error;
    if (std::filesystem::equivalent(*o.output, o.path, error))
      base::reject("output", *o.output, "is the input file; omit --output to analyse in place");
  }
  if (values.count("theory")) o.theory = values["theory"].as<std::string>();
  o.quiet = values["quiet"].as<bool>();
  return o;
}

// The ordered window of the signal at every horizon of the file (`<signal>_horizon`).
void analyse_horizons(const io::SweepReader& reader, const io::PointTable<std::int8_t>& status,
                      const AnalyzeOptions& o, ProtocolAnalysis& p) {
  p.horizons = reader.horizons(p.name);
  const std::size_t depths = reader.depths().size();
  p.horizon_mean.assign(depths, {});
  p.horizon_window.assign(depths, {});
  p.horizon_interval.assign(depths, {});
  const auto signals = reader.horizon_points(p.name, p.observable + "_horizon");
  for (std::size_t h = 0; h < p.horizons.size(); ++h) {
    const io::PointTable<double>& signal = signals[h];
    for (std::size_t d = 0; d < depths; ++d) {
      const auto values_d = per_run(signal, status, d);
      const estimators::Curve curve = estimators::average_over_runs(values_d);
      p.horizon_mean[d].push_back(curve.mean);
      p.horizon_window[d].push_back(estimators::locate_window(p.sigma, curve.mean));
      p.horizon_interval[d].push_back(
          estimators::bootstrap_window(p.sigma, values_d, o.resamples, o.seed));
    }
  }
}

// Averages over realizations and the ordered window of one protocol group, per depth.
ProtocolAnalysis analyse_protocol(const io::SweepReader& reader, const std::string& name,
                                  const AnalyzeOptions& o) {
  const bool micro = reader.subcommand() == "micro";
  ProtocolAnalysis p;
  p.name = name;
  p.sigma = reader.sigma(name);
  const io::PointTable<std::int8_t> status = reader.points<std::int8_t>(name, "status");
  p.status_count.assign(sweep::point_status_names.size(), 0);
  for (const auto s : status.values) ++p.status_count[static_cast<std::size_t>(s)];
  const io::PointTable<double> order = reader.points<double>(name, "order_parameter");
  const io::PointTable<double> loss = reader.points<double>(name, micro ? "loss_test" : "loss");
  io::PointTable<double> signal = order;
  p.observable = "order_parameter";
  io::PointTable<double> rank1, mean_model;
  if (micro) {
    io::PointTable<double> accuracy = reader.points<double>(name, "accuracy");
    if (std::any_of(accuracy.values.begin(), accuracy.values.end(),
                    [](double a) { return std::isfinite(a); })) {
      signal = std::move(accuracy);
      p.observable = "accuracy";
    }
    rank1 = reader.points<double>(name, "rank1_r2");
    if (p.observable == "accuracy") mean_model = reader.points<double>(name, "accuracy_mean_model");
  }
  // The susceptibility of a finite ensemble; undefined for the N → ∞ population.
  const double units = reader.units() > 0 ? static_cast<double>(reader.units()) : nan;
  for (std::size_t d = 0; d < reader.depths().size(); ++d) {
    const auto values_d = per_run(signal, status, d);
    const estimators::Curve curve = estimators::average_over_runs(values_d);
    const estimators::Curve order_curve = estimators::average_over_runs(per_run(order, status, d));
    p.mean.push_back(curve.mean);
    p.se.push_back(curve.se);
    std::vector<double> chi(p.sigma.size());
    for (std::size_t s = 0; s < chi.size(); ++s) chi[s] = units * order_curve.variance[s];
    p.chi.push_back(chi);
    const estimators::Curve loss_curve = estimators::average_over_runs(per_run(loss, status, d));
    p.loss.push_back(loss_curve.mean);
    p.loss_se.push_back(loss_curve.se);
    if (!rank1.values.empty())
      p.rank1_r2.push_back(estimators::average_over_runs(per_run(rank1, status, d)).mean);
    if (!mean_model.values.empty()) {
      const estimators::Curve model = estimators::average_over_runs(per_run(mean_model, status, d));
      p.mean_model.push_back(model.mean);
      p.mean_model_se.push_back(model.se);
    }
    p.window.push_back(estimators::locate_window(p.sigma, curve.mean));
    p.interval.push_back(estimators::bootstrap_window(p.sigma, values_d, o.resamples, o.seed));
  }
  analyse_horizons(reader, status, o, p);
  return p;
}

// Reads and estimates everything before any file is touched: bad input writes nothing.
SweepAnalysis analyse_sweep(const AnalyzeOptions& o, const io::SweepReader& reader) {
  SweepAnalysis a;
  a.subcommand = reader.subcommand();
  a.depths = reader.depths();
  long done = 0;
  for (const std::string& name : reader.protocols()) {
    a.protocols.push_back(analyse_protocol(reader, name, o));
    done += a.protocols.back().status_count[0];
  }
  if (a.protocols.empty()) base::reject("file", o.path, "holds no protocol groups");
  if (done == 0) base::reject("file", o.path, "every point failed or was not run");
  const auto find = [&](const std::string& name) -> const ProtocolAnalysis* {
    for (const auto& p : a.protocols)
      if (p.name == name) return &p;
    return nullptr;
  };
  const ProtocolAnalysis *up = find("adiabatic_up"), *down = find("adiabatic_down");
  if (up && down)
    for (std::size_t d = 0; d < a.depths.size(); ++d)
      a.loops.push_back(estimators::hysteresis(up->sigma, up->mean[d], down->mean[d]));
  return a;
}

Prediction read_prediction(const std::string& theory) {
  Prediction p;
  try {
    const h5::File file = h5::File::open_read_only(theory);
    const h5::Group critical = file.root().open_group("critical");
    p.depths = critical.open_dataset("depth").read<std::int32_t>();
    p.sigma_c1 = critical.open_dataset("sigma_c1").read<double>();
    p.sigma_c2 = critical.open_dataset("sigma_c2").read<double>();
  } catch (const h5::Error& e) {
    base::reject(
        "theory", theory,
        "not a cdl stationary file with /critical" + (e.cause().empty() ? "" : ": " + e.cause()));
  } catch (const std::exception&) {
    base::reject("theory", theory, "not a cdl stationary file with /critical");
  }
  if (p.sigma_c1.size() != p.depths.size() || p.sigma_c2.size() != p.depths.size())
    base::reject("theory", theory, "/critical: sigma_c1, sigma_c2 and depth differ in length");
  return p;
}

// Per horizon: the mean curve [depth, sigma, horizon], and σ_c1, σ_c2 [depth, horizon] with
// their intervals [depth, horizon, 2].
void write_horizons(const h5::Group& g, const ProtocolAnalysis& p, const h5::Dataset& depth,
                    const h5::Dataset& sigma) {
  const h5::Dataset horizon = g.create_scale<double>("horizon", p.horizons);
  const std::size_t n_depth = p.horizon_mean.size(), n_horizon = p.horizons.size();
  std::vector<double> mean;
  for (std::size_t d = 0; d < n_depth; ++d)
    for (std::size_t s = 0; s < p.sigma.size(); ++s)
      for (std::size_t h = 0; h < n_horizon; ++h) mean.push_back(p.horizon_mean[d][h][s]);
  const h5::Dataset m =
      g.create_dataset<double>("mean_horizon", {n_depth, p.sigma.size(), n_horizon});
  m.write<double>(mean);
  depth.attach_to(m, 0);
  sigma.attach_to(m, 1);
  horizon.attach_to(m, 2);
  m.set_attribute("long_name", "mean over realizations of " + p.observable + " at each horizon");
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
    const h5::Dataset dataset = g.create_dataset<double>(name, dims);
    dataset.write<double>(flat);
    depth.attach_to(dataset, 0);
    horizon.attach_to(dataset, 1);
    dataset.set_attribute("long_name", long_name);
  };
  const auto& w = p.horizon_window;
  const auto& ci = p.horizon_interval;
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

void write_protocol(const h5::Group& analysis_group, const ProtocolAnalysis& p,
                    const SweepAnalysis& a) {
  const h5::Group g = analysis_group.create_group(p.name);
  g.set_attribute("observable", p.observable);
  // What this analysis saw: the points that were done, of all the grid's points (an analysis
  // of an unfinished sweep says so).
  std::int64_t total = 0;
  for (long n : p.status_count) total += n;
  g.set_attribute("points_done", static_cast<std::int64_t>(p.status_count[0]));
  g.set_attribute("points_total", total);
  const h5::Dataset depth = g.create_scale<std::int32_t>("depth", a.depths);
  const h5::Dataset sigma = g.create_scale<double>("sigma", p.sigma);
  write_matrix(g, "mean", p.mean, depth, sigma, "mean over realizations of " + p.observable);
  write_matrix(g, "se", p.se, depth, sigma, "standard error of mean");
  write_matrix(g, "chi", p.chi, depth, sigma,
               "susceptibility N * variance over realizations of order_parameter");
  write_matrix(g, "loss", p.loss, depth, sigma,
               a.subcommand == "micro" ? "mean test loss" : "mean effective loss");
  write_matrix(g, "loss_se", p.loss_se, depth, sigma, "standard error of loss");
  if (!p.rank1_r2.empty())
    write_matrix(g, "rank1_r2", p.rank1_r2, depth, sigma, "mean rank-one R^2");
  if (!p.mean_model.empty()) {
    write_matrix(g, "accuracy_mean_model", p.mean_model, depth, sigma,
                 "mean over realizations of accuracy_mean_model (the units' mean parameters)");
    write_matrix(g, "accuracy_mean_model_se", p.mean_model_se, depth, sigma,
                 "standard error of accuracy_mean_model");
  }
  std::vector<double> c1, c2;
  std::vector<std::array<double, 2>> c1_ci, c2_ci;
  for (std::size_t d = 0; d < a.depths.size(); ++d) {
    c1.push_back(p.window[d].sigma_c1);
    c2.push_back(p.window[d].sigma_c2);
    c1_ci.push_back(p.interval[d].sigma_c1);
    c2_ci.push_back(p.interval[d].sigma_c2);
  }
  write_vector(g, "sigma_c1", c1, depth, "onset of the ordered window");
  write_vector(g, "sigma_c2", c2, depth, "end of the ordered window");
  write_intervals(g, "sigma_c1_ci", c1_ci, depth, "95 % bootstrap interval of sigma_c1");
  write_intervals(g, "sigma_c2_ci", c2_ci, depth, "95 % bootstrap interval of sigma_c2");
  write_horizons(g, p, depth, sigma);
}

void write_hysteresis(const h5::Group& analysis_group, const SweepAnalysis& a) {
  const h5::Group g = analysis_group.create_group("hysteresis");
  const h5::Dataset depth = g.create_scale<std::int32_t>("depth", a.depths);
  std::vector<double> w1, w2, area;
  for (const auto& h : a.loops)
    w1.push_back(h.width_c1), w2.push_back(h.width_c2), area.push_back(h.area);
  write_vector(g, "width_c1", w1, depth, "log10(sigma_c1 up / sigma_c1 down), decades");
  write_vector(g, "width_c2", w2, depth, "log10(sigma_c2 up / sigma_c2 down), decades");
  write_vector(g, "area", area, depth, "integral of |m_up - m_down| d log10 sigma");
}

// Copies `from` to `to` (created or truncated, never through a link) with read and write, so
// that a failure names its cause: std::filesystem::copy_file reported a full disk or the
// file-size limit as "Input/output error".
void copy_whole_file(const std::string& from, const std::string& to) {
  const auto fail = [&](const std::string& what) {
    throw RuntimeError("cannot copy " + from + " to " + to + ": " + what + ": " +
                       std::strerror(errno));
  };
  // Closed on every way out; the target's close is checked on the way that succeeds.
  struct Descriptor {
    int fd;
    ~Descriptor() {
      if (fd >= 0) ::close(fd);
    }
  };
  const Descriptor source{::open(from.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC)};
  if (source.fd < 0) fail("cannot open " + from);
  Descriptor target{
      ::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644)};
  if (target.fd < 0) fail("cannot create " + to);
  std::vector<char> buffer(1 << 20);
  for (ssize_t got; (got = ::read(source.fd, buffer.data(), buffer.size())) != 0;) {
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) fail("reading");
    for (ssize_t put = 0, wrote; put < got; put += wrote)
      if ((wrote = ::write(target.fd, buffer.data() + put, static_cast<size_t>(got - put))) < 0) {
        if (errno != EINTR) fail("writing");
        wrote = 0;
      }
  }
  const int fd = std::exchange(target.fd, -1);
  if (::close(fd) != 0) fail("closing");
}

// Writes /analysis, under the target's lock, into a temporary file that replaces the target
// only when complete: OUTPUT.part for --output (as the sweeps), a copy of FILE for an in-place
// analysis (FILE.analysis.part: never FILE.part, which may be a resumable sweep), which replaces
// FILE only if FILE is still the file `analysed` identifies.
void write_analysis(const AnalyzeOptions& o, const SweepAnalysis& a,
                    const std::string& command_line, OutputLock& lock,
                    const FileIdentity& analysed) {
  const std::string target = o.output ? *o.output : o.path;
  const std::string temporary = o.output ? *o.output + ".part" : o.path + ".analysis.part";
  if (std::error_code error; std::filesystem::is_symlink(temporary, error))
    base::reject(o.output ? "output" : "file", target, temporary + " is a symbolic link");
  RemoveUnlessKept unfinished(temporary);
  h5::File file;
  if (o.output) {
    create_output(*o.output, [&] {
      file = h5::File::create(temporary);
      return 0;
    });
    lock.hold(temporary);
    io::write_provenance(file.root(), {command_line, ""});
    file.root().set_attribute("subcommand", std::string("analyze"));
    file.root().set_attribute("source", o.path);
  } else {
    copy_whole_file(o.path, temporary);
    lock.hold(temporary);
    file = h5::File::open_read_write(temporary);
    if (file.root().has_link("analysis")) file.root().remove("analysis");
  }
  const h5::Group analysis_group = file.root().create_group("analysis");
  analysis_group.set_attribute(
      "estimator",
      std::string("sigma_c1/sigma_c2: half-height crossings of the realization mean on log10 "
                  "sigma (README, cdl analyze); intervals: 95 % bootstrap over realizations"));
  for (const auto& p : a.protocols) write_protocol(analysis_group, p, a);
  if (!a.loops.empty()) write_hysteresis(analysis_group, a);
  file.close();  // flushed and closed, checked: a failed write stops before the rename
  stop_here_for_test("replacing");
  // Edited or replaced since it was read (by hand: cdl writers are kept out by the lock): the
  // analysis would describe data that are gone.
  if (!o.output && !(identity_of(o.path) == analysed))
    base::reject("file", o.path, "changed while it was analysed; nothing written, run again");
  std::filesystem::rename(temporary, target);
  unfinished.keep();
}

// The ordered window at each horizon, with the stationary theory's couplings as the t → ∞
// row when given; only for files with several horizons or a prediction to set beside them.
void print_horizons(const SweepAnalysis& a, const ProtocolAnalysis& p,
                    const Prediction& prediction) {
  if (p.horizons.size() < 2 && prediction.depths.empty()) return;
  std::printf("\n%s (%s): ordered window at each horizon, 95 %% bootstrap intervals\n",
              p.name.c_str(), p.observable.c_str());
  std::printf("%6s %10s  %-30s %-30s\n", "depth", "horizon", "sigma_c1", "sigma_c2");
  for (std::size_t d = 0; d < a.depths.size(); ++d) {
    for (std::size_t h = 0; h < p.horizons.size(); ++h)
      std::printf(
          "%6d %10.4g  %-30s %-30s\n", a.depths[d], p.horizons[h],
          format_sigma(p.horizon_window[d][h].sigma_c1, p.horizon_interval[d][h].sigma_c1).c_str(),
          format_sigma(p.horizon_window[d][h].sigma_c2, p.horizon_interval[d][h].sigma_c2).c_str());
    for (std::size_t k = 0; k < prediction.depths.size(); ++k)
      if (prediction.depths[k] == a.depths[d])
        std::printf("%6d %10s  %-30s %-30s\n", a.depths[d], "inf",
                    format_sigma(prediction.sigma_c1[k], {nan, nan}).c_str(),
                    format_sigma(prediction.sigma_c2[k], {nan, nan}).c_str());
  }
}

void print_tables(const SweepAnalysis& a, const Prediction& prediction) {
  for (const auto& p : a.protocols) {
    std::printf("\n%s (%s): ordered window, 95 %% bootstrap intervals\n", p.name.c_str(),
                p.observable.c_str());
    // Points that are not done never enter an average: say how many were left out, and why.
    std::string excluded;
    for (std::size_t k = 2; k < p.status_count.size(); ++k)
      if (p.status_count[k] > 0)
        excluded += (excluded.empty() ? "" : ", ") + std::to_string(p.status_count[k]) + " " +
                    sweep::point_status_names[k];
    if (!excluded.empty()) std::printf("(left out: %s)\n", excluded.c_str());
    std::printf("%6s  %-30s %-30s", "depth", "sigma_c1", "sigma_c2");
    if (!prediction.depths.empty()) std::printf(" %-10s %-10s", "theory c1", "theory c2");
    std::printf("\n");
    for (std::size_t d = 0; d < a.depths.size(); ++d) {
      std::printf("%6d  %-30s %-30s", a.depths[d],
                  format_sigma(p.window[d].sigma_c1, p.interval[d].sigma_c1).c_str(),
                  format_sigma(p.window[d].sigma_c2, p.interval[d].sigma_c2).c_str());
      for (std::size_t k = 0; k < prediction.depths.size(); ++k)
        if (prediction.depths[k] == a.depths[d])
          std::printf(" %-10.3g %-10.3g", prediction.sigma_c1[k], prediction.sigma_c2[k]);
      std::printf("\n");
    }
  }
  for (const auto& p : a.protocols) print_horizons(a, p, prediction);
  if (!a.loops.empty()) {
    std::printf("\nhysteresis (adiabatic_up vs adiabatic_down)\n%6s  %-12s %-12s %-12s\n", "depth",
                "width c1", "width c2", "area");
    for (std::size_t d = 0; d < a.depths.size(); ++d)
      std::printf("%6d  %-12.3g %-12.3g %-12.3g\n", a.depths[d], a.loops[d].width_c1,
                  a.loops[d].width_c2, a.loops[d].area);
  }
}

}  // namespace

int run_analyze(const std::vector<std::string>& arguments, const std::string& command_line) {
  const auto parsed =
      parse_file_command("cdl analyze FILE [options]", analyze_options(), "file", 1, arguments);
  if (!parsed) return 0;  // --help
  const AnalyzeOptions o = read_options(*parsed);
  if (io::is_stationary_file(o.path))
    base::reject("file", o.path, "a cdl stationary file has no realizations; pass it as --theory");
  // Taken before the file is read: an in-place analysis replaces FILE only if it is still this.
  const FileIdentity analysed = identity_of(o.path);
  const io::SweepReader reader = open_sweep_file(o.path, "file");
  // Every check that decides whether to write is made under the target's lock, taken before the
  // analysis: a sweep replacing FILE, or a second analysis onto OUTPUT, is kept out meanwhile.
  OutputLock lock(o.output ? *o.output : o.path, o.output ? "output" : "file");
  if (o.output) check_output(*o.output, o.overwrite);
  if (!o.output) lock.hold(o.path);  // the file this analysis replaces
  const SweepAnalysis a = analyse_sweep(o, reader);
  const Prediction prediction = o.theory ? read_prediction(*o.theory) : Prediction{};
  write_analysis(o, a, command_line, lock, analysed);
  print_tables(a, prediction);
  if (!o.quiet) std::cerr << "wrote /analysis to " << (o.output ? *o.output : o.path) << "\n";
  return 0;
}

}  // namespace cdl::sim
