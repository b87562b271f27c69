// The N → ∞ population of the all-to-all effective theory as a quadrature over the joint
// distribution of disorder Δ and initial state φ(0) (MODEL.md §4): nodes (Δ_i, φ_i(0)) with
// weights w_i summing to one evolve under the weighted mean field m = Σ w_i φ_i.
//
// Δ is integrated by a Gauss rule (Hermite for normal, Legendre for uniform disorder, the two
// atoms of bimodal disorder). For each Δ node the initial states are integrated by
// Gauss–Legendre panels over the support of φ(0). A unit's state at time t jumps steeply at
// one initial state — the separatrix, whose path reaches the unstable root at t (a scalar flow
// is monotone in its initial state, so there is one) — and Gauss rules lose their order across
// it, so the panels are split there. The separatrix is located with zero-weight probe nodes
// that ride along with the population (they feel m(t) without changing it).
#pragma once

#include <Eigen/Core>
#include <array>
#include <vector>

#include "sweep/distribution.hpp"
#include "theory/quadrature.hpp"

namespace cdl::theory {

struct PopulationRule {
  int disorder_nodes = 32;  // points in Δ (panels of 4 for normal disorder)
  int init_panels = 4;      // Gauss–Legendre panels over the support of φ(0)
  int init_order = 6;       // points per panel
};

class PopulationQuadrature {
 public:
  PopulationQuadrature(const sweep::Distribution& disorder, const sweep::Distribution& init,
                       PopulationRule rule);

  int disorder_count() const { return static_cast<int>(disorder_.nodes.size()); }
  const QuadratureRule& disorder() const { return disorder_; }
  double init_lo() const { return init_lo_; }
  double init_hi() const { return init_hi_; }

  // Population nodes, Δ node by Δ node, with the φ(0) panels of node j also split at split[j]
  // (NaN: not split), followed by `probes` zero-weight nodes per Δ node evenly spaced over
  // bracket[j] (both ends included).
  void build(const std::vector<double>& split, const std::vector<std::array<double, 2>>& bracket,
             int probes, Eigen::ArrayXd& disorder, Eigen::ArrayXd& initial_state,
             Eigen::ArrayXd& weight) const;

 private:
  double init_density(double phi) const;
  QuadratureRule disorder_;
  sweep::Distribution init_;
  PopulationRule rule_;
  double init_lo_, init_hi_;
  QuadratureRule panel_;  // Gauss–Legendre on [0, 1]
};

}  // namespace cdl::theory
