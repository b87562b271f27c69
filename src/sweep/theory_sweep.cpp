#include "sweep/theory_sweep.hpp"

#include <cmath>
#include <limits>

#include "numerics/fixed_order_sum.hpp"
#include "theory/effective_dynamics.hpp"
#include "theory/stationary.hpp"

namespace cdl::sweep {

std::vector<double> TheorySweep::sample_times() const {
  std::vector<double> times(static_cast<std::size_t>(samples));
  for (int k = 0; k < samples; ++k) times[k] = t_end * k / (samples - 1);
  times.back() = t_end;
  return times;
}

Realization draw_realization(const TheorySweep& sweep, int run) {
  const auto r = static_cast<std::uint64_t>(run);
  Realization realization{Eigen::ArrayXd(sweep.units), Eigen::ArrayXd(sweep.units),
                          coupling::CouplingGraph::complete(sweep.units)};
  sweep.disorder.draw(CounterRng(sweep.seed, Purpose::disorder, r), run, realization.disorder);
  sweep.initial_state.draw(CounterRng(sweep.seed, Purpose::initial_state, r), run,
                           realization.initial_state);
  if (sweep.topology.kind != coupling::TopologyKind::complete)
    realization.graph = coupling::CouplingGraph::draw(
        sweep.topology, sweep.units, CounterRng(sweep.seed, Purpose::graph, r).key());
  return realization;
}

namespace {

// Observer of one integration: m(t) and the mean effective loss at every sample time
// (weighted for an N → ∞ population).
struct TraceRecorder {
  double* m;
  double* loss;
  int depth;
  double mean_disorder;
  const Eigen::ArrayXd* weights = nullptr;
  void sample(int k, const Eigen::ArrayXd& phi) {
    if (weights) {
      m[k] = numerics::fixed_order_weighted_mean(phi, *weights);
      loss[k] = theory::weighted_effective_loss(phi, *weights, depth, mean_disorder);
    } else {
      m[k] = numerics::fixed_order_mean(phi);
      loss[k] = theory::mean_effective_loss(phi, depth, mean_disorder);
    }
  }
};

struct NoObserver {
  void sample(int, const Eigen::ArrayXd&) {}
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
  TheoryWorkspace workspace{theory::Dopri5(sweep.integrator), Eigen::ArrayXd(sweep.units), {}};
  const auto n_sigma = static_cast<Eigen::Index>(sweep.sigma.size());
  auto& result = workspace.result;
  result.order_parameter.resize(sweep.sigma.size());
  result.loss.resize(sweep.sigma.size());
  result.status.resize(sweep.sigma.size());
  result.steps.resize(sweep.sigma.size());
  result.m_trace.resize(n_sigma, sweep.samples);
  result.loss_trace.resize(n_sigma, sweep.samples);
  if (sweep.save_final_states) result.final_state.resize(n_sigma, sweep.units);
  if (sweep.infinite_population) {
    result.order_parameter_error.resize(sweep.sigma.size());
    result.loss_error.resize(sweep.sigma.size());
    result.separatrix.resize(n_sigma, sweep.units);
  }
  return workspace;
}

namespace {

constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();

struct PopulationRun {
  Eigen::ArrayXd disorder, initial_state, weight, phi;
};

// One population integrated over [0, t_end] at coupling σ from run.phi; m(t) and loss(t) go
// to the rows when given.
theory::IntegrationResult integrate_population(const TheorySweep& sweep, int depth, double sigma,
                                               PopulationRun& run, theory::Dopri5& integrator,
                                               const std::vector<double>& times, double* m_row,
                                               double* loss_row, double mean_disorder) {
  const auto graph = coupling::CouplingGraph::weighted_complete(run.weight);
  theory::EffectiveDynamics dynamics(depth, sweep.gamma, run.disorder, graph);
  dynamics.set_sigma(sigma);
  if (m_row) {
    TraceRecorder recorder{m_row, loss_row, depth, mean_disorder, &run.weight};
    return integrator.integrate(dynamics, run.phi, 0.0, sweep.t_end, times, recorder);
  }
  NoObserver none;
  return integrator.integrate(dynamics, run.phi, 0.0, sweep.t_end, times, none);
}

// The unstable root separating a unit's two outermost wells in the mean field m, or NaN when
// the unit has a single well.
double unstable_root(int depth, double gamma, double sigma, double m, double disorder) {
  if (depth == 0) return not_a_number;
  const theory::FixedPointCurve curve({depth, gamma}, sigma, m == 0 ? 1e-14 : m);
  const auto roots = curve.fixed_points(disorder);
  return roots.size() >= 3 ? roots[roots.size() - 2] : not_a_number;
}

// Locates, for every disorder node, the initial state whose path ends at the unstable root at
// t_end, with zero-weight probes riding along the population: each pass narrows every bracket
// by a factor probes − 1, and the population is rebuilt split at the current estimates so that
// m(t) converges together with them. `split` holds the previous coupling's estimates, which
// split the first pass's population; every bracket starts from the whole range, since one
// warm-started from the previous coupling can lock onto a stale step.
std::vector<double> locate_separatrix(const TheorySweep& sweep,
                                      const theory::PopulationQuadrature& q, int depth,
                                      double sigma, std::vector<double> split,
                                      theory::Dopri5& integrator, const std::vector<double>& times,
                                      theory::IntegrationStatus& status) {
  constexpr int probes = 24, passes = 9;  // a bracket widened to the full range needs ~4
  const int n = q.disorder_count();
  const double full = q.init_hi() - q.init_lo();
  std::vector<std::array<double, 2>> bracket(n);
  for (int j = 0; j < n; ++j) bracket[j] = std::array{q.init_lo(), q.init_hi()};
  PopulationRun run;
  for (int pass = 0; pass < passes; ++pass) {
    q.build(split, bracket, probes, run.disorder, run.initial_state, run.weight);
    run.phi = run.initial_state;
    status = integrate_population(sweep, depth, sigma, run, integrator, times, nullptr, nullptr, 0)
                 .status;
    if (status != theory::IntegrationStatus::done) return split;
    const double m_end = numerics::fixed_order_weighted_mean(run.phi, run.weight);
    const Eigen::Index first_probe = run.phi.size() - static_cast<Eigen::Index>(n) * probes;
    bool settled = true;
    for (int j = 0; j < n; ++j) {
      const double boundary =
          unstable_root(depth, sweep.gamma, sigma, m_end, q.disorder().nodes[j]);
      const double* ends = run.phi.data() + first_probe + static_cast<Eigen::Index>(j) * probes;
      int k = -1;  // the probe interval the separatrix lies in
      if (!std::isnan(boundary)) {
        for (int p = 0; p + 1 < probes; ++p)
          if (ends[p] <= boundary && ends[p + 1] > boundary) k = p;
      } else {
        // A single well at t_end, but units that started above the ghost of the vanished
        // well may still be passing it: split at the steepest step if it is a real jump
        // between wells (large and concentrated); looser tests split smooth profiles wrongly.
        int steepest = 0;
        for (int p = 1; p + 1 < probes; ++p)
          if (ends[p + 1] - ends[p] > ends[steepest + 1] - ends[steepest]) steepest = p;
        const double total = ends[probes - 1] - ends[0];
        if (total > 0.2 && ends[steepest + 1] - ends[steepest] > 0.5 * total) k = steepest;
      }
      const double width = bracket[j][1] - bracket[j][0];
      if (k < 0) {
        if (width >= full * (1 - 1e-12)) {  // nothing to split anywhere
          split[j] = not_a_number;
        } else if (!std::isnan(boundary)) {  // the crossing moved out: search everywhere
          settled = false;
          split[j] = not_a_number;
          bracket[j] = {q.init_lo(), q.init_hi()};
        }  // else a ghost step resolved within the bracket: keep the split
        continue;
      }
      const double lo = bracket[j][0] + width * k / (probes - 1);
      bracket[j] = {lo, lo + width / (probes - 1)};
      split[j] = 0.5 * (bracket[j][0] + bracket[j][1]);
      settled &= bracket[j][1] - bracket[j][0] < 1e-5 * full;
    }
    if (settled) break;
  }
  return split;
}

// The rules of one refinement level: rule A, whose populations are split at the separatrix,
// and a refined rule B (1.5× the disorder nodes, 4 more points per panel, A's splits
// interpolated in Δ). B's result is reported and |A − B| is its error estimate.
struct RefinementLevel {
  theory::PopulationQuadrature a, b;
  static RefinementLevel make(const TheorySweep& sweep, theory::PopulationRule rule) {
    theory::PopulationRule refined = rule;
    refined.disorder_nodes += rule.disorder_nodes / 2;
    refined.init_order += 4;
    return {theory::PopulationQuadrature(sweep.disorder, sweep.initial_state, rule),
            theory::PopulationQuadrature(sweep.disorder, sweep.initial_state, refined)};
  }
  // Rule B's splits: rule A's, interpolated linearly in Δ between nodes that have one.
  std::vector<double> interpolate_splits(const std::vector<double>& split) const {
    const auto& nodes = a.disorder().nodes;
    std::vector<double> out(b.disorder_count(), not_a_number);
    for (int i = 0; i < b.disorder_count(); ++i) {
      const double x = b.disorder().nodes[i];
      for (std::size_t j = 0; j + 1 < nodes.size(); ++j)
        if (nodes[j] <= x && x <= nodes[j + 1] && !std::isnan(split[j]) &&
            !std::isnan(split[j + 1]))
          out[i] =
              split[j] + (split[j + 1] - split[j]) * (x - nodes[j]) / (nodes[j + 1] - nodes[j]);
    }
    return out;
  }
  void build(const std::vector<double>& split, PopulationRun& run_a, PopulationRun& run_b) const {
    const std::vector<std::array<double, 2>> no_brackets;
    a.build(split, no_brackets, 0, run_a.disorder, run_a.initial_state, run_a.weight);
    b.build(interpolate_splits(split), no_brackets, 0, run_b.disorder, run_b.initial_state,
            run_b.weight);
    run_a.phi = run_a.initial_state;
    run_b.phi = run_b.initial_state;
  }
};

// A non-adiabatic point whose error estimate exceeds this is recomputed with the disorder
// nodes and the initial-state panels doubled, up to max_refinements times: the estimate
// flags the couplings where units cross between wells during the measuring window.
constexpr double refine_above = 2.5e-4;
constexpr int max_refinements = 2;

// N → ∞: the population quadrature at each coupling (MODEL.md §4). The unit axis holds the
// base rule's disorder nodes and their separatrix; adiabatic chains carry both populations'
// states along and are never refined (their state cannot change rule mid-chain).
void compute_infinite_chain(const TheorySweep& sweep, const Chain& chain,
                            TheoryWorkspace& workspace) {
  const Protocol protocol = sweep.protocols[chain.protocol];
  const int depth = sweep.depths[chain.depth_index];
  auto& result = workspace.result;
  std::vector<RefinementLevel> levels;
  theory::PopulationRule rule = sweep.population;
  const int n_levels = protocol == Protocol::nonadiabatic ? max_refinements + 1 : 1;
  for (int level = 0; level < n_levels; ++level) {
    levels.push_back(RefinementLevel::make(sweep, rule));
    rule.disorder_nodes *= 2;
    rule.init_panels *= 2;
  }
  const auto& base = levels.front().a;
  const int n = base.disorder_count();
  result.chain = chain;
  result.disorder = Eigen::Map<const Eigen::ArrayXd>(base.disorder().nodes.data(), n);
  result.weight = Eigen::Map<const Eigen::ArrayXd>(base.disorder().weights.data(), n);
  result.initial_state = Eigen::ArrayXd::Constant(n, not_a_number);
  const double mean_disorder = (result.weight * result.disorder).sum();
  const std::vector<double> times = sweep.sample_times();
  const int measured = sweep.samples - sweep.first_measured_sample();
  std::vector<double> m_a(sweep.samples), loss_a(sweep.samples);
  const auto tail_mean = [&](const double* row) {
    return numerics::fixed_order_sum(
               measured, [&](Eigen::Index k) { return row[sweep.samples - measured + k]; }) /
           measured;
  };

  std::vector<double> split(n, not_a_number);
  PopulationRun a, b;
  bool chain_broken = false, first = true;
  for (const int s : visiting_order(protocol, sweep.sigma)) {
    const double sigma = sweep.sigma[s];
    result.m_trace.row(s).setConstant(not_a_number);
    result.loss_trace.row(s).setConstant(not_a_number);
    result.separatrix.row(s).setConstant(not_a_number);
    result.order_parameter[s] = result.loss[s] = not_a_number;
    result.order_parameter_error[s] = result.loss_error[s] = not_a_number;
    result.steps[s] = 0;
    if (chain_broken) {
      result.status[s] = static_cast<std::int8_t>(PointStatus::chain_broken);
      continue;
    }
    auto status = theory::IntegrationStatus::done;
    for (std::size_t level = 0; level < levels.size(); ++level) {
      const RefinementLevel& rules = levels[level];
      if (protocol == Protocol::nonadiabatic || first) {
        // Refined levels locate their own separatrix: B's interpolated splits would inherit
        // any misplaced one, hiding it from the estimate.
        std::vector<double> level_split =
            level == 0 ? split : std::vector<double>(rules.a.disorder_count(), not_a_number);
        level_split = locate_separatrix(sweep, rules.a, depth, sigma, level_split,
                                        workspace.integrator, times, status);
        if (level == 0) split = level_split;
        rules.build(level_split, a, b);
      }
      first = false;
      if (level == 0)
        for (int j = 0; j < n; ++j) result.separatrix(s, j) = split[j];
      if (status == theory::IntegrationStatus::done)
        status = integrate_population(sweep, depth, sigma, a, workspace.integrator, times,
                                      m_a.data(), loss_a.data(), mean_disorder)
                     .status;
      if (status == theory::IntegrationStatus::done) {
        const auto outcome = integrate_population(sweep, depth, sigma, b, workspace.integrator,
                                                  times, result.m_trace.row(s).data(),
                                                  result.loss_trace.row(s).data(), mean_disorder);
        status = outcome.status;
        result.steps[s] += outcome.accepted_steps;
      }
      if (status != theory::IntegrationStatus::done) break;
      result.order_parameter[s] = std::abs(tail_mean(result.m_trace.row(s).data()));
      result.loss[s] = tail_mean(result.loss_trace.row(s).data());
      result.order_parameter_error[s] =
          std::abs(result.order_parameter[s] - std::abs(tail_mean(m_a.data())));
      result.loss_error[s] = std::abs(result.loss[s] - tail_mean(loss_a.data()));
      if (result.order_parameter_error[s] <= refine_above) break;
    }
    result.status[s] = static_cast<std::int8_t>(to_point_status(status));
    if (status != theory::IntegrationStatus::done) {
      result.m_trace.row(s).setConstant(not_a_number);
      result.loss_trace.row(s).setConstant(not_a_number);
      result.order_parameter[s] = result.loss[s] = not_a_number;
      result.order_parameter_error[s] = result.loss_error[s] = not_a_number;
      chain_broken = protocol != Protocol::nonadiabatic;
    }
  }
}

}  // namespace

void compute_theory_item(const TheorySweep& sweep, const WorkItem& item,
                         TheoryWorkspace& workspace) {
  const Chain& chain = item.chain;
  if (sweep.infinite_population) return compute_infinite_chain(sweep, chain, workspace);
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  const Protocol protocol = sweep.protocols[chain.protocol];
  const int depth = sweep.depths[chain.depth_index];
  auto& result = workspace.result;
  auto& phi = workspace.phi;
  Realization realization = draw_realization(sweep, chain.run);
  result.chain = chain;
  result.disorder = realization.disorder;
  result.initial_state = realization.initial_state;
  const double mean_disorder = numerics::fixed_order_mean(realization.disorder);
  theory::EffectiveDynamics dynamics(depth, sweep.gamma, realization.disorder, realization.graph);
  const std::vector<double> times = sweep.sample_times();
  const int first_measured = sweep.first_measured_sample();

  phi = realization.initial_state;
  bool chain_broken = false;
  for (const int s : visiting_order(protocol, sweep.sigma)) {
    result.m_trace.row(s).setConstant(nan);
    result.loss_trace.row(s).setConstant(nan);
    result.order_parameter[s] = nan;
    result.loss[s] = nan;
    result.steps[s] = 0;
    if (sweep.save_final_states) result.final_state.row(s).setConstant(nan);
    if (!item.covers(s)) {  // another item's point
      result.status[s] = static_cast<std::int8_t>(PointStatus::not_run);
      continue;
    }
    if (chain_broken) {
      result.status[s] = static_cast<std::int8_t>(PointStatus::chain_broken);
      continue;
    }
    // Non-adiabatic: every coupling starts afresh; adiabatic: from the previous final state.
    if (protocol == Protocol::nonadiabatic) phi = realization.initial_state;
    dynamics.set_sigma(sweep.sigma[s]);
    TraceRecorder recorder{result.m_trace.row(s).data(), result.loss_trace.row(s).data(), depth,
                           mean_disorder};
    const auto outcome =
        workspace.integrator.integrate(dynamics, phi, 0.0, sweep.t_end, times, recorder);
    const PointStatus status = to_point_status(outcome.status);
    result.status[s] = static_cast<std::int8_t>(status);
    result.steps[s] = outcome.accepted_steps;
    if (status != PointStatus::done) {
      result.m_trace.row(s).setConstant(nan);
      result.loss_trace.row(s).setConstant(nan);
      chain_broken = protocol != Protocol::nonadiabatic;
      continue;
    }
    const auto measured = sweep.samples - first_measured;
    result.order_parameter[s] =
        std::abs(numerics::fixed_order_mean(result.m_trace.row(s).tail(measured)));
    result.loss[s] = numerics::fixed_order_mean(result.loss_trace.row(s).tail(measured));
    if (sweep.save_final_states) result.final_state.row(s) = phi.matrix().transpose();
  }
}

std::vector<WorkItem> theory_work_items(const TheorySweep& sweep, bool split_nonadiabatic) {
  // Steps are accuracy-limited at weak coupling and stability-limited (h ≈ 3.3/σ) at strong
  // coupling; the cost of a step grows with N.
  const auto cost = [&](int, int s) {
    return (40 + sweep.t_end * sweep.sigma[static_cast<std::size_t>(s)] / 3.0) * sweep.units;
  };
  // N → ∞ non-adiabatic points share the previous coupling's separatrix: whole chains.
  return make_work_items(sweep.protocols, static_cast<int>(sweep.depths.size()), sweep.runs,
                         sweep.sigma, split_nonadiabatic && !sweep.infinite_population, cost);
}

void compute_theory_chain(const TheorySweep& sweep, const Chain& chain,
                          TheoryWorkspace& workspace) {
  compute_theory_item(
      sweep, {chain, visiting_order(sweep.protocols[chain.protocol], sweep.sigma), 0}, workspace);
}

SweepOutcome run_theory_sweep(
    const TheorySweep& sweep, const std::vector<WorkItem>& items, int threads,
    const std::function<void(const TheoryChainResult&, const WorkItem&)>& deliver) {
  return run_items(
      items, threads, [&] { return make_theory_workspace(sweep); },
      [&](TheoryWorkspace& workspace, const WorkItem& item) {
        compute_theory_item(sweep, item, workspace);
      },
      deliver);
}

SweepOutcome run_theory_sweep(const TheorySweep& sweep, int threads,
                              const std::function<void(const TheoryChainResult&)>& deliver) {
  return run_theory_sweep(
      sweep, theory_work_items(sweep, false), threads,
      [&](const TheoryChainResult& result, const WorkItem&) { deliver(result); });
}

}  // namespace cdl::sweep
