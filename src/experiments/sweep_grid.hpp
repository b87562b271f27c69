// What `cdl theory` and `cdl micro` share: the grid of points (protocol × depth × realization ×
// σ), the horizons they are observed at, and the inputs every point of the grid shares.
#pragma once

#include <cstdint>
#include <vector>

#include "base/distribution.hpp"
#include "coupling/graph.hpp"
#include "experiments/vocabulary.hpp"

namespace cdl::experiments {

struct SweepGrid {
  int runs = 1;  // realizations of the quenched inputs
  std::vector<int> depths{0, 1, 2};
  std::vector<double> sigma;
  std::vector<Protocol> protocols{Protocol::nonadiabatic};
  // Observation horizons as indices k ≥ 1 of the recorded samples, increasing (empty: the last
  // sample alone); each experiment says which window of samples a horizon averages over.
  std::vector<int> horizon_samples;

  double gamma = 0.001;              // the non-convexity γ (docs/physics.md §1)
  base::Distribution initial_state;  // φ_i(0), uniform(−1.7, 2.3)
  coupling::Topology topology;
  std::uint64_t seed = 1;

  // Chains: one per protocol, depth and realization.
  long chains() const {
    return static_cast<long>(protocols.size() * depths.size()) * static_cast<long>(runs);
  }
};

}  // namespace cdl::experiments
