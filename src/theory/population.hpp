// The N → ∞ population of the all-to-all effective theory as a quadrature over the joint
// distribution of disorder Δ and initial state φ(0) (docs/physics.md §4): nodes (Δ_i, φ_i(0)) with
// weights w_i summing to one evolve under the weighted mean field m = Σ w_i φ_i.
//
// Δ is integrated by Gauss–Legendre panels of a few points each, weighted by the disorder
// density (panels equal in probability for normal disorder, equal in width for uniform, the two
// atoms of bimodal disorder). The panels are given by their ends, so that a rule can be refined
// where the integrand is steep by bisecting some panels (adaptive refinement, sweep/). For each
// Δ node the initial states are integrated by Gauss–Legendre panels over the support of φ(0).
// A unit's state at time t jumps steeply at one initial state — the separatrix, whose path
// reaches the unstable root at t (a scalar flow is monotone in its initial state, so there is
// one) — and Gauss rules lose their order across it, so the panels are split there. The
// separatrix is located with zero-weight probe nodes that ride along with the population (they
// feel m(t) without changing it).
#pragma once

#include <Eigen/Core>
#include <array>
#include <limits>
#include <vector>

#include "base/distribution.hpp"
#include "theory/quadrature.hpp"

namespace cdl::theory {

struct PopulationRule {
  int disorder_nodes = 32;  // points in Δ (panels of 4)
  int init_panels = 4;      // Gauss–Legendre panels over the support of φ(0)
  int init_order = 6;       // points per panel
};

// Points per disorder panel.
inline constexpr int disorder_panel_order = 4;

// A unit has at most three wells (odd D ≥ 3 and Δ > 0: one near 0 and one on either side), so
// at most two separatrices in φ(0). [0]: between the two outermost wells on the side of larger
// φ (for two wells, the only one); [1]: between the lowest well and the next (three wells
// only). NaN where there is none.
inline constexpr int max_separatrices = 2;
using Separatrices = std::array<double, max_separatrices>;
inline constexpr Separatrices no_separatrix{std::numeric_limits<double>::quiet_NaN(),
                                            std::numeric_limits<double>::quiet_NaN()};

// The ends of the base rule's disorder panels in the coordinate of the distribution (z = (Δ −
// mean)/std for normal, Δ for uniform; empty for bimodal): `disorder_nodes`/4 panels.
std::vector<double> base_disorder_ends(const base::Distribution& disorder, int disorder_nodes);

class PopulationQuadrature {
 public:
  // The base rule of `rule`.
  PopulationQuadrature(const base::Distribution& disorder, const base::Distribution& init,
                       PopulationRule rule);
  // Disorder panels with the given ends (sorted, in the distribution's coordinate);
  // `init_subdivision` cuts every initial-state panel, the graded ones at the separatrix
  // included, into that many equal parts.
  PopulationQuadrature(const base::Distribution& disorder, const base::Distribution& init,
                       const std::vector<double>& disorder_ends, int init_panels, int init_order,
                       int init_subdivision = 1);

  int disorder_count() const { return static_cast<int>(disorder_.nodes.size()); }
  const QuadratureRule& disorder() const { return disorder_; }
  const std::vector<double>& disorder_ends() const { return disorder_ends_; }
  // Δ at a point of the panels' coordinate (normal: mean + std · z; uniform: itself).
  double disorder_at(double coordinate) const { return origin_ + scale_ * coordinate; }
  // The panel of disorder node j (bimodal: the atom).
  int panel_of(int j) const { return disorder_ends_.empty() ? j : j / disorder_panel_order; }
  int panel_count() const {
    return disorder_ends_.empty() ? disorder_count() : static_cast<int>(disorder_ends_.size()) - 1;
  }
  double init_lo() const { return init_lo_; }
  double init_hi() const { return init_hi_; }

  // Population nodes, Δ node by Δ node, with the φ(0) panels of node j also split at its
  // separatrices split[j] (NaN: none). `node_of` (when given) receives the Δ node of each
  // population node.
  void build(const std::vector<Separatrices>& split, Eigen::ArrayXd& disorder,
             Eigen::ArrayXd& initial_state, Eigen::ArrayXd& weight,
             std::vector<int>* node_of = nullptr) const;

 private:
  double init_density(double phi) const;
  QuadratureRule disorder_;
  std::vector<double> disorder_ends_;
  double origin_ = 0, scale_ = 1;  // Δ = origin_ + scale_ · coordinate
  base::Distribution init_;
  int init_panels_;
  int init_subdivision_;
  double init_lo_, init_hi_;
  QuadratureRule panel_;  // Gauss–Legendre on [0, 1]
};

}  // namespace cdl::theory
