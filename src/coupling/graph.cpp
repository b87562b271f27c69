#include "coupling/graph.hpp"

#include <algorithm>
#include <set>

#include "base/errors.hpp"
#include "base/fixed_order_sum.hpp"
#include "base/parse.hpp"
#include "base/random.hpp"

namespace cdl::coupling {

Topology parse_topology(const std::string& text, const std::string& option) {
  const auto fields = base::split(text, ':');
  const std::string& kind = fields[0];
  Topology topology;
  const auto expect_fields = [&](std::size_t n, const char* form) {
    if (fields.size() != n) base::reject(option, text, std::string("expected ") + form);
  };
  if (kind == "complete") {
    expect_fields(1, "complete");
  } else if (kind == "star") {
    expect_fields(1, "star");
    topology.kind = TopologyKind::star;
  } else if (kind == "er") {
    expect_fields(2, "er:P");
    topology.kind = TopologyKind::erdos_renyi;
    topology.probability = base::parse_double(fields[1], option);
  } else if (kind == "ws") {
    expect_fields(3, "ws:K:P");
    topology.kind = TopologyKind::watts_strogatz;
    topology.neighbours = static_cast<int>(base::parse_integer(fields[1], option));
    topology.probability = base::parse_double(fields[2], option);
  } else if (kind == "ring") {
    expect_fields(2, "ring:K");
    topology.kind = TopologyKind::ring;
    topology.neighbours = static_cast<int>(base::parse_integer(fields[1], option));
  } else {
    base::reject(option, text, "expected complete, er:P, ws:K:P, ring:K or star");
  }
  if (topology.probability < 0 || topology.probability > 1)
    base::reject(option, text, "probability must lie in [0, 1]");
  return topology;
}

std::string to_string(const Topology& topology) {
  switch (topology.kind) {
    case TopologyKind::complete:
      return "complete";
    case TopologyKind::star:
      return "star";
    case TopologyKind::erdos_renyi:
      return "er:" + std::to_string(topology.probability);
    case TopologyKind::ring:
      return "ring:" + std::to_string(topology.neighbours);
    case TopologyKind::watts_strogatz:
      return "ws:" + std::to_string(topology.neighbours) + ":" +
             std::to_string(topology.probability);
  }
  return "?";
}

void validate_topology(const Topology& topology, int units, const std::string& option) {
  if (topology.kind != TopologyKind::ring && topology.kind != TopologyKind::watts_strogatz) return;
  const int k = topology.neighbours;
  if (k < 2 || k % 2 != 0 || k >= units)
    base::reject(option, to_string(topology),
                 "K must be even with 2 <= K < N = " + std::to_string(units));
}

CouplingGraph CouplingGraph::complete(int units) {
  CouplingGraph graph;
  graph.units_ = units;
  graph.complete_ = true;
  return graph;
}

CouplingGraph CouplingGraph::from_edges(int units, const std::vector<std::pair<int, int>>& edges) {
  std::vector<std::vector<int>> adjacency(units);
  for (const auto& [i, j] : edges) {
    adjacency[i].push_back(j);
    adjacency[j].push_back(i);
  }
  CouplingGraph graph;
  graph.units_ = units;
  graph.row_start_.assign(1, 0);
  graph.degree_.resize(units);
  for (int i = 0; i < units; ++i) {
    std::sort(adjacency[i].begin(), adjacency[i].end());
    graph.column_.insert(graph.column_.end(), adjacency[i].begin(), adjacency[i].end());
    graph.row_start_.push_back(static_cast<std::int64_t>(graph.column_.size()));
    graph.degree_[i] = static_cast<double>(adjacency[i].size());
  }
  return graph;
}

namespace {

// Ring lattice with K/2 neighbours per side whose clockwise edges are each rewired with
// probability p to a uniformly chosen unit, avoiding self-loops and duplicates (the
// Watts–Strogatz construction as networkx implements it).
std::vector<std::pair<int, int>> watts_strogatz_edges(int n, int k, double p,
                                                      const base::CounterRng& rng) {
  std::vector<std::set<int>> adjacency(n);
  for (int i = 0; i < n; ++i)
    for (int s = 1; s <= k / 2; ++s) {
      adjacency[i].insert((i + s) % n);
      adjacency[(i + s) % n].insert(i);
    }
  std::uint64_t draw = 0;
  for (int s = 1; s <= k / 2; ++s)
    for (int i = 0; i < n; ++i) {
      const int j = (i + s) % n;
      if (rng.uniform(static_cast<std::uint64_t>(i), draw++) >= p) continue;
      if (static_cast<int>(adjacency[i].size()) >= n - 1) continue;  // nowhere to go
      int target = i;
      while (target == i || adjacency[i].count(target))
        target = static_cast<int>(rng.uniform(static_cast<std::uint64_t>(i), draw++) * n);
      adjacency[i].erase(j);
      adjacency[j].erase(i);
      adjacency[i].insert(target);
      adjacency[target].insert(i);
    }
  std::vector<std::pair<int, int>> edges;
  for (int i = 0; i < n; ++i)
    for (int j : adjacency[i])
      if (i < j) edges.emplace_back(i, j);
  return edges;
}

}  // namespace

CouplingGraph CouplingGraph::draw(const Topology& topology, int units, std::uint64_t stream_key) {
  const base::CounterRng rng(stream_key, base::Purpose::graph, 0);
  std::vector<std::pair<int, int>> edges;
  switch (topology.kind) {
    case TopologyKind::complete:
      return complete(units);
    case TopologyKind::star:
      for (int j = 1; j < units; ++j) edges.emplace_back(0, j);
      break;
    case TopologyKind::erdos_renyi:
      for (int i = 0; i < units; ++i)
        for (int j = i + 1; j < units; ++j)
          if (rng.uniform(static_cast<std::uint64_t>(i), static_cast<std::uint64_t>(j)) <
              topology.probability)
            edges.emplace_back(i, j);
      break;
    case TopologyKind::ring:
      edges = watts_strogatz_edges(units, topology.neighbours, 0.0, rng);
      break;
    case TopologyKind::watts_strogatz:
      edges = watts_strogatz_edges(units, topology.neighbours, topology.probability, rng);
      break;
  }
  return from_edges(units, edges);
}

std::int64_t CouplingGraph::edge_count() const {
  if (complete_) return static_cast<std::int64_t>(units_) * (units_ - 1) / 2;
  return row_start_.back() / 2;
}

CouplingGraph CouplingGraph::of_realization(const Topology& topology, int units, std::uint64_t seed,
                                            int run) {
  if (topology.kind == TopologyKind::complete) return complete(units);
  const base::CounterRng stream(seed, base::Purpose::graph, static_cast<std::uint64_t>(run));
  return draw(topology, units, stream.key());
}

CouplingGraph CouplingGraph::weighted_complete(const Eigen::ArrayXd& weights) {
  CouplingGraph graph = complete(static_cast<int>(weights.size()));
  graph.weights_ = weights;
  return graph;
}

double CouplingGraph::mean_field(const Eigen::ArrayXd& x, int threads) const {
  if (weights_.size() == 0)
    return base::chunked_sum(
               x.size(), [&](Eigen::Index i) { return x[i]; }, threads) /
           static_cast<double>(x.size());
  return base::chunked_sum(
      x.size(), [&](Eigen::Index i) { return weights_[i] * x[i]; }, threads);
}

void CouplingGraph::add_coupling(double sigma, const Eigen::ArrayXd& x, Eigen::ArrayXd& out) const {
  if (complete_) {
    // Σ_{j≠i} (x_j − x_i) = N (m − x_i): the O(N) mean-field form.
    const double m = mean_field(x);
    out += sigma * (m - x);
    return;
  }
  const double scale = sigma / units_;
  for (int i = 0; i < units_; ++i) {
    double neighbour_sum = 0;
    for (std::int64_t e = row_start_[i]; e < row_start_[i + 1]; ++e) neighbour_sum += x[column_[e]];
    out[i] += scale * (neighbour_sum - degree_[i] * x[i]);
  }
}

double CouplingGraph::coupling_energy(double sigma, const Eigen::ArrayXd& x) const {
  if (complete_) {
    const double m = mean_field(x);
    return 0.5 * sigma * base::fixed_order_sum(x.size(), [&](Eigen::Index i) {
             const double w = weights_.size() == 0 ? 1.0 : weights_[i];
             return w * (x[i] - m) * (x[i] - m);
           });
  }
  double sum = 0;
  for (int i = 0; i < units_; ++i)
    for (std::int64_t e = row_start_[i]; e < row_start_[i + 1]; ++e) {
      const double d = x[i] - x[column_[e]];
      sum += d * d;
    }
  return sigma / (4.0 * units_) * sum;
}

std::pair<int, int> CouplingGraph::directed_edge(std::int64_t k) const {
  if (complete_) {  // row i holds the N − 1 pairs (i, j ≠ i)
    const auto i = static_cast<int>(k / (units_ - 1));
    const auto j = static_cast<int>(k % (units_ - 1));
    return {i, j < i ? j : j + 1};
  }
  const auto row = std::upper_bound(row_start_.begin(), row_start_.end(), k) - row_start_.begin();
  return {static_cast<int>(row - 1), column_[static_cast<std::size_t>(k)]};
}

std::vector<int> CouplingGraph::neighbours(int unit) const {
  if (complete_) {
    std::vector<int> all;
    for (int j = 0; j < units_; ++j)
      if (j != unit) all.push_back(j);
    return all;
  }
  return {column_.begin() + row_start_[unit], column_.begin() + row_start_[unit + 1]};
}

}  // namespace cdl::coupling
