// Coupling graphs and the diffusive coupling (σ/N) Σ_j A_ij (x_j − x_i).
#include <catch2/catch.hpp>
#include <set>

#include "base/errors.hpp"
#include "base/random.hpp"
#include "coupling/graph.hpp"

using cdl::coupling::CouplingGraph;
using cdl::coupling::Topology;
using cdl::coupling::TopologyKind;
using Array = Eigen::ArrayXd;

namespace {

Array random_state(int n) {
  const cdl::base::CounterRng rng(42, cdl::base::Purpose::initial_state, 0);
  Array x(n);
  for (int i = 0; i < n; ++i) x[i] = 4 * rng.uniform(static_cast<std::uint64_t>(i), 0) - 2;
  return x;
}

std::vector<Topology> every_topology() {
  return {{TopologyKind::complete, 0, 0},
          {TopologyKind::erdos_renyi, 0, 0.15},
          {TopologyKind::watts_strogatz, 4, 0.3},
          {TopologyKind::ring, 6, 0},
          {TopologyKind::star, 0, 0}};
}

}  // namespace

TEST_CASE("the coupling term sums to zero over units on every graph") {
  const int n = 150;
  const Array x = random_state(n);
  for (const auto& topology : every_topology()) {
    const CouplingGraph graph = CouplingGraph::draw(topology, n, 17);
    Array coupling = Array::Zero(n);
    graph.add_coupling(3.7, x, coupling);
    INFO("topology " << cdl::coupling::to_string(topology));
    CHECK(std::abs(coupling.sum()) < 1e-12 * coupling.abs().sum());
    CHECK(coupling.abs().maxCoeff() > 0);
  }
}

TEST_CASE("the all-to-all fast path equals the explicit complete graph") {
  const int n = 200;
  const Array x = random_state(n);
  std::vector<std::pair<int, int>> all_pairs;
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j) all_pairs.emplace_back(i, j);
  const CouplingGraph explicit_graph = CouplingGraph::from_edges(n, all_pairs);
  const CouplingGraph fast = CouplingGraph::complete(n);
  REQUIRE_FALSE(explicit_graph.is_complete());
  REQUIRE(fast.is_complete());
  Array a = Array::Zero(n), b = Array::Zero(n);
  fast.add_coupling(2.3, x, a);
  explicit_graph.add_coupling(2.3, x, b);
  CHECK((a - b).abs().maxCoeff() < 1e-13);
  CHECK(fast.coupling_energy(2.3, x) ==
        Approx(explicit_graph.coupling_energy(2.3, x)).epsilon(1e-12));
  CHECK(fast.edge_count() == explicit_graph.edge_count());
}

TEST_CASE("graphs have the structure their names promise") {
  const int n = 100;
  SECTION("ring:K links each unit to its K nearest neighbours") {
    const CouplingGraph ring = CouplingGraph::draw({TopologyKind::ring, 4, 0}, n, 1);
    for (int i = 0; i < n; ++i) {
      const auto nb = ring.neighbours(i);
      CHECK(std::set<int>(nb.begin(), nb.end()) ==
            std::set<int>{(i + 1) % n, (i + 2) % n, (i + n - 1) % n, (i + n - 2) % n});
    }
  }
  SECTION("star: one hub linked to every other unit") {
    const CouplingGraph star = CouplingGraph::draw({TopologyKind::star, 0, 0}, n, 1);
    CHECK(star.neighbours(0).size() == static_cast<std::size_t>(n - 1));
    for (int i = 1; i < n; ++i) CHECK(star.neighbours(i) == std::vector<int>{0});
  }
  SECTION("Watts-Strogatz rewiring keeps the edge count N K / 2 and the graph simple") {
    const CouplingGraph ws = CouplingGraph::draw({TopologyKind::watts_strogatz, 6, 0.5}, n, 1);
    CHECK(ws.edge_count() == n * 6 / 2);
    const CouplingGraph ring = CouplingGraph::draw({TopologyKind::ring, 6, 0}, n, 1);
    int changed = 0;
    for (int i = 0; i < n; ++i) changed += ws.neighbours(i) != ring.neighbours(i);
    CHECK(changed > n / 2);
  }
  SECTION("Erdős–Rényi has about p N (N−1) / 2 edges") {
    const CouplingGraph er = CouplingGraph::draw({TopologyKind::erdos_renyi, 0, 0.2}, n, 1);
    const double expected = 0.2 * n * (n - 1) / 2, std = std::sqrt(expected * 0.8);
    CHECK(std::abs(er.edge_count() - expected) < 5 * std);
  }
  SECTION("every graph is undirected, without self-loops, and a function of its key") {
    for (const auto& topology : every_topology()) {
      const CouplingGraph g = CouplingGraph::draw(topology, n, 5);
      const CouplingGraph same = CouplingGraph::draw(topology, n, 5);
      for (int i = 0; i < n; ++i) {
        const auto nb = g.neighbours(i);
        CHECK(nb == same.neighbours(i));
        for (int j : nb) {
          CHECK(j != i);
          const auto back = g.neighbours(j);
          CHECK(std::find(back.begin(), back.end(), i) != back.end());
        }
      }
    }
  }
}

TEST_CASE("topology strings parse and bad ones name the option") {
  CHECK(cdl::coupling::parse_topology("ws:4:0.1", "topology").neighbours == 4);
  CHECK(cdl::coupling::parse_topology("er:0.3", "topology").probability == 0.3);
  for (const char* bad : {"er", "er:1.5", "ws:4", "ring:x", "lattice", "complete:1"})
    CHECK_THROWS_AS(cdl::coupling::parse_topology(bad, "topology"), cdl::InputError);
  CHECK_THROWS_AS(cdl::coupling::validate_topology({TopologyKind::ring, 3, 0}, 10, "topology"),
                  cdl::InputError);
  CHECK_THROWS_AS(cdl::coupling::validate_topology({TopologyKind::ring, 10, 0}, 10, "topology"),
                  cdl::InputError);
}
