// The N → ∞ population solver (docs/physics.md §4): the time average of ⟨m⟩ and of the loss at
// one coupling, computed by the population quadrature (theory/population.hpp) with an error
// estimate, refined adaptively until the estimate meets a requested accuracy.
//
// Two rules are compared at every level: rule A, whose populations are split at the
// separatrices, and rule B with every disorder panel bisected and every initial-state panel cut
// in two. B's result is reported; its error estimate is the sum over A's disorder panels of
// |A − B| in that panel, both integrated self-consistently (so that panels' errors of opposite
// sign cannot cancel), guarded across refinement levels (solve_point). Where to refine is decided
// under one m(t): A's nodes and B's disorder nodes with A's initial-state rule ride along B's
// population with zero weight, which separates each disorder panel's error in Δ from the error in
// φ(0).
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/distribution.hpp"
#include "base/sample_window.hpp"
#include "theory/dopri5.hpp"
#include "theory/population.hpp"
#include "theory/population_integrator.hpp"

namespace cdl::theory {

// Rule A runs at tolerances (rtol, atol) this much looser than B, so that |A − B| also bounds
// B's time-stepping error.
inline constexpr double rule_a_tolerance_factor = 4;

// The separatrix search: zero-weight probes per bracket and pass (each pass narrows a bracket
// by probes − 1), passes at most (a bracket widened to the full range needs ~4), and the
// bracket width, as a fraction of φ(0)'s range, at which a separatrix is located.
inline constexpr int separatrix_probes = 24;
inline constexpr int separatrix_passes = 9;
inline constexpr double separatrix_resolution = 1e-5;

// A ghost step (units still passing the ghost of a lost well while ⟨m⟩ is measured) is split
// only if it is a real jump: the node's time-averaged state rises by at least ghost_rise over
// φ(0)'s range and one probe interval holds at least ghost_concentration of that rise.
inline constexpr double ghost_rise = 0.2;
inline constexpr double ghost_concentration = 0.5;

// The search for steps in Δ (units released from a transient well while ⟨m⟩ is measured, see
// population_solver.cpp): probes at disorder_step_scan points over the disorder panels' span in
// the first separatrix pass; an interval between two is a step when the state changes there by
// at least disorder_step_rise and by disorder_step_concentration times as much as in either
// neighbouring interval; at most max_disorder_steps of them, each then narrowed like a
// separatrix bracket down to disorder_step_resolution of the span. Every level searches again: a
// step next to an end placed at a step moves that end, another becomes a panel end unless one
// lies within disorder_step_gap of the panel's width.
inline constexpr int disorder_step_scan = 256;
inline constexpr double disorder_step_rise = 0.01;
inline constexpr double disorder_step_concentration = 3;
inline constexpr int max_disorder_steps = 8;
inline constexpr double disorder_step_resolution = 1e-4;
inline constexpr double disorder_step_gap = 0.01;

// Refinement planning: the disorder panels with the largest error are cut into
// disorder_panel_split equal parts until they hold refined_error_share of the total; the
// initial-state panels are doubled when their error is more than init_error_share of the disorder
// panels'. The initial-state panels grow at most max_init_panel_growth-fold (bimodal disorder,
// where φ(0) is all there is to refine: max_init_panel_growth_bimodal).
inline constexpr int disorder_panel_split = 2;
inline constexpr double refined_error_share = 0.5;
inline constexpr double init_error_share = 0.25;
inline constexpr int max_init_panel_growth = 16;
inline constexpr int max_init_panel_growth_bimodal = 256;

// At best a refinement level divides the error of a point by this: a level cuts the panels
// where the state jumps or kinks in Δ into disorder_panel_split parts, which at worst (a jump,
// O(h)) divides that error by as much. (Four parts and a guard of 4 took D = 5 at its onset from
// 8.6 to 2.7 s but D = 3 from 10 to 17 s, bench/RESULTS.md.)
inline constexpr double max_error_reduction_per_level = disorder_panel_split;

// Everything about an N → ∞ point but its coupling.
struct PopulationProblem {
  int depth = 0;
  double gamma = 0;
  base::Distribution disorder;       // Δ
  base::Distribution initial_state;  // φ(0)
  PopulationRule rule;               // the base rule
  double t_end = 0;
  std::vector<double> times;  // the sample times, 0 … t_end
  // The windows whose averages carry an error estimate, the measured half first.
  std::vector<base::SampleWindow> windows;
  double accuracy = 0;       // the target of every window's estimate of ⟨m⟩ (absolute)
  int refine_levels = 0;     // refinements at most per non-adiabatic point
  double mean_disorder = 0;  // Δ̄, in the effective loss
};

// A point's values per estimated window (PopulationProblem::windows): rule B's |average of m|
// and mean loss, and their estimates.
struct PopulationEstimate {
  IntegrationStatus status = IntegrationStatus::done;
  std::vector<double> order_parameter, order_parameter_error, loss, loss_error;
  std::int64_t steps = 0;  // B's accepted steps
  // The largest estimate of any window (infinite before any comparison).
  double worst_error() const;
};

class PopulationSolver {
 public:
  // `settings` are rule B's tolerances.
  explicit PopulationSolver(const Dopri5Settings& settings);
  ~PopulationSolver();
  PopulationSolver(PopulationSolver&&) noexcept;
  PopulationSolver& operator=(PopulationSolver&&) noexcept;
  // Populations longer than a chunk share their steps among `threads`.
  void set_threads(int threads);

  // A non-adiabatic point, refined until the estimate of every window is at most
  // problem.accuracy or problem.refine_levels refinements are spent; the level with the
  // smallest estimate is returned, its traces in m_trace and loss_trace (times.size() each).
  // base_split receives the base rule's separatrices. The point depends on nothing but its
  // coupling.
  PopulationEstimate solve_point(const PopulationProblem& problem, double sigma, double* m_trace,
                                 double* loss_trace, std::vector<Separatrices>& base_split);

  // An adiabatic chain: the base rule pair, split at the separatrices of the chain's first
  // coupling, carries its populations' states from coupling to coupling (the rules cannot
  // change mid-chain). start_chain locates the separatrices at the first coupling; each
  // continue_chain integrates both rules on at the next coupling.
  IntegrationStatus start_chain(const PopulationProblem& problem, double sigma,
                                std::vector<Separatrices>& split);
  PopulationEstimate continue_chain(const PopulationProblem& problem, double sigma, double* m_trace,
                                    double* loss_trace);

 private:
  struct Scratch;  // populations and traces, reused from point to point
  struct Chain;
  PopulationIntegrator integrator_, coarse_integrator_;  // rules B and A
  std::unique_ptr<Scratch> scratch_;
  std::unique_ptr<Chain> chain_;
};

}  // namespace cdl::theory
