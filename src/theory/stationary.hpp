// Stationary states of the all-to-all effective theory in the N → ∞ limit (docs/physics.md §4).
//
// A unit with disorder Δ in the mean field m sits at a root of its force
//     g(φ) = Δφ^D − φ^{2D+1} − (γ+σ)φ + σm,            m = ⟨φ⟩ self-consistently.
// g is linear in Δ, so for m ≠ 0 (and D ≥ 1) the roots of a unit are the preimages of Δ under
//     Δ(φ) = φ^{D+1} + (γ+σ)φ^{1−D} − σm φ^{−D},
// the disorder for which φ is a fixed point. Δ(φ) is monotone between its critical points (the
// real roots of (D+1)φ^{2D+1} + (γ+σ)(1−D)φ + Dσm, shared by every unit), so each monotone
// piece holds at most one root of each unit, found by safeguarded Newton, and a root is stable
// iff φ^D Δ'(φ) > 0. Averages over the disorder distribution are integrated piece by piece in Δ:
// inside a piece the chosen root is smooth in Δ, and the pieces' ends (a unit gaining or losing
// a well) are where Gauss rules would otherwise lose their order.
//
// Stability of a fixed point of the all-to-all system: the Jacobian −diag(aᵢ) + (σ/N) 1 1ᵀ,
// aᵢ = U''(φᵢ) + σ, has eigenvalues −aᵢ and the roots λ of the secular equation
// 1 = σ ⟨1/(aᵢ + λ)⟩, so with every aᵢ > 0 a finite population is linearly stable iff
// σ⟨1/a⟩ < 1. In the N → ∞ limit a branch that assigns wells by a rule (the largest well) has
// a density of units at the Δ where their well is born or dies (a saddle-node, a = 0 there),
// and a shift of m moves that Δ: units switch wells. The self-consistency map M(m) = ⟨φ*(m)⟩
// then has the slope
//     ∂M/∂m = σ⟨1/a⟩ + Σ_b ± p(Δ_b) φ*(Δ_b) ∂Δ_b/∂m,      ∂Δ_b/∂m = −σ φ_b^{−D},
// summed over the ends Δ_b of the integration ranges (φ_b the saddle-node whose critical value
// Δ_b is, + at an upper end, − at a lower one). A point is stable iff every a > 0 and
// ∂M/∂m < 1: a push of m away from the branch is amplified by the map when ∂M/∂m > 1. Folds of
// a branch are exactly where ∂M/∂m = 1.
#pragma once

#include <atomic>
#include <limits>
#include <vector>

#include "base/distribution.hpp"
#include "base/stop_request.hpp"

namespace cdl::theory {

struct UnitModel {
  int depth = 1;
  double gamma = 0.001;
  // U(φ) = (φ^{2D+2}/2 − Δφ^{D+1})/(D+1) + γφ²/2, the local potential.
  double potential(double disorder, double phi) const;
  // U''(φ) = (2D+1)φ^{2D} − DΔφ^{D−1} + γ.
  double curvature(double disorder, double phi) const;
};

// The curve Δ(φ) at given (σ, m ≠ 0) cut into monotone pieces.
class FixedPointCurve {
 public:
  struct Piece {
    double phi_lo, phi_hi;      // may be ±∞ or ±0 (the pole)
    double delta_lo, delta_hi;  // the range of Δ over the piece (±∞ allowed)
    bool increasing;
    bool stable;  // roots on this piece are stable
  };
  FixedPointCurve(const UnitModel& model, double sigma, double m);
  double disorder_at(double phi) const;
  double slope_at(double phi) const;  // dΔ/dφ
  const std::vector<Piece>& pieces() const { return pieces_; }
  // The root of Δ(φ) = disorder on `piece`; the disorder must lie in its range. A `guess`
  // inside the piece (a neighbouring unit's root) saves iterations.
  double root_on(const Piece& piece, double disorder,
                 double guess = std::numeric_limits<double>::quiet_NaN()) const;
  // All roots for a unit, increasing in φ.
  std::vector<double> fixed_points(double disorder) const;

 private:
  int depth_;
  double stiffness_, field_;  // γ + σ and σm
  std::vector<Piece> pieces_;
};

// Averages over the disorder distribution: normal (piecewise Gauss–Legendre in Δ over
// μ ± 9 std), uniform (over its support), bimodal (two point masses).
class DisorderAverage {
 public:
  DisorderAverage(const base::Distribution& disorder, int order);
  // Σ over integration nodes of w · f(Δ) for Δ restricted to [lo, hi]; the rule is split at
  // lo and hi so that f may be discontinuous there.
  template <class F>
  void for_each_node(double lo, double hi, F f) const;
  // The probability density at Δ (zero for bimodal disorder, which has no density).
  double density(double delta) const;
  double support_lo() const { return support_lo_; }
  double support_hi() const { return support_hi_; }
  const base::Distribution& distribution() const { return disorder_; }

 private:
  base::Distribution disorder_;
  double support_lo_, support_hi_, panel_width_;
  std::vector<double> unit_nodes_, unit_weights_;  // Gauss–Legendre on [0, 1]
};

// One evaluation of a branch's self-consistency map at (σ, m).
struct MeanField {
  double mean = 0;           // M(σ, m) = ⟨φ⟩
  double secular = 0;        // σ⟨1/a⟩ = ∂M/∂m at fixed occupation
  double switching = 0;      // ∂M/∂m from units switching wells at their saddle-node
  double min_stiffness = 0;  // min of a = U''(φ) + σ over occupied wells
  double lyapunov = 0;       // H per unit: ⟨U(φ)⟩ + (σ/2)⟨(φ − m)²⟩
  double sigma_slope = 0;    // ∂M/∂σ, wells and switching units (ordered_field only)
  double slope() const { return secular + switching; }  // ∂M/∂m
  bool stable() const { return min_stiffness > 0 && slope() < 1; }
};

struct StationaryPoint {
  double sigma = 0, m = 0;
  bool stable = false;
  double lyapunov = 0;
};

struct Branch {
  std::vector<StationaryPoint> points;  // in continuation order
  std::vector<StationaryPoint> folds;   // turning points in σ
};

struct CriticalCouplings {
  double sigma_c1;  // the history branch joins the ordered one: onset of collective learning
  double sigma_c2;  // the ordered branch folds back or reaches m = 0: order lost
  double sigma_coexistence;  // stable ordered and symmetric branches have equal H per unit
};

class StationarySolver {
 public:
  StationarySolver(UnitModel model, const base::Distribution& disorder,
                   const base::Distribution& initial_state, int quadrature_order,
                   int history_nodes);

  // Every unit in its largest-φ well (for m > 0 the well whose sign matches m).
  MeanField ordered_field(double sigma, double m) const;
  // The fold of the ordered branch near (σ, m): m = M(σ, m) and ∂M/∂m = 1, by Newton.
  StationaryPoint ordered_fold(double sigma, double m) const;
  // Pseudo-arclength continuation of the ordered branch in (log σ, m) from σ_min, through
  // folds, until σ leaves [σ_min, σ_max] or m reaches 0. `step` is the largest arclength step.
  Branch ordered(double sigma_min, double sigma_max, double step) const;
  // m = 0, every unit at φ = 0 (a fixed point of every unit when m = 0 and D ≥ 1).
  Branch symmetric(const std::vector<double>& sigma) const;
  // A zero-temperature sweep up the grid: units start in the well of their initial state and
  // change well only when the mean field removes theirs.
  Branch history(const std::vector<double>& sigma, double* sigma_joined) const;

  CriticalCouplings critical(const Branch& ordered, const Branch& symmetric,
                             double sigma_joined) const;

  // Once `stop` is requested (an interrupt, or another depth failed), the long loops throw
  // cdl::Interrupted.
  void set_stop_request(const base::StopRequest* stop) { stop_ = stop; }

 private:
  void check_stop() const;
  const base::StopRequest* stop_ = nullptr;
  StationaryPoint symmetric_point(double sigma) const;
  // The zero-temperature sweep of history(): its population, P(φ(0) > φ), the mean field of the
  // units' current wells (moving units whose well vanished), and the relaxation of m at σ.
  struct HistoryState;
  HistoryState history_start() const;
  double initial_above(double phi) const;
  MeanField wells_field(HistoryState& state, double sigma, bool choose_initial_wells) const;
  MeanField relax(HistoryState& state, double sigma, bool choose_initial_wells) const;
  UnitModel model_;
  DisorderAverage average_;
  base::Distribution initial_state_;
  int history_nodes_;
};

}  // namespace cdl::theory
