#include "theory/population_solver.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <functional>
#include <limits>

#include "base/fixed_order_sum.hpp"
#include "base/not_a_number.hpp"
#include "coupling/graph.hpp"
#include "theory/effective_dynamics.hpp"
#include "theory/stationary.hpp"

namespace cdl::theory {

double PopulationEstimate::worst_error() const {
  double worst = order_parameter_error.empty() ? std::numeric_limits<double>::infinity() : 0.0;
  for (const double e : order_parameter_error)
    worst = std::isnan(e) ? std::numeric_limits<double>::infinity() : std::max(worst, e);
  return worst;
}

namespace {

using base::nan;

struct PopulationRun {
  Eigen::ArrayXd disorder, initial_state, weight, phi;
  std::vector<int> node_of;  // the disorder node of every population node
  // [node, estimated window]: the node's mean state there, and the mean effective loss of its
  // own nodes (those before any probes and riders; none unless asked for)
  Eigen::ArrayXXd window_means, window_loss_means;
};

// Observer of one population's integration: the weighted m(t) and mean effective loss at
// every sample, and every node's mean state and loss over each estimated window (the per-node
// shares of the window averages, from which the error estimates and the adaptive refinement
// follow).
struct PopulationRecorder {
  double* m;
  double* loss;
  int depth;
  double mean_disorder;
  const Eigen::ArrayXd& weights;
  Eigen::ArrayXXd& window_means;
  Eigen::ArrayXXd& window_loss_means;
  const std::vector<base::SampleWindow>& windows;
  void sample(int k, const Eigen::ArrayXd& phi) {
    for (std::size_t w = 0; w < windows.size(); ++w) {
      const base::SampleWindow& window = windows[w];
      if (k < window.first || k > window.last) continue;
      const auto column = static_cast<Eigen::Index>(w);
      window_means.col(column) += phi / window.size();
      for (Eigen::Index i = 0; i < window_loss_means.rows(); ++i)
        window_loss_means(i, column) +=
            effective_loss(phi[i], depth, mean_disorder) / window.size();
    }
    m[k] = base::fixed_order_weighted_mean(phi, weights);
    loss[k] = weighted_effective_loss(phi, weights, depth, mean_disorder);
  }
};

// One population integrated over [0, t_end] at coupling σ from run.phi; m(t) and loss(t) go
// to the rows, and run.window_means is filled (run.window_loss_means when `own_node_losses`:
// only the rules' comparison needs them).
IntegrationResult integrate_population(const PopulationProblem& problem, double sigma,
                                       PopulationRun& run, PopulationIntegrator& integrator,
                                       double* m_row, double* loss_row, double mean_disorder,
                                       bool own_node_losses = false) {
  const auto graph = coupling::CouplingGraph::weighted_complete(run.weight);
  EffectiveDynamics dynamics(problem.depth, problem.gamma, run.disorder, graph);
  dynamics.set_sigma(sigma);
  dynamics.set_threads(integrator.threads());
  const auto windows = static_cast<Eigen::Index>(problem.windows.size());
  run.window_means.setZero(run.phi.size(), windows);
  run.window_loss_means.setZero(own_node_losses ? static_cast<Eigen::Index>(run.node_of.size()) : 0,
                                windows);
  PopulationRecorder recorder{m_row,      loss_row,         problem.depth,         mean_disorder,
                              run.weight, run.window_means, run.window_loss_means, problem.windows};
  return integrator.integrate(dynamics, run.phi, 0.0, problem.t_end, problem.times, recorder);
}

// The unstable roots between a unit's wells in the mean field m, in the order of
// Separatrices: with two wells the one root; with three (odd D ≥ 3) [0] the root on the side
// of m's sign, where the outer well appears first as Δ grows, and [1] the other.
Separatrices unstable_roots(int depth, double gamma, double sigma, double m, double disorder) {
  Separatrices boundary = no_separatrix;
  if (depth == 0) return boundary;
  const FixedPointCurve curve({depth, gamma}, sigma, m == 0 ? 1e-14 : m);
  const auto roots = curve.fixed_points(disorder);
  if (roots.size() == 3) boundary[0] = roots[1];
  if (roots.size() == 5)
    boundary = m >= 0 ? Separatrices{roots[3], roots[1]} : Separatrices{roots[1], roots[3]};
  return boundary;
}

// Separatrices a unit of depth D can have: two for odd D ≥ 3 (three wells), else one.
int separatrix_count(int depth) { return depth >= 3 && depth % 2 == 1 ? 2 : 1; }

// Appends units that ride along with zero weight (they feel m(t) without changing it).
void append_zero_weight(PopulationRun& run, const Eigen::ArrayXd& disorder,
                        const Eigen::ArrayXd& initial_state) {
  const Eigen::Index added = disorder.size();
  const Eigen::Index n = run.disorder.size() + added;
  run.disorder.conservativeResize(n);
  run.initial_state.conservativeResize(n);
  run.weight.conservativeResize(n);
  run.disorder.tail(added) = disorder;
  run.initial_state.tail(added) = initial_state;
  run.weight.tail(added).setZero();
}

// Where the time-averaged state steps in Δ at a fixed φ(0). Near the onset of order m(t) can
// create a well and remove it again; units it held are released late, and those released
// while ⟨m⟩ is measured make a steep step in Δ (D = 3, σ = 3.7 at the published setting: at
// Δ ≈ 3.70, width ~0.02). Gauss panels lose their order across it and bisection only halves
// that error per level; a panel end at the step restores it. The probes ride along the
// separatrix passes on two lines, φ(0) at either end of its range, which no separatrix crosses:
// a step on them is a step in Δ. The first pass scans the span of the disorder panels; later
// passes narrow each step's bracket, as for a separatrix, under the converging m(t).
class DisorderStepSearch {
 public:
  explicit DisorderStepSearch(const PopulationQuadrature& q) : q_(q) {}

  // Appends this pass's probes to a built population (zero weight).
  void append_probes(PopulationRun& run) {
    first_probe_ = run.disorder.size();
    std::vector<double> delta, phi;
    const auto& ends = q_.disorder_ends();
    if (!scanned_) {
      for (const double line : {q_.init_lo(), q_.init_hi()})
        for (int i = 0; i < disorder_step_scan; ++i) {
          delta.push_back(q_.disorder_at(ends.front() + (ends.back() - ends.front()) * i /
                                                            (disorder_step_scan - 1)));
          phi.push_back(line);
        }
    } else {
      for (const Bracket& b : brackets_)
        if (!b.settled)
          for (int i = 0; i < separatrix_probes; ++i) {
            delta.push_back(q_.disorder_at(b.lo + (b.hi - b.lo) * i / (separatrix_probes - 1)));
            phi.push_back(b.line);
          }
    }
    const auto added = static_cast<Eigen::Index>(delta.size());
    append_zero_weight(run, Eigen::Map<const Eigen::ArrayXd>(delta.data(), added),
                       Eigen::Map<const Eigen::ArrayXd>(phi.data(), added));
  }

  // Reads this pass's probes (their means over the measured window).
  void narrow(const PopulationRun& run) {
    const auto probe_means = run.window_means.col(0).tail(run.window_means.rows() - first_probe_);
    if (!scanned_)
      read_scan(probe_means);
    else
      narrow_brackets(probe_means);
    const auto& ends = q_.disorder_ends();
    for (Bracket& b : brackets_)
      b.settled = b.hi - b.lo < disorder_step_resolution * (ends.back() - ends.front());
  }

  bool settled() const {
    return scanned_ && std::all_of(brackets_.begin(), brackets_.end(),
                                   [](const Bracket& b) { return b.settled; });
  }

  // The steps located, in the panels' coordinate.
  std::vector<double> steps() const {
    std::vector<double> out;
    for (const Bracket& b : brackets_) out.push_back(0.5 * (b.lo + b.hi));
    return out;
  }

 private:
  struct Bracket {
    double lo, hi;  // in the panels' coordinate
    double line;    // φ(0) of the probes
    double rise;    // the change across the scan's interval
    bool settled;
  };

  // A bracket at every interval of the scan where the state steps (the largest steps first).
  template <class Means>
  void read_scan(const Means& mean) {
    scanned_ = true;
    const auto& ends = q_.disorder_ends();
    const double spacing = (ends.back() - ends.front()) / (disorder_step_scan - 1);
    for (int line = 0; line < 2; ++line) {
      std::vector<double> change(disorder_step_scan - 1);
      for (int i = 0; i + 1 < disorder_step_scan; ++i)
        change[i] =
            std::abs(mean[line * disorder_step_scan + i + 1] - mean[line * disorder_step_scan + i]);
      for (int i = 0; i + 1 < disorder_step_scan; ++i) {
        const double left = i > 0 ? change[i - 1] : 0;
        const double right = i + 2 < disorder_step_scan ? change[i + 1] : 0;
        if (change[i] < disorder_step_rise ||
            change[i] < disorder_step_concentration * std::max(left, right))
          continue;
        const double lo = ends.front() + spacing * i;
        const bool found = std::any_of(brackets_.begin(), brackets_.end(),
                                       [&](const Bracket& b) { return b.lo == lo; });
        if (!found)
          brackets_.push_back(
              {lo, lo + spacing, line == 0 ? q_.init_lo() : q_.init_hi(), change[i], false});
      }
    }
    std::stable_sort(brackets_.begin(), brackets_.end(),
                     [](const Bracket& x, const Bracket& y) { return x.rise > y.rise; });
    if (brackets_.size() > max_disorder_steps) brackets_.resize(max_disorder_steps);
  }

  // Every unsettled bracket narrowed to its probes' interval of the largest change.
  template <class Means>
  void narrow_brackets(const Means& mean) {
    Eigen::Index probe = 0;
    for (Bracket& b : brackets_) {
      if (b.settled) continue;
      int steepest = 0;
      for (int i = 1; i + 1 < separatrix_probes; ++i)
        if (std::abs(mean[probe + i + 1] - mean[probe + i]) >
            std::abs(mean[probe + steepest + 1] - mean[probe + steepest]))
          steepest = i;
      probe += separatrix_probes;
      const double width = (b.hi - b.lo) / (separatrix_probes - 1);
      b.lo += width * steepest;
      b.hi = b.lo + width;
    }
  }

  const PopulationQuadrature& q_;
  bool scanned_ = false;
  std::vector<Bracket> brackets_;
  Eigen::Index first_probe_ = 0;
};

// Places a panel end at each step in Δ: a step in a panel next to an end placed at a step
// before moves that end (the step moves with m(t) from level to level, and an end left a little
// off a sharp step biases A and B alike: both put the units between the two on the wrong side);
// another step gets an end of its own unless one lies within disorder_step_gap of the panel's
// width. `step_ends` are the ends placed so far; whether the ends changed.
bool place_disorder_steps(std::vector<double>& ends, std::vector<double>& step_ends,
                          const std::vector<double>& steps) {
  bool changed = false;
  for (const double step : steps) {
    const auto upper = std::upper_bound(ends.begin(), ends.end(), step);
    if (upper == ends.begin() || upper == ends.end()) continue;
    auto& lo = *(upper - 1);
    auto& hi = *upper;
    const auto placed = [&](double end) {
      return std::find(step_ends.begin(), step_ends.end(), end) != step_ends.end();
    };
    double* moved = placed(lo) ? &lo : placed(hi) ? &hi : nullptr;
    if (moved) {
      if (*moved == step) continue;
      std::replace(step_ends.begin(), step_ends.end(), *moved, step);
      *moved = step;
      changed = true;
      continue;
    }
    if (std::min(step - lo, hi - step) <= disorder_step_gap * (hi - lo)) continue;
    ends.insert(upper, step);
    step_ends.push_back(step);
    changed = true;
  }
  return changed;
}

// The largest change of a window's |average of m| between two traces.
double largest_window_change(const PopulationProblem& problem, const std::vector<double>& before,
                             const std::vector<double>& after) {
  using Row = Eigen::Map<const Eigen::ArrayXd>;
  const auto n = static_cast<Eigen::Index>(problem.times.size());
  double largest = 0;
  for (const base::SampleWindow& window : problem.windows)
    largest =
        std::max(largest, std::abs(std::abs(base::window_mean(Row(after.data(), n), window)) -
                                   std::abs(base::window_mean(Row(before.data(), n), window))));
  return largest;
}

// Appends separatrix_probes zero-weight probes evenly over each bracket (both ends included) of
// the brackets b = j · count + k (node j's separatrix k); `first_probe` receives where each
// bracket's probes start. A node's brackets over the same range share their probes: their
// paths are the same (most brackets span the whole range where a node has no crossing; at
// odd D ≥ 3 both of such a node's brackets do).
void append_bracket_probes(const PopulationQuadrature& q,
                           const std::vector<std::array<double, 2>>& bracket, int count,
                           PopulationRun& run, std::vector<Eigen::Index>& first_probe) {
  constexpr int probes = separatrix_probes;
  std::vector<double> delta, phi;
  for (std::size_t b = 0; b < bracket.size(); ++b) {
    if (b % count > 0 && bracket[b] == bracket[b - 1]) {
      first_probe[b] = first_probe[b - 1];
      continue;
    }
    first_probe[b] = run.disorder.size() + static_cast<Eigen::Index>(delta.size());
    for (int k = 0; k < probes; ++k) {
      delta.push_back(q.disorder().nodes[static_cast<int>(b) / count]);
      phi.push_back(bracket[b][0] + (bracket[b][1] - bracket[b][0]) * k / (probes - 1));
    }
  }
  const auto added = static_cast<Eigen::Index>(delta.size());
  append_zero_weight(run, Eigen::Map<const Eigen::ArrayXd>(delta.data(), added),
                     Eigen::Map<const Eigen::ArrayXd>(phi.data(), added));
}

// Locates, for every disorder node, the initial states whose paths end at the unstable roots
// at t_end (each separatrix of Separatrices), with zero-weight probes riding along the
// population: each pass narrows every bracket by a factor probes − 1, and the population is
// rebuilt split at the current estimates so that m(t) converges together with them. `split`
// holds first guesses (NaN: none), which split the first pass's population; every bracket
// starts from the whole range, since one warm-started from a guess can lock onto a stale step.
// With `steps` the search for steps in Δ rides along; `pass_m` receives the last pass's m(t).
std::vector<Separatrices> locate_separatrix(
    const PopulationProblem& problem, const PopulationQuadrature& q, double sigma,
    std::vector<Separatrices> split, PopulationIntegrator& integrator, IntegrationStatus& status,
    DisorderStepSearch* steps = nullptr, std::vector<double>* pass_m = nullptr) {
  constexpr int probes = separatrix_probes;
  const int n = q.disorder_count();
  const int count = separatrix_count(problem.depth);
  const double full = q.init_hi() - q.init_lo();
  // Bracket b = j · count + k is node j's separatrix k.
  std::vector<std::array<double, 2>> bracket(static_cast<std::size_t>(n) * count,
                                             std::array{q.init_lo(), q.init_hi()});
  std::vector<bool> ghost(bracket.size(), false);  // split at a steep step, not a crossing
  PopulationRun run;
  std::vector<double> m_scratch(problem.times.size()), loss_scratch(problem.times.size());
  std::vector<Eigen::Index> first_probe(bracket.size());  // of each bracket in the population
  for (int pass = 0; pass < separatrix_passes; ++pass) {
    q.build(split, run.disorder, run.initial_state, run.weight);
    append_bracket_probes(q, bracket, count, run, first_probe);
    if (steps) steps->append_probes(run);
    run.phi = run.initial_state;
    status = integrate_population(problem, sigma, run, integrator, m_scratch.data(),
                                  loss_scratch.data(), 0)
                 .status;
    if (status != IntegrationStatus::done) return split;
    const double m_end = base::fixed_order_weighted_mean(run.phi, run.weight);
    bool settled = true;
    Separatrices roots = no_separatrix;  // node j's, for every bracket of j
    for (std::size_t b = 0; b < bracket.size(); ++b) {
      const int j = static_cast<int>(b) / count, which = static_cast<int>(b) % count;
      if (which == 0)
        roots = unstable_roots(problem.depth, problem.gamma, sigma, m_end, q.disorder().nodes[j]);
      const double boundary = roots[which];
      const Eigen::Index probe = first_probe[b];
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
        if (total > ghost_rise &&
            average[steepest + 1] - average[steepest] > ghost_concentration * total) {
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
      settled &= bracket[b][1] - bracket[b][0] < separatrix_resolution * full;
    }
    if (steps) steps->narrow(run);
    if (settled && (!steps || steps->settled())) break;
  }
  if (pass_m) *pass_m = m_scratch;
  return split;
}

// Splits at the disorder nodes `nodes` carried to the disorder nodes of rule `to`: a node of
// `to` that is one of `nodes` keeps its split (bimodal disorder: the same two atoms, listed in
// decreasing order), others get linear interpolation in Δ between the neighbouring nodes that
// both have one (NaN elsewhere).
std::vector<Separatrices> interpolate_splits(const std::vector<double>& nodes,
                                             const std::vector<Separatrices>& split,
                                             const PopulationQuadrature& to) {
  std::vector<std::size_t> order(nodes.size());
  for (std::size_t j = 0; j < order.size(); ++j) order[j] = j;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t x, std::size_t y) { return nodes[x] < nodes[y]; });
  std::vector<Separatrices> out(to.disorder_count(), no_separatrix);
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
        for (int k = 0; k < max_separatrices; ++k)
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
Riders append_riders(const PopulationQuadrature& q, const std::vector<Separatrices>& split,
                     PopulationRun& run) {
  Riders riders;
  Eigen::ArrayXd disorder, initial_state;
  q.build(split, disorder, initial_state, riders.weight, &riders.node_of);
  riders.offset = run.disorder.size();
  append_zero_weight(run, disorder, initial_state);
  return riders;
}

// Each disorder panel's share of every estimated window's average of m (or, from
// window_loss_means, of the loss) under rule q, from its riders: [panel, window].
Eigen::ArrayXXd panel_shares(const PopulationQuadrature& q, const Riders& riders,
                             const Eigen::ArrayXXd& node_means) {
  Eigen::ArrayXXd share = Eigen::ArrayXXd::Zero(q.panel_count(), node_means.cols());
  for (Eigen::Index i = 0; i < riders.weight.size(); ++i)
    share.row(q.panel_of(riders.node_of[static_cast<std::size_t>(i)])) +=
        riders.weight[i] * node_means.row(riders.offset + i);
  return share;
}

// Per disorder panel of A, the sum of the shares of B's two halves of it (B bisects A's panels).
Eigen::ArrayXXd halves_per_panel(const Eigen::ArrayXXd& share) {
  Eigen::ArrayXXd halves(share.rows() / 2, share.cols());
  for (Eigen::Index p = 0; p < halves.rows(); ++p)
    halves.row(p) = share.row(2 * p) + share.row(2 * p + 1);
  return halves;
}

// A population's own nodes (those that carry weight, before any riders) as riders of itself.
Riders own_nodes(const PopulationRun& run) {
  return {0, run.weight.head(static_cast<Eigen::Index>(run.node_of.size())), run.node_of};
}

// The rules one refinement level compares (see the header): A split at the separatrices, B
// with every disorder panel bisected and every initial-state panel cut in two (A's splits
// interpolated in Δ).
struct RulePair {
  PopulationQuadrature a, b, b_coarse;  // b_coarse: B in Δ, A in φ(0)
  RulePair(const PopulationProblem& problem, const std::vector<double>& ends, int init_panels,
           int init_order)
      : a(problem.disorder, problem.initial_state, ends, init_panels, init_order),
        b(problem.disorder, problem.initial_state, bisect_panels(ends), init_panels, init_order, 2),
        b_coarse(problem.disorder, problem.initial_state, bisect_panels(ends), init_panels,
                 init_order) {}
  struct Built {
    PopulationRun a, b;
    Riders a_riders, b_coarse_riders;
  };
  // Both populations, with the riders in B's when `riders` (they only serve refinement).
  void build(const std::vector<Separatrices>& split, bool riders, Built& out) const {
    a.build(split, out.a.disorder, out.a.initial_state, out.a.weight, &out.a.node_of);
    out.a.phi = out.a.initial_state;
    build_b(split, riders, out);
  }
  void build_b(const std::vector<Separatrices>& split, bool riders, Built& out) const {
    const auto split_b = interpolate_splits(a.disorder().nodes, split, b);
    b.build(split_b, out.b.disorder, out.b.initial_state, out.b.weight, &out.b.node_of);
    if (riders) {
      out.a_riders = append_riders(a, split, out.b);
      out.b_coarse_riders = append_riders(b_coarse, split_b, out.b);
    }
    out.b.phi = out.b.initial_state;
  }
};

// Per estimated window, the sum over A's disorder panels (bimodal: atoms) of |A's share − B's
// share| of a window average (from each population's per-node means: window_means or
// window_loss_means), each rule under its own m(t): |A − B| without the cancellation between
// panels that lets A and B agree by chance (D = 2, uniform disorder, σ = 0.501: |A − B| =
// 8.7e-5 against an actual error of 2.7e-4, bench/validate_infinite.py).
Eigen::ArrayXd panel_difference(const RulePair& rules, const RulePair::Built& built,
                                const Eigen::ArrayXXd& a_means, const Eigen::ArrayXXd& b_means) {
  const auto share_a = panel_shares(rules.a, own_nodes(built.a), a_means);
  const auto share_b = panel_shares(rules.b, own_nodes(built.b), b_means);
  if (rules.a.disorder_ends().empty())  // bimodal: the same two atoms
    return (share_a - share_b).abs().colwise().sum().transpose();
  return (share_a - halves_per_panel(share_b)).abs().colwise().sum().transpose();
}

// Raises every window's estimates of ⟨m⟩ and of the loss to their panel differences.
void widen_to_panel_difference(const RulePair& rules, const RulePair::Built& built,
                               PopulationEstimate& e) {
  const auto widen = [](std::vector<double>& errors, const Eigen::ArrayXd& difference) {
    for (std::size_t w = 0; w < errors.size(); ++w)
      errors[w] = std::max(errors[w], difference[static_cast<Eigen::Index>(w)]);
  };
  widen(e.order_parameter_error,
        panel_difference(rules, built, built.a.window_means, built.b.window_means));
  widen(e.loss_error,
        panel_difference(rules, built, built.a.window_loss_means, built.b.window_loss_means));
}

// Where the next level refines, from the riders of an integrated level.
struct Refinement {
  std::vector<double> ends;  // A's disorder panels, those with the largest Δ error cut
  bool init_states = false;  // the φ(0) error is a sizeable part: double its panels
};

// Every window's error counts: each horizon is driven to the accuracy, not only the last.
// Bimodal disorder (two atoms) has only φ(0) to refine and needs no riders.
Refinement plan_refinement(const RulePair& rules, const RulePair::Built& built) {
  Refinement plan;
  const auto& ends = rules.a.disorder_ends();
  if (ends.empty()) {
    plan.init_states = true;
    return plan;
  }
  const auto share_a = panel_shares(rules.a, built.a_riders, built.b.window_means);
  const auto share_coarse =
      panel_shares(rules.b_coarse, built.b_coarse_riders, built.b.window_means);
  const auto share_b = panel_shares(rules.b, own_nodes(built.b), built.b.window_means);
  const double init_error = (share_b - share_coarse).abs().sum();
  const auto n = static_cast<std::size_t>(share_a.rows());
  std::vector<double> indicator(n);
  double total = 0;
  const Eigen::ArrayXXd coarse_halves = halves_per_panel(share_coarse);
  for (std::size_t p = 0; p < n; ++p) {
    const auto q = static_cast<Eigen::Index>(p);
    indicator[p] = (coarse_halves.row(q) - share_a.row(q)).abs().sum();
    total += indicator[p];
  }
  plan.init_states = init_error > init_error_share * total;
  std::vector<std::size_t> order(n);
  for (std::size_t p = 0; p < n; ++p) order[p] = p;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t x, std::size_t y) { return indicator[x] > indicator[y]; });
  std::vector<bool> cut(n, false);
  double covered = 0;
  for (std::size_t k = 0; k < n && (k == 0 || covered < refined_error_share * total); ++k) {
    cut[order[k]] = true;
    covered += indicator[order[k]];
  }
  for (std::size_t p = 0; p < n; ++p) {
    plan.ends.push_back(ends[p]);
    if (cut[p])
      for (int part = 1; part < disorder_panel_split; ++part)
        plan.ends.push_back(ends[p] + (ends[p + 1] - ends[p]) * part / disorder_panel_split);
  }
  plan.ends.push_back(ends.back());
  return plan;
}

// Chooses the integrators at coupling σ: stiff when the largest |Δ| of the base rule would
// bound DOPRI5's steps by stability (theory/population_integrator.hpp).
void choose_integrators(const PopulationProblem& problem, double sigma,
                        PopulationIntegrator& integrator, PopulationIntegrator& coarse) {
  const PopulationQuadrature base(problem.disorder, problem.initial_state, problem.rule);
  double largest = 0;
  for (const double delta : base.disorder().nodes) largest = std::max(largest, std::abs(delta));
  const double steps =
      explicit_stability_steps(problem.depth, problem.gamma, sigma, largest, problem.t_end);
  integrator.choose(steps);
  coarse.choose(steps);
}

// Rule A's m(t) and loss(t), the reference B is compared with.
struct Traces {
  std::vector<double> m, loss;
};

// Integrates both rules' populations (already built) and compares them; B's traces go to the
// rows, A's to `traces_a`. `after_a`, if given, runs once A is integrated and before B is (it
// may rebuild B), so the two rules then run one after the other.
PopulationEstimate compare_rules(const PopulationProblem& problem, double sigma, PopulationRun& a,
                                 PopulationRun& b, PopulationIntegrator& integrator_b,
                                 PopulationIntegrator& integrator_a, Traces& traces_a,
                                 double* m_row, double* loss_row,
                                 const std::function<void()>& after_a = {}) {
  PopulationEstimate e;
  const std::size_t samples = problem.times.size();
  traces_a.m.resize(samples);
  traces_a.loss.resize(samples);
  auto& m_a = traces_a.m;
  auto& loss_a = traces_a.loss;
  IntegrationResult outcome_a, outcome_b;
  const auto integrate_a = [&] {
    outcome_a = integrate_population(problem, sigma, a, integrator_a, m_a.data(), loss_a.data(),
                                     problem.mean_disorder, true);
  };
  const auto integrate_b = [&] {
    outcome_b = integrate_population(problem, sigma, b, integrator_b, m_row, loss_row,
                                     problem.mean_disorder, true);
  };
  const int threads = integrator_b.threads();
  if (threads >= 2 && b.phi.size() < base::parallel_min_size && !after_a) {
    // The two rules are independent populations, too short to share their steps (see
    // base::parallel_min_size): one thread each, no synchronisation until both are done. B is
    // then integrated even when A fails; its result is not used.
    integrator_b.set_threads(1);
    integrator_a.set_threads(1);
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
    integrator_b.set_threads(threads);
    integrator_a.set_threads(threads);
    for (const auto& failure : {failure_a, failure_b})
      if (failure) std::rethrow_exception(failure);
  } else {
    integrate_a();
    if (outcome_a.status == IntegrationStatus::done) {
      if (after_a) after_a();
      integrate_b();
    }
  }
  e.status = outcome_a.status;
  if (e.status != IntegrationStatus::done) return e;
  e.status = outcome_b.status;
  e.steps = outcome_b.accepted_steps;
  if (e.status != IntegrationStatus::done) return e;
  using Row = Eigen::Map<const Eigen::ArrayXd>;
  const auto n = static_cast<Eigen::Index>(samples);
  const Row m_b_row(m_row, n), loss_b_row(loss_row, n), m_a_row(m_a.data(), n),
      loss_a_row(loss_a.data(), n);
  for (const base::SampleWindow& window : problem.windows) {
    const double value = std::abs(base::window_mean(m_b_row, window));
    const double loss = base::window_mean(loss_b_row, window);
    e.order_parameter.push_back(value);
    e.order_parameter_error.push_back(
        std::abs(value - std::abs(base::window_mean(m_a_row, window))));
    e.loss.push_back(loss);
    e.loss_error.push_back(std::abs(loss - base::window_mean(loss_a_row, window)));
  }
  return e;
}

Dopri5Settings looser(Dopri5Settings settings) {
  settings.rtol *= rule_a_tolerance_factor;
  settings.atol *= rule_a_tolerance_factor;
  return settings;
}

}  // namespace

struct PopulationSolver::Scratch {
  Traces a;  // rule A's traces
  Traces b;  // rule B's, of the level being solved
  RulePair::Built built;
};

struct PopulationSolver::Chain {
  RulePair rules;
  RulePair::Built built;
};

PopulationSolver::PopulationSolver(const Dopri5Settings& settings)
    : integrator_(settings),
      coarse_integrator_(looser(settings)),
      scratch_(std::make_unique<Scratch>()) {}
PopulationSolver::~PopulationSolver() = default;
PopulationSolver::PopulationSolver(PopulationSolver&&) noexcept = default;
PopulationSolver& PopulationSolver::operator=(PopulationSolver&&) noexcept = default;

void PopulationSolver::set_threads(int threads) {
  integrator_.set_threads(threads);
  coarse_integrator_.set_threads(threads);
}

// Each level bisects the disorder panels where A and B differ most under one m(t) (where units
// are near their saddle-node and the state changes fast in Δ), and doubles the initial-state
// panels when their error is a sizeable part.
PopulationEstimate PopulationSolver::solve_point(const PopulationProblem& problem, double sigma,
                                                 double* m_trace, double* loss_trace,
                                                 std::vector<Separatrices>& base_split) {
  choose_integrators(problem, sigma, integrator_, coarse_integrator_);
  std::vector<double>& m_b = scratch_->b.m;
  std::vector<double>& loss_b = scratch_->b.loss;
  m_b.resize(problem.times.size());
  loss_b.resize(problem.times.size());
  std::vector<double> ends = base_disorder_ends(problem.disorder, problem.rule.disorder_nodes);
  int init_panels = problem.rule.init_panels;
  const int init_order = problem.rule.init_order;
  PopulationEstimate best;
  bool best_unconfirmed = false;  // see `unconfirmed` below
  double best_moved = 0;          // how far the steps in Δ moved an unconfirmed best's A
  // Per estimated window: the previous level's value, its change from the level before and
  // its estimate.
  struct Previous {
    double value = nan, change = 0, error = 0;
  };
  std::vector<Previous> previous(problem.windows.size());
  std::vector<Separatrices> split;  // the previous level's separatrices
  std::vector<double> split_nodes;  // and their Δ nodes
  std::vector<double> step_ends;    // the panel ends placed at steps in Δ
  RulePair::Built& built = scratch_->built;
  // Whether this level's B carries the riders, which only serve the refinement after it.
  bool riders_at_once = false;
  for (int level = 0; level <= problem.refine_levels; ++level) {
    const PopulationQuadrature located(problem.disorder, problem.initial_state, ends, init_panels,
                                       init_order);
    auto guess = level > 0 ? interpolate_splits(split_nodes, split, located)
                           : std::vector<Separatrices>(located.disorder_count(), no_separatrix);
    auto status = IntegrationStatus::done;
    DisorderStepSearch steps(located);
    std::vector<double> pass_m;
    split = locate_separatrix(problem, located, sigma, guess, integrator_, status,
                              ends.empty() ? nullptr : &steps, &pass_m);
    if (level == 0) base_split = split;
    const bool stepped =
        status == IntegrationStatus::done && place_disorder_steps(ends, step_ends, steps.steps());
    const RulePair rules(problem, ends, init_panels, init_order);
    if (stepped) split = interpolate_splits(located.disorder().nodes, split, rules.a);
    PopulationEstimate e;
    e.status = status;
    bool b_has_riders = riders_at_once;
    if (status == IntegrationStatus::done) {
      rules.build(split, riders_at_once, built);
      // A first level whose A the steps in Δ moved by more than the accuracy is followed by
      // another (see `unconfirmed` below) planned from B's riders: B carries them at once
      // rather than running again (A runs first, so its m(t) decides).
      const auto riders_if_unconfirmed = [&] {
        if (largest_window_change(problem, pass_m, scratch_->a.m) <= problem.accuracy) return;
        rules.build_b(split, true, built);
        b_has_riders = true;
      };
      const bool may_be_unconfirmed = level == 0 && stepped && problem.refine_levels > 0;
      e = compare_rules(problem, sigma, built.a, built.b, integrator_, coarse_integrator_,
                        scratch_->a, m_b.data(), loss_b.data(),
                        may_be_unconfirmed ? std::function<void()>(riders_if_unconfirmed)
                                           : std::function<void()>());
    }
    if (e.status != IntegrationStatus::done) return e;
    widen_to_panel_difference(rules, built, e);
    // Near a transition the quadrature error of a level behaves like noise, and A and B can
    // still agree by chance: the last two changes of each reported value between levels guard
    // its estimate, and so does the previous level's estimate divided by
    // max_error_reduction_per_level: an estimate that falls faster may be chance (D = 5,
    // uniform disorder, σ = 2.2: 1.5e-3 after 1.3e-2 at the level before, actual error
    // 3.8e-3, tests/e2e/test_infinite_reference.py; D = 3 at σ = 4.47 needs the change two
    // levels back, bench/validate_infinite.py).
    for (std::size_t w = 0; w < previous.size(); ++w) {
      const double change = std::abs(e.order_parameter[w] - previous[w].value);
      if (level > 0)
        e.order_parameter_error[w] =
            std::max({e.order_parameter_error[w], change, previous[w].change,
                      previous[w].error / max_error_reduction_per_level});
      previous[w] = {e.order_parameter[w], level > 0 ? change : 0.0, e.order_parameter_error[w]};
    }
    // A first level whose panel ends at steps in Δ moved rule A by more than the accuracy is at a
    // hard point, where A and B can agree by chance (D = 5, uniform disorder, σ = 2.2, t_end = 5:
    // A moved by 2e-2, then A and B were 5e-4 apart and both 1.8e-3 off, in φ(0)). Its estimate
    // is not trusted until the next level, whose change from this one guards it, confirms it;
    // that level's result replaces it.
    const double moved = stepped ? largest_window_change(problem, pass_m, scratch_->a.m) : 0.0;
    const bool unconfirmed = level == 0 && moved > problem.accuracy;
    if (best.order_parameter.empty() || best_unconfirmed || e.worst_error() < best.worst_error()) {
      best = e;
      best_unconfirmed = unconfirmed;
      best_moved = moved;
      std::copy(m_b.begin(), m_b.end(), m_trace);
      std::copy(loss_b.begin(), loss_b.end(), loss_trace);
    }
    if (e.worst_error() <= problem.accuracy && !unconfirmed) break;
    if (level == problem.refine_levels) break;
    // The riders serve only the refinement after a level, and only between disorder panels
    // (bimodal disorder refines φ(0) alone). The next B carries them at once when the guard
    // alone keeps the next level from meeting the accuracy; otherwise that level may be the
    // last (D = 6 and 8 inside the window, most points at the onset of order), and B runs
    // again with them only if it is not: 35 000 nodes of B instead of 62 000 at D = 6, σ = 10.
    const bool bimodal = ends.empty();
    riders_at_once = !bimodal && level + 1 < problem.refine_levels &&
                     e.worst_error() / max_error_reduction_per_level > problem.accuracy;
    if (!b_has_riders && !bimodal) {  // B again, with the riders (its traces are kept already)
      rules.build_b(split, true, built);
      const auto status_b = integrate_population(problem, sigma, built.b, integrator_, m_b.data(),
                                                 loss_b.data(), problem.mean_disorder)
                                .status;
      if (status_b != IntegrationStatus::done) break;
    }
    const Refinement plan = plan_refinement(rules, built);
    const int init_growth = ends.empty() ? max_init_panel_growth_bimodal : max_init_panel_growth;
    const bool init_capped = init_panels >= init_growth * problem.rule.init_panels;
    if (plan.ends.empty() && init_capped) break;  // bimodal: nothing left to refine
    if (!plan.ends.empty()) ends = plan.ends;
    if (plan.init_states && !init_capped) init_panels *= 2;
    split_nodes = rules.a.disorder().nodes;
  }
  // An unconfirmed level still the best when the budget ends (--refine-levels 0, or B failed
  // with its riders) is not trusted: its estimate is at least how far the panel ends at the
  // steps in Δ moved A (D = 5, σ = 2.2 above: 2e-2, so not_converged instead of done with 5e-4).
  if (best_unconfirmed)
    for (double& error : best.order_parameter_error) error = std::max(error, best_moved);
  return best;
}

IntegrationStatus PopulationSolver::start_chain(const PopulationProblem& problem, double sigma,
                                                std::vector<Separatrices>& split) {
  chain_ = std::make_unique<Chain>(
      Chain{RulePair(problem, base_disorder_ends(problem.disorder, problem.rule.disorder_nodes),
                     problem.rule.init_panels, problem.rule.init_order),
            {}});
  choose_integrators(problem, sigma, integrator_, coarse_integrator_);
  auto status = IntegrationStatus::done;
  split =
      locate_separatrix(problem, chain_->rules.a, sigma,
                        std::vector<Separatrices>(chain_->rules.a.disorder_count(), no_separatrix),
                        integrator_, status);
  if (status == IntegrationStatus::done) chain_->rules.build(split, false, chain_->built);
  return status;
}

PopulationEstimate PopulationSolver::continue_chain(const PopulationProblem& problem, double sigma,
                                                    double* m_trace, double* loss_trace) {
  choose_integrators(problem, sigma, integrator_, coarse_integrator_);
  PopulationEstimate e =
      compare_rules(problem, sigma, chain_->built.a, chain_->built.b, integrator_,
                    coarse_integrator_, scratch_->a, m_trace, loss_trace);
  if (e.status == IntegrationStatus::done)
    widen_to_panel_difference(chain_->rules, chain_->built, e);
  return e;
}

}  // namespace cdl::theory
