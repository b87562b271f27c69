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

// Observer of one integration: m(t) and the mean effective loss at every sample time
// (weighted for an N → ∞ population).
struct TraceRecorder {
  double* m;
  double* loss;
  int depth;
  double mean_disorder;
  const Eigen::ArrayXd* weights = nullptr;
  // N → ∞ only: every node's mean state over each estimated window [node, window], the
  // per-node shares of the window averages that drive the adaptive refinement.
  Eigen::ArrayXXd* window_means = nullptr;
  const std::vector<SampleWindow>* windows = nullptr;
  void sample(int k, const Eigen::ArrayXd& phi) {
    if (window_means)
      for (std::size_t w = 0; w < windows->size(); ++w) {
        const SampleWindow& window = (*windows)[w];
        if (k >= window.first && k <= window.last)
          window_means->col(static_cast<Eigen::Index>(w)) += phi / window.size();
      }
    if (weights) {
      m[k] = base::fixed_order_weighted_mean(phi, *weights);
      loss[k] = theory::weighted_effective_loss(phi, *weights, depth, mean_disorder);
    } else {
      m[k] = base::fixed_order_mean(phi);
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
  theory::Dopri5Settings coarse = sweep.integrator;
  coarse.rtol *= rule_a_tolerance_factor;
  coarse.atol *= rule_a_tolerance_factor;
  TheoryWorkspace workspace{theory::Dopri5(sweep.integrator),
                            theory::PopulationIntegrator(sweep.integrator),
                            theory::PopulationIntegrator(coarse),
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

struct PopulationRun {
  Eigen::ArrayXd disorder, initial_state, weight, phi;
  std::vector<int> node_of;      // the disorder node of every population node
  Eigen::ArrayXXd window_means;  // [node, estimated window]: the node's mean state there
};

// One population integrated over [0, t_end] at coupling σ from run.phi; m(t) and loss(t) go
// to the rows when given (and then run.window_means is filled).
theory::IntegrationResult integrate_population(const TheorySweep& sweep, int depth, double sigma,
                                               PopulationRun& run,
                                               theory::PopulationIntegrator& integrator,
                                               const std::vector<double>& times, double* m_row,
                                               double* loss_row, double mean_disorder) {
  const auto graph = coupling::CouplingGraph::weighted_complete(run.weight);
  theory::EffectiveDynamics dynamics(depth, sweep.gamma, run.disorder, graph);
  dynamics.set_sigma(sigma);
  dynamics.set_threads(integrator.threads());
  if (m_row) {
    const std::vector<SampleWindow> windows = sweep.estimated_windows();
    run.window_means.setZero(run.phi.size(), static_cast<Eigen::Index>(windows.size()));
    TraceRecorder recorder{m_row,       loss_row,          depth,   mean_disorder,
                           &run.weight, &run.window_means, &windows};
    return integrator.integrate(dynamics, run.phi, 0.0, sweep.t_end, times, recorder);
  }
  NoObserver none;
  return integrator.integrate(dynamics, run.phi, 0.0, sweep.t_end, times, none);
}

// The unstable roots between a unit's wells in the mean field m, in the order of
// theory::Separatrices: with two wells the one root; with three (odd D ≥ 3) [0] the root on
// the side of m's sign, where the outer well appears first as Δ grows, and [1] the other.
theory::Separatrices unstable_roots(int depth, double gamma, double sigma, double m,
                                    double disorder) {
  theory::Separatrices boundary = theory::no_separatrix;
  if (depth == 0) return boundary;
  const theory::FixedPointCurve curve({depth, gamma}, sigma, m == 0 ? 1e-14 : m);
  const auto roots = curve.fixed_points(disorder);
  if (roots.size() == 3) boundary[0] = roots[1];
  if (roots.size() == 5)
    boundary = m >= 0 ? theory::Separatrices{roots[3], roots[1]}
                      : theory::Separatrices{roots[1], roots[3]};
  return boundary;
}

// Separatrices a unit of depth D can have: two for odd D ≥ 3 (three wells), else one.
int separatrix_count(int depth) { return depth >= 3 && depth % 2 == 1 ? 2 : 1; }

// Locates, for every disorder node, the initial states whose paths end at the unstable roots
// at t_end (each separatrix of theory::Separatrices), with zero-weight probes riding along the
// population: each pass narrows every bracket by a factor probes − 1, and the population is
// rebuilt split at the current estimates so that m(t) converges together with them. `split`
// holds first guesses (NaN: none), which split the first pass's population; every bracket
// starts from the whole range, since one warm-started from a guess can lock onto a stale step.
std::vector<theory::Separatrices> locate_separatrix(
    const TheorySweep& sweep, const theory::PopulationQuadrature& q, int depth, double sigma,
    std::vector<theory::Separatrices> split, theory::PopulationIntegrator& integrator,
    const std::vector<double>& times, theory::IntegrationStatus& status) {
  constexpr int probes = 24, passes = 9;  // a bracket widened to the full range needs ~4
  const int n = q.disorder_count();
  const int count = separatrix_count(depth);
  const double full = q.init_hi() - q.init_lo();
  // Bracket b = j · count + k is node j's separatrix k.
  std::vector<std::array<double, 2>> bracket(static_cast<std::size_t>(n) * count,
                                             std::array{q.init_lo(), q.init_hi()});
  std::vector<bool> ghost(bracket.size(), false);  // split at a steep step, not a crossing
  PopulationRun run;
  std::vector<double> m_scratch(sweep.samples), loss_scratch(sweep.samples);
  for (int pass = 0; pass < passes; ++pass) {
    q.build(split, bracket, probes, run.disorder, run.initial_state, run.weight);
    run.phi = run.initial_state;
    status = integrate_population(sweep, depth, sigma, run, integrator, times, m_scratch.data(),
                                  loss_scratch.data(), 0)
                 .status;
    if (status != theory::IntegrationStatus::done) return split;
    const double m_end = base::fixed_order_weighted_mean(run.phi, run.weight);
    const Eigen::Index first_probe =
        run.phi.size() - static_cast<Eigen::Index>(bracket.size()) * probes;
    bool settled = true;
    theory::Separatrices roots = theory::no_separatrix;  // node j's, for every bracket of j
    for (std::size_t b = 0; b < bracket.size(); ++b) {
      const int j = static_cast<int>(b) / count, which = static_cast<int>(b) % count;
      if (which == 0)
        roots = unstable_roots(depth, sweep.gamma, sigma, m_end, q.disorder().nodes[j]);
      const double boundary = roots[which];
      const Eigen::Index probe = first_probe + static_cast<Eigen::Index>(b) * probes;
      const double* ends = run.phi.data() + probe;
      int k = -1;  // the probe interval the separatrix lies in
      if (!std::isnan(boundary))
        for (int p = 0; p + 1 < probes; ++p)
          if (ends[p] <= boundary && ends[p + 1] > boundary) k = p;
      const double width = bracket[b][1] - bracket[b][0];
      double& separatrix = split[static_cast<std::size_t>(j)][which];
      if (k >= 0) {
        ghost[b] = false;
      } else if (which == 0 && (std::isnan(boundary) || ghost[b] || width >= full * (1 - 1e-12))) {
        // No unit crosses the unstable root at t_end (a single well is left, or every start
        // ends in the same well), but units that started near the ghost of a lost well, or
        // near the saddle, may still be passing it while ⟨m⟩ is measured: split at the
        // steepest step if it is a real jump (large and concentrated); looser tests split
        // smooth profiles wrongly.
        // The step is in the time average over the measured window (the final states may
        // have passed the ghost already).
        std::array<double, probes> average;
        for (int p = 0; p < probes; ++p) average[p] = run.window_means(probe + p, 0);
        int steepest = 0;
        for (int p = 1; p + 1 < probes; ++p)
          if (average[p + 1] - average[p] > average[steepest + 1] - average[steepest]) steepest = p;
        const double total = average[probes - 1] - average[0];
        if (total > 0.2 && average[steepest + 1] - average[steepest] > 0.5 * total) {
          k = steepest;
          ghost[b] = true;
        }
      }
      if (k < 0) {
        if (width >= full * (1 - 1e-12)) {  // nothing to split anywhere
          separatrix = nan;
        } else if (!ghost[b]) {  // the crossing moved out: search everywhere
          settled = false;
          separatrix = nan;
          bracket[b] = {q.init_lo(), q.init_hi()};
        }  // else a ghost step resolved within the bracket: keep the split
        continue;
      }
      const double lo = bracket[b][0] + width * k / (probes - 1);
      bracket[b] = {lo, lo + width / (probes - 1)};
      separatrix = 0.5 * (bracket[b][0] + bracket[b][1]);
      settled &= bracket[b][1] - bracket[b][0] < 1e-5 * full;
    }
    if (settled) break;
  }
  return split;
}

// Splits at the disorder nodes `nodes` carried to the disorder nodes of rule `to`: a node of
// `to` that is one of `nodes` keeps its split (bimodal disorder: the same two atoms, listed in
// decreasing order), others get linear interpolation in Δ between the neighbouring nodes that
// both have one (NaN elsewhere).
std::vector<theory::Separatrices> interpolate_splits(const std::vector<double>& nodes,
                                                     const std::vector<theory::Separatrices>& split,
                                                     const theory::PopulationQuadrature& to) {
  std::vector<std::size_t> order(nodes.size());
  for (std::size_t j = 0; j < order.size(); ++j) order[j] = j;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t x, std::size_t y) { return nodes[x] < nodes[y]; });
  std::vector<theory::Separatrices> out(to.disorder_count(), theory::no_separatrix);
  for (int i = 0; i < to.disorder_count(); ++i) {
    const double x = to.disorder().nodes[i];
    for (std::size_t k = 0; k < order.size(); ++k) {
      const std::size_t j = order[k];
      if (nodes[j] == x) {
        out[i] = split[j];
        break;
      }
      if (k + 1 == order.size()) break;
      const std::size_t next = order[k + 1];
      if (nodes[j] < x && x < nodes[next]) {
        for (int k = 0; k < theory::max_separatrices; ++k)
          if (!std::isnan(split[j][k]) && !std::isnan(split[next][k]))
            out[i][k] = split[j][k] +
                        (split[next][k] - split[j][k]) * (x - nodes[j]) / (nodes[next] - nodes[j]);
        break;
      }
    }
  }
  return out;
}

// Every disorder panel cut in two at its midpoint.
std::vector<double> bisect_panels(const std::vector<double>& ends) {
  std::vector<double> out;
  for (std::size_t p = 0; p + 1 < ends.size(); ++p) {
    out.push_back(ends[p]);
    out.push_back(0.5 * (ends[p] + ends[p + 1]));
  }
  if (!ends.empty()) out.push_back(ends.back());
  return out;
}

// A rule's nodes riding along another rule's population with zero weight (they feel its m(t)
// without changing it): their own weights and disorder nodes, from `offset` on.
struct Riders {
  Eigen::Index offset = 0;
  Eigen::ArrayXd weight;
  std::vector<int> node_of;
};

// Appends the population of rule q (split at `split`) to `run` as riders.
Riders append_riders(const theory::PopulationQuadrature& q,
                     const std::vector<theory::Separatrices>& split, PopulationRun& run) {
  Riders riders;
  Eigen::ArrayXd disorder, initial_state;
  q.build(split, {}, 0, disorder, initial_state, riders.weight, &riders.node_of);
  riders.offset = run.disorder.size();
  const Eigen::Index n = riders.offset + disorder.size();
  run.disorder.conservativeResize(n);
  run.initial_state.conservativeResize(n);
  run.weight.conservativeResize(n);
  run.disorder.tail(disorder.size()) = disorder;
  run.initial_state.tail(disorder.size()) = initial_state;
  run.weight.tail(disorder.size()).setZero();
  return riders;
}

// Each disorder panel's share of every estimated window's average of m under rule q, from its
// riders: [panel, window].
Eigen::ArrayXXd panel_shares(const theory::PopulationQuadrature& q, const Riders& riders,
                             const PopulationRun& run) {
  Eigen::ArrayXXd share = Eigen::ArrayXXd::Zero(q.panel_count(), run.window_means.cols());
  for (Eigen::Index i = 0; i < riders.weight.size(); ++i)
    share.row(q.panel_of(riders.node_of[static_cast<std::size_t>(i)])) +=
        riders.weight[i] * run.window_means.row(riders.offset + i);
  return share;
}

// The rules one refinement level compares: rule A, whose populations are split at the
// separatrices, and rule B with every disorder panel bisected and every initial-state panel
// cut in two (A's splits interpolated in Δ). B's result is reported and |A − B|, both integrated
// self-consistently, is its error estimate: B is the more accurate rule, so the estimate is
// conservative as long as the rules converge. Where to refine is decided under one m(t): A's
// nodes and B's disorder nodes with A's initial-state rule ride along B's population, which
// separates each disorder panel's error in Δ from the error in φ(0).
struct RulePair {
  theory::PopulationQuadrature a, b, b_coarse;  // b_coarse: B in Δ, A in φ(0)
  RulePair(const TheorySweep& sweep, const std::vector<double>& ends, int init_panels,
           int init_order)
      : a(sweep.disorder, sweep.initial_state, ends, init_panels, init_order),
        b(sweep.disorder, sweep.initial_state, bisect_panels(ends), init_panels, init_order, 2),
        b_coarse(sweep.disorder, sweep.initial_state, bisect_panels(ends), init_panels,
                 init_order) {}
  struct Built {
    PopulationRun a, b;
    Riders a_riders, b_coarse_riders;
  };
  // Both populations, with the riders in B's when `riders` (they only serve refinement).
  void build(const std::vector<theory::Separatrices>& split, bool riders, Built& out) const {
    a.build(split, {}, 0, out.a.disorder, out.a.initial_state, out.a.weight, &out.a.node_of);
    out.a.phi = out.a.initial_state;
    build_b(split, riders, out);
  }
  void build_b(const std::vector<theory::Separatrices>& split, bool riders, Built& out) const {
    const auto split_b = interpolate_splits(a.disorder().nodes, split, b);
    b.build(split_b, {}, 0, out.b.disorder, out.b.initial_state, out.b.weight, &out.b.node_of);
    if (riders) {
      out.a_riders = append_riders(a, split, out.b);
      out.b_coarse_riders = append_riders(b_coarse, split_b, out.b);
    }
    out.b.phi = out.b.initial_state;
  }
};

// Where the next level refines, from the riders of an integrated level.
struct Refinement {
  std::vector<double> ends;  // A's disorder panels, those with the largest Δ error bisected
  bool init_states = false;  // the φ(0) error is a sizeable part: double its panels
};

// Every window's error counts: each horizon is driven to the accuracy, not only the last.
Refinement plan_refinement(const RulePair& rules, const RulePair::Built& built) {
  const auto share_a = panel_shares(rules.a, built.a_riders, built.b);
  const auto share_coarse = panel_shares(rules.b_coarse, built.b_coarse_riders, built.b);
  // B's own nodes are the population's first ones: its shares with its own weights.
  Riders b_own{0, built.b.weight.head(static_cast<Eigen::Index>(built.b.node_of.size())),
               built.b.node_of};
  const auto share_b = panel_shares(rules.b, b_own, built.b);
  const double init_error = (share_b - share_coarse).abs().sum();
  Refinement plan;
  const auto& ends = rules.a.disorder_ends();
  if (ends.empty()) {  // bimodal: two atoms, only φ(0) to refine
    plan.init_states = true;
    return plan;
  }
  const auto n = static_cast<std::size_t>(share_a.rows());
  std::vector<double> indicator(n);
  double total = 0;
  for (std::size_t p = 0; p < n; ++p) {
    const auto q = static_cast<Eigen::Index>(p);
    indicator[p] =
        (share_coarse.row(2 * q) + share_coarse.row(2 * q + 1) - share_a.row(q)).abs().sum();
    total += indicator[p];
  }
  plan.init_states = init_error > 0.25 * total;
  std::vector<std::size_t> order(n);
  for (std::size_t p = 0; p < n; ++p) order[p] = p;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t x, std::size_t y) { return indicator[x] > indicator[y]; });
  std::vector<bool> cut(n, false);
  double covered = 0;
  for (std::size_t k = 0; k < n && (k == 0 || covered < 0.5 * total); ++k) {
    cut[order[k]] = true;
    covered += indicator[order[k]];
  }
  for (std::size_t p = 0; p < n; ++p) {
    plan.ends.push_back(ends[p]);
    if (cut[p]) plan.ends.push_back(0.5 * (ends[p] + ends[p + 1]));
  }
  plan.ends.push_back(ends.back());
  return plan;
}

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

// Chooses the integrators of an N → ∞ point at coupling σ: stiff when the largest |Δ| of the
// rule would bound DOPRI5's steps by stability (theory/population_integrator.hpp).
void choose_population_integrators(const TheorySweep& sweep, int depth, double sigma,
                                   TheoryWorkspace& workspace) {
  const theory::PopulationQuadrature base(sweep.disorder, sweep.initial_state, sweep.population);
  double largest = 0;
  for (const double delta : base.disorder().nodes) largest = std::max(largest, std::abs(delta));
  const double steps =
      theory::explicit_stability_steps(depth, sweep.gamma, sigma, largest, sweep.t_end);
  workspace.population_integrator.choose(steps);
  workspace.population_coarse_integrator.choose(steps);
}

// One N → ∞ point's result under one rule pair, per estimated window (the measured half
// first, then the horizons'; TheorySweep::estimated_windows): rule B's |average of m| and mean
// loss, and their estimates.
struct PointEstimate {
  theory::IntegrationStatus status = theory::IntegrationStatus::done;
  std::vector<double> order_parameter, order_parameter_error, loss, loss_error;
  std::int64_t steps = 0;
  // The largest estimate of any window (infinite before any comparison).
  double worst_error() const {
    double worst = order_parameter_error.empty() ? std::numeric_limits<double>::infinity() : 0.0;
    for (const double e : order_parameter_error)
      worst = std::isnan(e) ? std::numeric_limits<double>::infinity() : std::max(worst, e);
    return worst;
  }
};

PointStatus within(const TheorySweep& sweep, double error) {
  return error <= sweep.accuracy ? PointStatus::done : PointStatus::not_converged;
}

// Stores an estimate as point s of `result`, with every horizon's estimate and status; the
// point is done when its own window is within sweep.accuracy, else not_converged with its best
// value kept.
PointStatus store_estimate(const TheorySweep& sweep, const PointEstimate& e, int s,
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

// Integrates both rules' populations (already built) and compares them; B's traces go to the
// rows. A runs at tolerances rule_a_tolerance_factor looser, so the difference bounds B's
// time-stepping error as well as its quadrature error.
PointEstimate compare_rules(const TheorySweep& sweep, int depth, double sigma, PopulationRun& a,
                            PopulationRun& b, TheoryWorkspace& workspace,
                            const std::vector<double>& times, double mean_disorder,
                            std::vector<double>& m_a, std::vector<double>& loss_a, double* m_row,
                            double* loss_row) {
  PointEstimate e;
  theory::IntegrationResult outcome_a, outcome_b;
  const auto integrate_a = [&] {
    outcome_a = integrate_population(sweep, depth, sigma, a, workspace.population_coarse_integrator,
                                     times, m_a.data(), loss_a.data(), mean_disorder);
  };
  const auto integrate_b = [&] {
    outcome_b = integrate_population(sweep, depth, sigma, b, workspace.population_integrator, times,
                                     m_row, loss_row, mean_disorder);
  };
  const int threads = workspace.population_integrator.threads();
  if (threads >= 2 && b.phi.size() < base::parallel_min_size) {
    // The two rules are independent populations, too short to share their steps (see
    // base::parallel_min_size): one thread each, no synchronisation until both are done. B is
    // then integrated even when A fails; its result is not used.
    workspace.population_integrator.set_threads(1);
    workspace.population_coarse_integrator.set_threads(1);
    std::exception_ptr failure_a, failure_b;  // exceptions must not leave an OpenMP block
#pragma omp parallel sections num_threads(2)
    {
#pragma omp section
      try {
        integrate_b();
      } catch (...) {
        failure_b = std::current_exception();
      }
#pragma omp section
      try {
        integrate_a();
      } catch (...) {
        failure_a = std::current_exception();
      }
    }
    workspace.population_integrator.set_threads(threads);
    workspace.population_coarse_integrator.set_threads(threads);
    for (const auto& failure : {failure_a, failure_b})
      if (failure) std::rethrow_exception(failure);
  } else {
    integrate_a();
    if (outcome_a.status == theory::IntegrationStatus::done) integrate_b();
  }
  e.status = outcome_a.status;
  if (e.status != theory::IntegrationStatus::done) return e;
  e.status = outcome_b.status;
  e.steps = outcome_b.accepted_steps;
  if (e.status != theory::IntegrationStatus::done) return e;
  using Row = Eigen::Map<const Eigen::ArrayXd>;
  const Row m_b_row(m_row, sweep.samples), loss_b_row(loss_row, sweep.samples),
      m_a_row(m_a.data(), sweep.samples), loss_a_row(loss_a.data(), sweep.samples);
  for (const SampleWindow& window : sweep.estimated_windows()) {
    const double value = std::abs(sweep::window_mean(m_b_row, window));
    const double loss = sweep::window_mean(loss_b_row, window);
    e.order_parameter.push_back(value);
    e.order_parameter_error.push_back(
        std::abs(value - std::abs(sweep::window_mean(m_a_row, window))));
    e.loss.push_back(loss);
    e.loss_error.push_back(std::abs(loss - sweep::window_mean(loss_a_row, window)));
  }
  return e;
}

// At best a refinement level divides the error of a point by this (see solve_nonadiabatic_point).
constexpr double max_error_reduction_per_level = 2;

// A non-adiabatic N → ∞ point, refined until the error estimate of every estimated window (its
// own and each horizon's) is at most sweep.accuracy:
// each level bisects the disorder panels where A and B differ most under one m(t) (where units
// are near their saddle-node and the state changes fast in Δ), and doubles the initial-state
// panels when their error is a sizeable part (up to 16 times the base panels). After
// sweep.refine_levels refinements the point is not_converged and keeps the level with the smallest
// estimate. The point depends on nothing but its own coupling, so it is an independent work item.
PointStatus solve_nonadiabatic_point(const TheorySweep& sweep, int depth, int s,
                                     TheoryWorkspace& workspace, double mean_disorder,
                                     std::vector<theory::Separatrices>& base_split) {
  auto& result = workspace.result;
  const double sigma = sweep.sigma[static_cast<std::size_t>(s)];
  choose_population_integrators(sweep, depth, sigma, workspace);
  const std::vector<double> times = sweep.sample_times();
  std::vector<double> m_a(sweep.samples), loss_a(sweep.samples);
  std::vector<double> m_b(sweep.samples), loss_b(sweep.samples);
  std::vector<double> ends =
      theory::base_disorder_ends(sweep.disorder, sweep.population.disorder_nodes);
  int init_panels = sweep.population.init_panels;
  const int init_order = sweep.population.init_order;
  PointEstimate best;
  // Per estimated window: the previous level's value and its change from the level before.
  const std::size_t windows = sweep.estimated_windows().size();
  std::vector<double> previous_value(windows, nan), previous_change(windows, 0.0);
  std::vector<double> previous_error(windows, 0.0);
  std::vector<theory::Separatrices> split;  // the previous level's separatrices
  std::vector<double> split_nodes;          // and their Δ nodes
  RulePair::Built built;
  for (int level = 0; level <= sweep.refine_levels; ++level) {
    const RulePair rules(sweep, ends, init_panels, init_order);
    auto guess = level > 0 ? interpolate_splits(split_nodes, split, rules.a)
                           : std::vector<theory::Separatrices>(rules.a.disorder_count(),
                                                               theory::no_separatrix);
    auto status = theory::IntegrationStatus::done;
    split = locate_separatrix(sweep, rules.a, depth, sigma, guess, workspace.population_integrator,
                              times, status);
    if (level == 0) base_split = split;
    PointEstimate e;
    e.status = status;
    if (status == theory::IntegrationStatus::done) {
      // A point refined once is likely refined again: its B carries the riders at once.
      rules.build(split, level > 0, built);
      e = compare_rules(sweep, depth, sigma, built.a, built.b, workspace, times, mean_disorder, m_a,
                        loss_a, m_b.data(), loss_b.data());
    }
    if (e.status != theory::IntegrationStatus::done) return to_point_status(e.status);
    // A and B can agree by chance, and near a transition the quadrature error of a level
    // behaves like noise: the last two changes of each reported value between levels guard
    // its estimate, and so does the previous level's estimate: a level bisects the panels
    // where the state jumps or kinks in Δ, which at worst (a jump, O(h)) only halves that
    // error, so an estimate that falls faster may be A and B agreeing by chance (D = 5,
    // uniform disorder, σ = 2.2: 1.5e-3 after 1.3e-2 at the level before, actual error
    // 3.8e-3, tests/e2e/test_infinite_reference.py; D = 3 at σ = 4.47 halves per level).
    for (std::size_t w = 0; w < windows; ++w) {
      const double change = std::abs(e.order_parameter[w] - previous_value[w]);
      if (level > 0)
        e.order_parameter_error[w] =
            std::max({e.order_parameter_error[w], change, previous_change[w],
                      previous_error[w] / max_error_reduction_per_level});
      previous_change[w] = level > 0 ? change : 0.0;
      previous_value[w] = e.order_parameter[w];
      previous_error[w] = e.order_parameter_error[w];
    }
    if (best.order_parameter.empty() || e.worst_error() < best.worst_error()) {
      best = e;
      std::copy(m_b.begin(), m_b.end(), result.m_trace.row(s).data());
      std::copy(loss_b.begin(), loss_b.end(), result.loss_trace.row(s).data());
    }
    if (e.worst_error() <= sweep.accuracy) break;
    if (level == sweep.refine_levels) break;
    if (level == 0) {  // B again, with the riders (its traces are kept in result already)
      rules.build_b(split, true, built);
      const auto status_b =
          integrate_population(sweep, depth, sigma, built.b, workspace.population_integrator, times,
                               m_b.data(), loss_b.data(), mean_disorder)
              .status;
      if (status_b != theory::IntegrationStatus::done) break;
    }
    const Refinement plan = plan_refinement(rules, built);
    // The φ(0) panels grow at most 16-fold, 256-fold for bimodal disorder (two atoms: φ(0) is
    // all there is to refine, and cheap).
    const bool init_capped =
        init_panels >= (ends.empty() ? 256 : 16) * sweep.population.init_panels;
    if (plan.ends.empty() && init_capped) break;  // bimodal: nothing left to refine
    if (!plan.ends.empty()) ends = plan.ends;
    if (plan.init_states && !init_capped) init_panels *= 2;
    split_nodes = rules.a.disorder().nodes;
  }
  return store_estimate(sweep, best, s, result);
}

// An adiabatic N → ∞ chain: both rules' populations carry their states from coupling to
// coupling, so the rules cannot change mid-chain; a point whose estimate exceeds
// sweep.accuracy is not_converged (refine with --disorder-nodes, --init-panels).
void compute_adiabatic_infinite_chain(const TheorySweep& sweep, const WorkItem& item,
                                      TheoryWorkspace& workspace, double mean_disorder) {
  const Chain& chain = item.chain;
  const Protocol protocol = sweep.protocols[chain.protocol];
  const int depth = sweep.depths[chain.depth_index];
  auto& result = workspace.result;
  const RulePair rules(sweep,
                       theory::base_disorder_ends(sweep.disorder, sweep.population.disorder_nodes),
                       sweep.population.init_panels, sweep.population.init_order);
  const std::vector<double> times = sweep.sample_times();
  std::vector<double> m_a(sweep.samples), loss_a(sweep.samples);
  RulePair::Built built;
  bool first = true;
  const auto compute = [&](int s) {
    const double sigma = sweep.sigma[s];
    choose_population_integrators(sweep, depth, sigma, workspace);
    auto status = theory::IntegrationStatus::done;
    if (first) {
      const auto split = locate_separatrix(
          sweep, rules.a, depth, sigma,
          std::vector<theory::Separatrices>(rules.a.disorder_count(), theory::no_separatrix),
          workspace.population_integrator, times, status);
      for (int j = 0; j < rules.a.disorder_count(); ++j) result.separatrix(s, j) = split[j][0];
      if (status == theory::IntegrationStatus::done) rules.build(split, false, built);
      first = false;
    }
    PointEstimate e;
    e.status = status;
    if (status == theory::IntegrationStatus::done)
      e = compare_rules(sweep, depth, sigma, built.a, built.b, workspace, times, mean_disorder, m_a,
                        loss_a, result.m_trace.row(s).data(), result.loss_trace.row(s).data());
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
  for (int s = 0; s < static_cast<int>(sweep.sigma.size()); ++s) {
    result.separatrix.row(s).setConstant(nan);
    result.steps[s] = 0;
    set_infinite_point_status(s, PointStatus::not_run, result);
  }
  if (protocol != Protocol::nonadiabatic) {
    compute_adiabatic_infinite_chain(sweep, item, workspace, mean_disorder);
  } else {
    std::vector<theory::Separatrices> split;
    for (const int s : item.sigma) {
      result.status[s] = static_cast<std::int8_t>(
          solve_nonadiabatic_point(sweep, depth, s, workspace, mean_disorder, split));
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
  // Steps are accuracy-limited at weak coupling and stability-limited (h ≈ 3.3/σ) at strong
  // coupling; the cost of a step grows with N.
  const auto cost = [&](int, int s) {
    return (40 + sweep.t_end * sweep.sigma[static_cast<std::size_t>(s)] / 3.0) * sweep.units;
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
        workspace.population_integrator.set_threads(inner_threads);
        workspace.population_coarse_integrator.set_threads(inner_threads);
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
