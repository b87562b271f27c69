#include "experiments/theory_sweep.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>

#include "base/fixed_order_sum.hpp"
#include "base/not_a_number.hpp"
#include "sweep/chain_points.hpp"
#include "theory/effective_dynamics.hpp"
#include "theory/stationary.hpp"

namespace cdl::experiments {

std::vector<double> TheorySweep::sample_times() const {
  std::vector<double> times(static_cast<std::size_t>(samples));
  for (int k = 0; k < samples; ++k) times[k] = t_end * k / (samples - 1);
  times.back() = t_end;
  return times;
}

std::vector<int> all_horizons(const TheorySweep& sweep) {
  return sweep.horizon_samples.empty() ? std::vector<int>{sweep.samples - 1}
                                       : sweep.horizon_samples;
}

std::vector<double> TheorySweep::horizon_times() const {
  const std::vector<double> times = sample_times();
  std::vector<double> horizons;
  for (const int k : all_horizons(*this)) horizons.push_back(times[static_cast<std::size_t>(k)]);
  return horizons;
}

std::vector<SampleWindow> TheorySweep::horizon_windows() const {
  std::vector<SampleWindow> windows;
  for (const int k : all_horizons(*this)) windows.push_back({(k + 1) / 2, k});
  return windows;
}

std::vector<SampleWindow> TheorySweep::estimated_windows() const {
  std::vector<SampleWindow> windows{{first_measured_sample(), samples - 1}};
  for (const SampleWindow& w : horizon_windows())
    if (w.first != windows.front().first || w.last != windows.front().last) windows.push_back(w);
  return windows;
}

std::vector<int> TheorySweep::window_of_horizon() const {
  const std::vector<SampleWindow> windows = estimated_windows();
  std::vector<int> index;
  for (const SampleWindow& w : horizon_windows()) {
    int k = 0;
    while (windows[static_cast<std::size_t>(k)].first != w.first ||
           windows[static_cast<std::size_t>(k)].last != w.last)
      ++k;
    index.push_back(k);
  }
  return index;
}

Realization draw_realization(const TheorySweep& sweep, int run) {
  const auto r = static_cast<std::uint64_t>(run);
  Realization realization{
      Eigen::ArrayXd(sweep.units), Eigen::ArrayXd(sweep.units),
      coupling::CouplingGraph::of_realization(sweep.topology, sweep.units, sweep.seed, run)};
  sweep.disorder.draw(base::CounterRng(sweep.seed, base::Purpose::disorder, r), run,
                      realization.disorder);
  sweep.initial_state.draw(base::CounterRng(sweep.seed, base::Purpose::initial_state, r), run,
                           realization.initial_state);
  return realization;
}

namespace {

// Observer of a finite population's integration: m(t) and the mean effective loss at every
// sample time.
struct TraceRecorder {
  double* m;
  double* loss;
  int depth;
  double mean_disorder;
  void sample(int k, const Eigen::ArrayXd& phi) {
    m[k] = base::fixed_order_mean(phi);
    loss[k] = theory::mean_effective_loss(phi, depth, mean_disorder);
  }
};

PointStatus to_point_status(theory::IntegrationStatus status) {
  switch (status) {
    case theory::IntegrationStatus::done:
      return PointStatus::done;
    case theory::IntegrationStatus::diverged:
      return PointStatus::diverged;
    case theory::IntegrationStatus::step_underflow:
      return PointStatus::step_underflow;
    case theory::IntegrationStatus::step_budget:
      return PointStatus::step_budget;
  }
  return PointStatus::diverged;
}

}  // namespace

TheoryWorkspace make_theory_workspace(const TheorySweep& sweep) {
  TheoryWorkspace workspace{theory::Dopri5(sweep.integrator),
                            theory::PopulationSolver(sweep.integrator),
                            Eigen::ArrayXd(sweep.units),
                            {}};
  const auto n_sigma = static_cast<Eigen::Index>(sweep.sigma.size());
  auto& result = workspace.result;
  result.order_parameter.resize(sweep.sigma.size());
  result.loss.resize(sweep.sigma.size());
  result.status.resize(sweep.sigma.size());
  result.steps.resize(sweep.sigma.size());
  result.m_trace.resize(n_sigma, sweep.samples);
  result.loss_trace.resize(n_sigma, sweep.samples);
  const auto n_horizon = static_cast<Eigen::Index>(sweep.horizon_windows().size());
  result.order_parameter_horizon.resize(n_sigma, n_horizon);
  result.loss_horizon.resize(n_sigma, n_horizon);
  result.relaxation_time.resize(sweep.sigma.size());
  if (sweep.save_final_states) result.final_state.resize(n_sigma, sweep.units);
  if (sweep.infinite_population) {
    result.order_parameter_error.resize(sweep.sigma.size());
    result.loss_error.resize(sweep.sigma.size());
    result.order_parameter_horizon_error.resize(n_sigma, n_horizon);
    result.loss_horizon_error.resize(n_sigma, n_horizon);
    result.horizon_status.resize(n_sigma, n_horizon);
    result.separatrix.resize(n_sigma, sweep.units);
  }
  return workspace;
}

namespace {

using base::nan;

// An N → ∞ point without values (not run, or failed): NaN everywhere, and `status` as the
// point's and every horizon's.
void set_infinite_point_status(int s, PointStatus status, TheoryChainResult& result) {
  result.m_trace.row(s).setConstant(nan);
  result.loss_trace.row(s).setConstant(nan);
  result.order_parameter[s] = result.loss[s] = nan;
  result.order_parameter_error[s] = result.loss_error[s] = nan;
  result.order_parameter_horizon_error.row(s).setConstant(nan);
  result.loss_horizon_error.row(s).setConstant(nan);
  result.horizon_status.row(s).setConstant(static_cast<std::int8_t>(status));
  result.status[s] = static_cast<std::int8_t>(status);
}

PointStatus within(const TheorySweep& sweep, double error) {
  return error <= sweep.accuracy ? PointStatus::done : PointStatus::not_converged;
}

// Stores an estimate as point s of `result`, with every horizon's estimate and status; the
// point is done when its own window is within sweep.accuracy, else not_converged with its best
// value kept.
PointStatus store_estimate(const TheorySweep& sweep, const theory::PopulationEstimate& e, int s,
                           TheoryChainResult& result) {
  result.order_parameter[s] = e.order_parameter[0];
  result.order_parameter_error[s] = e.order_parameter_error[0];
  result.loss[s] = e.loss[0];
  result.loss_error[s] = e.loss_error[0];
  result.steps[s] = e.steps;
  const std::vector<int> window = sweep.window_of_horizon();
  for (std::size_t h = 0; h < window.size(); ++h) {
    const auto w = static_cast<std::size_t>(window[h]);
    const auto column = static_cast<Eigen::Index>(h);
    result.order_parameter_horizon_error(s, column) = e.order_parameter_error[w];
    result.loss_horizon_error(s, column) = e.loss_error[w];
    result.horizon_status(s, column) =
        static_cast<std::int8_t>(within(sweep, e.order_parameter_error[w]));
  }
  return within(sweep, e.order_parameter_error[0]);
}

// The N → ∞ problem of the sweep at one depth (everything but the coupling).
theory::PopulationProblem population_problem(const TheorySweep& sweep, int depth,
                                             double mean_disorder) {
  return {depth,
          sweep.gamma,
          sweep.disorder,
          sweep.initial_state,
          sweep.population,
          sweep.t_end,
          sweep.sample_times(),
          sweep.estimated_windows(),
          sweep.accuracy,
          sweep.refine_levels,
          mean_disorder};
}

// A non-adiabatic N → ∞ point (theory::PopulationSolver::solve_point): done when its own
// window's estimate is within the accuracy, else not_converged with its best value kept.
PointStatus solve_nonadiabatic_point(const theory::PopulationProblem& problem,
                                     const TheorySweep& sweep, int s, TheoryWorkspace& workspace,
                                     std::vector<theory::Separatrices>& base_split) {
  auto& result = workspace.result;
  const auto e = workspace.population.solve_point(problem, sweep.sigma[static_cast<std::size_t>(s)],
                                                  result.m_trace.row(s).data(),
                                                  result.loss_trace.row(s).data(), base_split);
  if (e.status != theory::IntegrationStatus::done) return to_point_status(e.status);
  return store_estimate(sweep, e, s, result);
}

// An adiabatic N → ∞ chain: both rules' populations carry their states from coupling to
// coupling, so the rules cannot change mid-chain; a point whose estimate exceeds
// sweep.accuracy is not_converged (refine with --disorder-nodes, --init-panels).
void compute_adiabatic_infinite_chain(const theory::PopulationProblem& problem,
                                      const TheorySweep& sweep, const WorkItem& item,
                                      TheoryWorkspace& workspace) {
  const Protocol protocol = sweep.protocols[item.chain.protocol];
  auto& result = workspace.result;
  bool first = true;
  const auto compute = [&](int s) {
    const double sigma = sweep.sigma[s];
    if (first) {
      std::vector<theory::Separatrices> split;
      const auto status = workspace.population.start_chain(problem, sigma, split);
      for (int j = 0; j < static_cast<int>(split.size()); ++j)
        result.separatrix(s, j) = split[static_cast<std::size_t>(j)][0];
      first = false;
      if (status != theory::IntegrationStatus::done) return to_point_status(status);
    }
    const auto e = workspace.population.continue_chain(problem, sigma, result.m_trace.row(s).data(),
                                                       result.loss_trace.row(s).data());
    if (e.status != theory::IntegrationStatus::done) return to_point_status(e.status);
    return store_estimate(sweep, e, s, result);
  };
  // The outputs were cleared for the whole item; an adiabatic chain never restarts.
  run_chain_points(
      protocol, sweep.sigma, item, result.status, [](int) {}, [] {}, compute);
}

// N → ∞: the population quadrature at each coupling of the item (docs/physics.md §4). The unit axis
// holds the base rule's disorder nodes and their separatrix.
void compute_infinite_item(const TheorySweep& sweep, const WorkItem& item,
                           TheoryWorkspace& workspace) {
  const Chain& chain = item.chain;
  const Protocol protocol = sweep.protocols[chain.protocol];
  const int depth = sweep.depths[chain.depth_index];
  auto& result = workspace.result;
  const theory::PopulationQuadrature base(sweep.disorder, sweep.initial_state, sweep.population);
  const int n = base.disorder_count();
  result.chain = chain;
  result.disorder = Eigen::Map<const Eigen::ArrayXd>(base.disorder().nodes.data(), n);
  result.weight = Eigen::Map<const Eigen::ArrayXd>(base.disorder().weights.data(), n);
  result.initial_state = Eigen::ArrayXd::Constant(n, nan);
  const double mean_disorder = base::fixed_order_weighted_mean(result.disorder, result.weight);
  const theory::PopulationProblem problem = population_problem(sweep, depth, mean_disorder);
  for (int s = 0; s < static_cast<int>(sweep.sigma.size()); ++s) {
    result.separatrix.row(s).setConstant(nan);
    result.steps[s] = 0;
    set_infinite_point_status(s, PointStatus::not_run, result);
  }
  if (protocol != Protocol::nonadiabatic) {
    compute_adiabatic_infinite_chain(problem, sweep, item, workspace);
  } else {
    std::vector<theory::Separatrices> split;
    for (const int s : item.sigma) {
      result.status[s] =
          static_cast<std::int8_t>(solve_nonadiabatic_point(problem, sweep, s, workspace, split));
      for (int j = 0; j < n && j < static_cast<int>(split.size()); ++j)
        result.separatrix(s, j) = split[static_cast<std::size_t>(j)][0];
    }
  }
  // A point without a value (failed, or after a broken chain) has none at any horizon.
  for (const int s : item.sigma) {
    const auto status = static_cast<PointStatus>(result.status[s]);
    if (status != PointStatus::done && status != PointStatus::not_converged)
      set_infinite_point_status(s, status, result);
  }
}

void compute_finite_item(const TheorySweep& sweep, const WorkItem& item,
                         TheoryWorkspace& workspace) {
  const Chain& chain = item.chain;
  const Protocol protocol = sweep.protocols[chain.protocol];
  const int depth = sweep.depths[chain.depth_index];
  auto& result = workspace.result;
  auto& phi = workspace.phi;
  Realization realization = draw_realization(sweep, chain.run);
  result.chain = chain;
  result.disorder = realization.disorder;
  result.initial_state = realization.initial_state;
  const double mean_disorder = base::fixed_order_mean(realization.disorder);
  theory::EffectiveDynamics dynamics(depth, sweep.gamma, realization.disorder, realization.graph);
  dynamics.set_threads(workspace.integrator.threads());
  const std::vector<double> times = sweep.sample_times();
  const int first_measured = sweep.first_measured_sample();

  phi = realization.initial_state;
  const auto clear = [&](int s) {
    result.m_trace.row(s).setConstant(nan);
    result.loss_trace.row(s).setConstant(nan);
    result.order_parameter[s] = nan;
    result.loss[s] = nan;
    result.steps[s] = 0;
    if (sweep.save_final_states) result.final_state.row(s).setConstant(nan);
  };
  const auto restart = [&] { phi = realization.initial_state; };
  const auto compute = [&](int s) {
    dynamics.set_sigma(sweep.sigma[s]);
    TraceRecorder recorder{result.m_trace.row(s).data(), result.loss_trace.row(s).data(), depth,
                           mean_disorder};
    const auto outcome =
        workspace.integrator.integrate(dynamics, phi, 0.0, sweep.t_end, times, recorder);
    result.steps[s] = outcome.accepted_steps;
    if (outcome.status != theory::IntegrationStatus::done) {
      result.m_trace.row(s).setConstant(nan);
      result.loss_trace.row(s).setConstant(nan);
      return to_point_status(outcome.status);
    }
    const auto measured = sweep.samples - first_measured;
    result.order_parameter[s] =
        std::abs(base::fixed_order_mean(result.m_trace.row(s).tail(measured)));
    result.loss[s] = base::fixed_order_mean(result.loss_trace.row(s).tail(measured));
    if (sweep.save_final_states) result.final_state.row(s) = phi.matrix().transpose();
    return PointStatus::done;
  };
  run_chain_points(protocol, sweep.sigma, item, result.status, clear, restart, compute);
}

// Every horizon's time averages and the relaxation time of the item's points, read off their
// traces (NaN where a point has none).
void measure_horizons(const TheorySweep& sweep, const WorkItem& item, TheoryChainResult& result) {
  const std::vector<SampleWindow> windows = sweep.horizon_windows();
  const std::vector<double> times = sweep.sample_times();
  for (const int s : item.sigma) {
    const auto m = result.m_trace.row(s), loss = result.loss_trace.row(s);
    for (std::size_t h = 0; h < windows.size(); ++h) {
      const auto column = static_cast<Eigen::Index>(h);
      result.order_parameter_horizon(s, column) = std::abs(sweep::window_mean(m, windows[h]));
      result.loss_horizon(s, column) = sweep::window_mean(loss, windows[h]);
    }
    const int settled = sweep::settled_index(m);
    result.relaxation_time[s] = settled < 0 ? nan : times[static_cast<std::size_t>(settled)];
  }
}

}  // namespace

void compute_theory_item(const TheorySweep& sweep, const WorkItem& item,
                         TheoryWorkspace& workspace) {
  if (sweep.infinite_population)
    compute_infinite_item(sweep, item, workspace);
  else
    compute_finite_item(sweep, item, workspace);
  measure_horizons(sweep, item, workspace.result);
}

std::vector<WorkItem> theory_work_items(const TheorySweep& sweep, bool split_nonadiabatic) {
  // The cost of a step grows with N.
  const auto cost = [&](int, int s) {
    return estimated_steps(sweep.t_end, sweep.sigma[static_cast<std::size_t>(s)]) * sweep.units;
  };
  // N → ∞ non-adiabatic points are independent and costly: always items of their own, so that
  // a single depth keeps every thread busy.
  return make_work_items(sweep.protocols, static_cast<int>(sweep.depths.size()), sweep.runs,
                         sweep.sigma, split_nonadiabatic || sweep.infinite_population, cost);
}

void compute_theory_chain(const TheorySweep& sweep, const Chain& chain,
                          TheoryWorkspace& workspace) {
  compute_theory_item(
      sweep, {chain, visiting_order(sweep.protocols[chain.protocol], sweep.sigma), 0}, workspace);
}

SweepOutcome run_theory_sweep(
    const TheorySweep& sweep, const std::vector<WorkItem>& items, int threads,
    base::StopRequest& stop,
    const std::function<void(const TheoryChainResult&, const WorkItem&)>& deliver) {
  return run_items(
      items, threads, stop, [&] { return make_theory_workspace(sweep); },
      [&](TheoryWorkspace& workspace, const WorkItem& item, int inner_threads) {
        // Populations longer than a chunk (N → ∞, large N) share their steps among the
        // item's threads; shorter ones run on one.
        workspace.integrator.set_threads(inner_threads);
        workspace.population.set_threads(inner_threads);
        compute_theory_item(sweep, item, workspace);
      },
      deliver);
}

SweepOutcome run_theory_sweep(const TheorySweep& sweep, int threads,
                              const std::function<void(const TheoryChainResult&)>& deliver) {
  const auto whole_chains =
      make_work_items(sweep.protocols, static_cast<int>(sweep.depths.size()), sweep.runs,
                      sweep.sigma, false, [](int, int) { return 1.0; });
  base::StopRequest stop;
  return run_theory_sweep(
      sweep, whole_chains, threads, stop,
      [&](const TheoryChainResult& result, const WorkItem&) { deliver(result); });
}

}  // namespace cdl::experiments
