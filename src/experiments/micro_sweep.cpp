#include "experiments/micro_sweep.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <future>
#include <memory>

#include "base/fixed_order_sum.hpp"
#include "base/not_a_number.hpp"
#include "base/parse.hpp"
#include "base/random.hpp"
#include "experiments/idx_classes.hpp"
#include "micro/observables.hpp"
#include "sweep/chain_points.hpp"

namespace cdl::experiments {

std::string name(Precision precision) {
  return precision == Precision::float32 ? "float32" : "float64";
}

Precision parse_precision(const std::string& text, const std::string& option) {
  return base::parse_choice<Precision>(
      text, option, {{"float32", Precision::float32}, {"float64", Precision::float64}});
}

std::vector<std::int64_t> MicroSweep::sample_steps() const {
  std::vector<std::int64_t> steps;
  for (long step = 0; step <= transient_steps + measure_steps; step += record_every)
    steps.push_back(step);
  return steps;
}

std::vector<double> MicroSweep::sample_times() const {
  std::vector<double> times;
  for (const std::int64_t step : sample_steps())
    times.push_back(learning_rate * static_cast<double>(step));
  return times;
}

namespace {

std::vector<int> all_horizons(const MicroSweep& sweep) {
  return sweep.horizon_samples.empty()
             ? std::vector<int>{static_cast<int>(sweep.sample_steps().size()) - 1}
             : sweep.horizon_samples;
}

}  // namespace

std::vector<std::int64_t> MicroSweep::horizon_steps() const {
  std::vector<std::int64_t> steps;
  for (const int k : all_horizons(*this)) steps.push_back(std::int64_t{k} * record_every);
  return steps;
}

std::vector<double> MicroSweep::horizon_axis() const {
  std::vector<double> steps;
  for (const std::int64_t h : horizon_steps()) steps.push_back(static_cast<double>(h));
  return steps;
}

std::vector<SampleWindow> MicroSweep::horizon_windows() const {
  std::vector<SampleWindow> windows;
  const long total = transient_steps + measure_steps;
  for (const std::int64_t h : horizon_steps()) {
    const long transient = static_cast<long>(h * transient_steps / total);
    windows.push_back(
        {static_cast<int>(transient / record_every) + 1, static_cast<int>(h / record_every)});
  }
  return windows;
}

MicroWorkspace make_micro_workspace(const MicroSweep& sweep) {
  MicroWorkspace workspace;
  auto& r = workspace.result;
  const auto n_sigma = static_cast<Eigen::Index>(sweep.sigma.size());
  const auto n_time = static_cast<Eigen::Index>(sweep.sample_steps().size());
  const Eigen::Index units = sweep.units();
  r.order_parameter.resize(sweep.sigma.size());
  r.m_abs.resize(sweep.sigma.size());
  for (auto& a : r.average) a.resize(sweep.sigma.size());
  for (auto& t : r.trace) t.resize(n_sigma, n_time);
  const auto n_horizon = static_cast<Eigen::Index>(sweep.horizon_windows().size());
  for (auto& a : r.horizon_average) a.resize(n_sigma, n_horizon);
  r.order_parameter_horizon.resize(n_sigma, n_horizon);
  r.relaxation_time.resize(sweep.sigma.size());
  r.unit_accuracy.resize(n_sigma, units);
  r.cross_accuracy.resize(n_sigma, units * units);
  r.rank1_r2.resize(sweep.sigma.size());
  r.communication.resize(sweep.sigma.size());
  for (auto* live :
       {&r.order_parameter_live, &r.accuracy_live, &r.loss_test_live, &r.live_fraction})
    live->resize(sweep.sigma.size());
  r.status.resize(sweep.sigma.size());
  r.steps.resize(sweep.sigma.size());
  return workspace;
}

namespace {

using base::nan;

void clear_point(MicroChainResult& r, int s) {
  r.order_parameter[s] = r.m_abs[s] = r.rank1_r2[s] = r.communication[s] = nan;
  r.order_parameter_live[s] = r.accuracy_live[s] = r.loss_test_live[s] = r.live_fraction[s] = nan;
  for (auto& a : r.average) a[s] = nan;
  for (auto& t : r.trace) t.row(s).setConstant(nan);
  for (auto& a : r.horizon_average) a.row(s).setConstant(nan);
  r.order_parameter_horizon.row(s).setConstant(nan);
  r.relaxation_time[s] = nan;
  r.unit_accuracy.row(s).setConstant(nan);
  r.cross_accuracy.row(s).setConstant(nan);
  r.steps[s] = 0;
}

// Every horizon's time averages and the relaxation time of point s, read off its traces.
void measure_horizons(const MicroSweep& sweep, MicroChainResult& r, int s) {
  const std::vector<SampleWindow> windows = sweep.horizon_windows();
  const std::vector<double> times = sweep.sample_times();
  for (std::size_t h = 0; h < windows.size(); ++h) {
    const auto column = static_cast<Eigen::Index>(h);
    for (std::size_t o = 0; o < observable_names.size(); ++o)
      r.horizon_average[o](s, column) = sweep::window_mean(r.trace[o].row(s), windows[h]);
    r.order_parameter_horizon(s, column) = std::abs(r.horizon_average[0](s, column));
  }
  const int settled = sweep::settled_index(r.trace[0].row(s));
  r.relaxation_time[s] = settled < 0 ? nan : times[static_cast<std::size_t>(settled)];
}

// Adds one measured record's averages over the units not crashed at `step` to `sums`
// (m, accuracy, test loss), each divided by the number of measured records.
template <class S>
void add_live(const micro::Ensemble<S>& ensemble, const micro::Measurement& m, long step,
              int measured, std::array<double, 3>& sums) {
  std::array<double, 3> record{0, 0, 0};
  int live = 0;
  for (Eigen::Index i = 0; i < m.unit_m.size(); ++i) {
    if (ensemble.crashed(static_cast<int>(i), step)) continue;
    record[0] += m.unit_m[i];
    record[1] += m.unit_accuracy.size() > 0 ? m.unit_accuracy[i] : nan;
    record[2] += m.unit_loss_test[i];
    ++live;
  }
  for (std::size_t o = 0; o < sums.size(); ++o)
    sums[o] += (live > 0 ? record[o] / live : nan) / measured;
}

void record(MicroChainResult& r, int s, int k, const micro::Measurement& m) {
  const double values[] = {m.m,
                           m.loss,
                           m.loss_test,
                           m.accuracy,
                           m.accuracy_vote,
                           m.consensus,
                           m.parameter_norm,
                           m.alignment,
                           m.accuracy_own,
                           m.accuracy_other,
                           m.accuracy_mean_model,
                           m.loss_test_mean_model,
                           m.accuracy_center};
  static_assert(std::size(values) == observable_names.size());
  for (std::size_t o = 0; o < observable_names.size(); ++o) r.trace[o](s, k) = values[o];
}

// One network trained on the union of the units' training data, with the same step rule,
// batch size and number of steps as a point; returns its final test accuracy.
template <class S>
double all_data_accuracy(const MicroSweep& sweep, const micro::Architecture& architecture,
                         const micro::TaskData<S>& data, const micro::Matrix<S>& initial, int run) {
  micro::TaskData<S> pooled = data;
  pooled.unit_first = {0};
  pooled.unit_count = {data.train_inputs->cols()};
  pooled.unit_class = {0};
  const coupling::CouplingGraph alone = coupling::CouplingGraph::complete(1);
  micro::Ensemble<S> network(architecture, pooled, sweep.batch, alone, sweep.seed, run);
  network.parameters() = initial.col(0);
  network.advance(sweep.transient_steps + sweep.measure_steps, static_cast<S>(sweep.learning_rate),
                  static_cast<S>(sweep.gamma), S(0));
  if (!network.parameters().allFinite()) return nan;
  micro::Evaluator<S> evaluator(architecture, pooled);
  return evaluator.measure(network.parameters(), false).accuracy;
}

template <class S>
void compute_item(const MicroSweep& sweep, const WorkItem& item, MicroWorkspace& workspace,
                  const micro::TaskData<S>* idx, int threads, const base::StopRequest& stop) {
  const Chain& chain = item.chain;
  const Protocol protocol = sweep.protocols[chain.protocol];
  auto& r = workspace.result;
  r.chain = chain;
  micro::TaskData<S> dealt = micro::make_task_data<S>(sweep.task, chain.run, idx);
  if (dealt.classes > 0)
    micro::apply_partition(sweep.partition, sweep.task, chain.run, std::max(1, sweep.batch), dealt);
  const micro::TaskData<S>& data = dealt;
  micro::Architecture architecture = sweep.architecture;
  architecture.depth = sweep.depths[chain.depth_index];
  const auto graph =
      coupling::CouplingGraph::of_realization(sweep.topology, sweep.units(), sweep.seed, chain.run);
  const micro::Matrix<S> initial = micro::initial_parameters<S>(
      architecture, sweep.units(), sweep.weights, sweep.initial_state, sweep.seed, chain.run);
  r.disorder = data.disorder;
  r.label_histogram.clear();
  if (data.classes > 0)
    for (const auto& unit : micro::label_histograms(data))
      r.label_histogram.insert(r.label_histogram.end(), unit.begin(), unit.end());
  r.initial_state = initial.template cast<double>().colwise().mean().transpose().array();

  // A property of the realization: computed once, by the protocol-0 item holding coupling 0,
  // which is the one that writes it (io/micro_output.cpp). It is one network's work beside
  // the ensemble's N, so on two or more threads it trains on a thread of its own while the
  // ensemble runs on the others, and hands its thread back when done: the threads in use stay
  // `threads`, and neither result depends on how they are shared.
  const bool wants_reference = data.classes > 0 && chain.protocol == 0 && item.covers(0);
  const auto train_reference = [&] {
    return all_data_accuracy<S>(sweep, architecture, data, initial, chain.run);
  };
  r.all_data_accuracy = wants_reference && threads == 1 ? train_reference() : nan;
  std::future<double> reference;
  if (wants_reference && threads > 1) reference = std::async(std::launch::async, train_reference);
  micro::Ensemble<S> ensemble(architecture, data, sweep.batch, graph, sweep.seed, chain.run);
  ensemble.set_scheme(sweep.scheme);
  ensemble.set_failures(sweep.failures);
  micro::Evaluator<S> evaluator(architecture, data);
  const auto share_threads = [&](int count) {
    ensemble.set_threads(count);
    evaluator.set_threads(count);
  };
  share_threads(reference.valid() ? threads - 1 : threads);
  // While the reference trains, the ensemble advances in short pieces (the same steps, so the
  // same result) and takes the reference's thread back as soon as it is free.
  constexpr long steps_per_piece = 32;
  const auto advance = [&](long count, S tau, S gamma, S sigma) {
    while (reference.valid() && count > 0) {
      const long piece = std::min(count, steps_per_piece);
      ensemble.advance(piece, tau, gamma, sigma);
      count -= piece;
      if (reference.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
        r.all_data_accuracy = reference.get();  // joins its thread before the ensemble grows
        share_threads(threads);
      }
    }
    ensemble.advance(count, tau, gamma, sigma);
  };
  const std::vector<std::int64_t> steps = sweep.sample_steps();
  const int first_measured = sweep.first_measured_sample();
  const int measured = static_cast<int>(steps.size()) - first_measured;
  const S tau = static_cast<S>(sweep.learning_rate), gamma = static_cast<S>(sweep.gamma);
  ensemble.set_parameters(initial);
  const auto restart = [&] { ensemble.set_parameters(initial); };
  const auto compute = [&](int s) {
    // On SIGINT/SIGTERM a point not begun, or in flight, is left not_run, to be redone on
    // --resume.
    if (stop.requested()) return PointStatus::not_run;
    ensemble.restart_batches();
    const S sigma = static_cast<S>(sweep.sigma[s]);
    bool finite = true;
    long done = 0;
    if (data.classes > 0) r.unit_accuracy.row(s).setZero();
    bool abandoned = false;
    std::array<double, 3> live_sums{0, 0, 0};  // m, accuracy, test loss over the live units
    for (std::size_t k = 0; k < steps.size() && finite; ++k) {
      if (stop.requested()) {
        abandoned = true;
        break;
      }
      advance(steps[k] - done, tau, gamma, sigma);
      done = steps[k];
      finite = ensemble.parameters().allFinite();
      if (!finite) break;
      const bool last = k + 1 == steps.size();
      const bool centre = ensemble.scheme().kind == micro::Scheme::Kind::easgd;
      const micro::Measurement m =
          evaluator.measure(ensemble.parameters(), last, centre ? &ensemble.centre() : nullptr);
      record(r, s, static_cast<int>(k), m);
      if (k >= static_cast<std::size_t>(first_measured)) {
        r.unit_accuracy.row(s) += m.unit_accuracy.matrix().transpose() / measured;
        if (sweep.failures.crash_fraction > 0) add_live(ensemble, m, steps[k], measured, live_sums);
      }
      if (last && m.cross_accuracy.size() > 0) {
        r.cross_accuracy.row(s) =
            Eigen::Map<const Eigen::RowVectorXd>(m.cross_accuracy.data(), m.cross_accuracy.size());
        r.rank1_r2[s] = micro::rank_one_r2(m.cross_accuracy);
      }
    }
    r.steps[s] = done;
    if (abandoned) {
      clear_point(r, s);
      return PointStatus::not_run;
    }
    if (!finite) {
      clear_point(r, s);
      r.steps[s] = done;
      return PointStatus::diverged;
    }
    // Time averages over the measured records, summed in a fixed order.
    const auto tail_mean = [&](const RowMatrix& trace, auto transform) {
      return base::fixed_order_sum(
                 measured,
                 [&](Eigen::Index k) { return transform(trace(s, first_measured + k)); }) /
             measured;
    };
    const auto identity = [](double x) { return x; };
    for (std::size_t o = 0; o < observable_names.size(); ++o)
      r.average[o][s] = tail_mean(r.trace[o], identity);
    r.order_parameter[s] = std::abs(r.average[0][s]);
    r.m_abs[s] = tail_mean(r.trace[0], [](double x) { return std::abs(x); });
    r.communication[s] = ensemble.parameters_sent() / (static_cast<double>(done) * sweep.units());
    if (sweep.failures.crash_fraction > 0) {
      r.order_parameter_live[s] = std::abs(live_sums[0]);
      r.accuracy_live[s] = data.classes > 0 ? live_sums[1] : nan;
      r.loss_test_live[s] = live_sums[2];
      int live = 0;
      for (int i = 0; i < sweep.units(); ++i) live += !ensemble.crashed(i, done);
      r.live_fraction[s] = static_cast<double>(live) / sweep.units();
    }
    measure_horizons(sweep, r, s);
    return PointStatus::done;
  };
  run_chain_points(
      protocol, sweep.sigma, item, r.status, [&](int s) { clear_point(r, s); }, restart, compute);
  if (reference.valid()) r.all_data_accuracy = reference.get();  // the chain ended first
}

}  // namespace

std::vector<WorkItem> micro_work_items(const MicroSweep& sweep, bool split_nonadiabatic) {
  // Every point takes the same number of steps; a step costs about the parameter count.
  const auto cost = [&](int depth_index, int) {
    micro::Architecture net = sweep.architecture;
    net.depth = sweep.depths[static_cast<std::size_t>(depth_index)];
    return static_cast<double>(sweep.transient_steps + sweep.measure_steps) * sweep.units() *
           static_cast<double>(net.parameter_count());
  };
  return make_work_items(sweep.protocols, static_cast<int>(sweep.depths.size()), sweep.runs,
                         sweep.sigma, split_nonadiabatic, cost);
}

IdxTaskData load_idx_images(const MicroSweep& sweep, int threads) {
  IdxTaskData images;
  if (!sweep.task.data.from_files() || sweep.task.kind != micro::TaskKind::classes) return images;
  if (sweep.precision == Precision::float32)
    images.single = load_idx_classes<float>(sweep.task, threads);
  else
    images.dual = load_idx_classes<double>(sweep.task, threads);
  return images;
}

SweepOutcome run_micro_sweep(
    const MicroSweep& sweep, const std::vector<WorkItem>& items, int threads,
    base::StopRequest& stop,
    const std::function<void(const MicroChainResult&, const WorkItem&)>& deliver,
    const IdxTaskData* images) {
  const IdxTaskData loaded = images ? *images : load_idx_images(sweep, threads);
  const micro::TaskData<float>* idx_float = loaded.single.get();
  const micro::TaskData<double>* idx_double = loaded.dual.get();
  return run_items(
      items, threads, stop, [&] { return make_micro_workspace(sweep); },
      [&](MicroWorkspace& workspace, const WorkItem& item, int inner_threads) {
        if (sweep.precision == Precision::float32)
          compute_item<float>(sweep, item, workspace, idx_float, inner_threads, stop);
        else
          compute_item<double>(sweep, item, workspace, idx_double, inner_threads, stop);
      },
      deliver);
}

SweepOutcome run_micro_sweep(const MicroSweep& sweep, int threads,
                             const std::function<void(const MicroChainResult&)>& deliver) {
  base::StopRequest stop;
  return run_micro_sweep(sweep, micro_work_items(sweep, false), threads, stop,
                         [&](const MicroChainResult& result, const WorkItem&) { deliver(result); });
}

}  // namespace cdl::experiments
