// Coupling graphs and the diffusive coupling (σ/N) Σ_j A_ij (x_j − x_i).
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace cdl::coupling {

enum class TopologyKind { complete, erdos_renyi, watts_strogatz, ring, star };

// What the user asked for (`--topology`); the graph itself is drawn per realization.
struct Topology {
  TopologyKind kind = TopologyKind::complete;
  int neighbours = 0;        // ws:K:P and ring:K — K nearest neighbours in total (K/2 per side)
  double probability = 0.0;  // er:P edge probability, ws:K:P rewiring probability
};

// Parses complete | er:P | ws:K:P | ring:K | star; throws cdl::InputError naming `option`.
Topology parse_topology(const std::string& text, const std::string& option);
std::string to_string(const Topology& topology);
// Checks the topology fits N units (K even, 2 ≤ K < N); throws cdl::InputError.
void validate_topology(const Topology& topology, int units, const std::string& option);

// Undirected, unweighted graph on N units in compressed sparse row form. The complete graph
// is not stored: its coupling is σ(m − x_i), O(N) per evaluation.
class CouplingGraph {
 public:
  // The complete graph on `units` units.
  static CouplingGraph complete(int units);
  // Draws the topology's graph; the random draws are a function of `stream_key` only.
  static CouplingGraph draw(const Topology& topology, int units, std::uint64_t stream_key);
  // The graph of realization `run` of a sweep seeded with `seed`, as cdl theory and cdl micro
  // both draw it: the complete graph, or `topology` from the stream (seed, graph, run).
  static CouplingGraph of_realization(const Topology& topology, int units, std::uint64_t seed,
                                      int run);
  // The N → ∞ all-to-all population: nodes with weights summing to one, coupled to the
  // weighted mean field m = Σ w_i x_i (zero-weight nodes follow it without acting on it).
  static CouplingGraph weighted_complete(const Eigen::ArrayXd& weights);
  // An explicit undirected edge list (each pair once, i ≠ j).
  static CouplingGraph from_edges(int units, const std::vector<std::pair<int, int>>& edges);

  int units() const { return units_; }
  bool is_complete() const { return complete_; }
  // The nodes' weights of weighted_complete (empty for every other graph).
  const Eigen::ArrayXd& node_weights() const { return weights_; }
  std::int64_t edge_count() const;

  // out_i += (σ/N) Σ_j A_ij (x_j − x_i). Allocation-free.
  void add_coupling(double sigma, const Eigen::ArrayXd& x, Eigen::ArrayXd& out) const;
  // The same for vector-valued units, one column each, on the rows [first, first + rows) of
  // x and out (rows are independent, so blocks of them may go to different threads):
  // out.col(i) += (σ/N) Σ_j A_ij (x.col(j) − x.col(i)); `scratch` holds one column and only
  // those rows are used. Not for weighted populations.
  template <class Matrix, class Column>
  void add_coupling_rows(typename Matrix::Scalar sigma, const Matrix& x, Matrix& out,
                         Column& scratch, Eigen::Index first, Eigen::Index rows) const {
    using S = typename Matrix::Scalar;
    auto part = scratch.segment(first, rows);
    const auto column = [&](Eigen::Index j) { return x.col(j).segment(first, rows); };
    if (complete_) {
      // Σ_{j≠i} (x_j − x_i) = N (m − x_i).
      mean_of_rows(x, scratch, first, rows);
      for (Eigen::Index i = 0; i < x.cols(); ++i)
        out.col(i).segment(first, rows) += sigma * (part - column(i));
      return;
    }
    const S scale = sigma / static_cast<S>(units_);
    for (int i = 0; i < units_; ++i) {
      part.setZero();
      for (std::int64_t e = row_start_[i]; e < row_start_[i + 1]; ++e) part += column(column_[e]);
      out.col(i).segment(first, rows) += scale * (part - static_cast<S>(degree_[i]) * column(i));
    }
  }
  // Metropolis–Hastings mixing on the rows [first, first + rows): out.col(i) += σ Σ_j W_ij
  // (x.col(j) − x.col(i)) with W_ij = 1/(1 + max(d_i, d_j)) on edges, a doubly stochastic
  // matrix. On the complete graph W_ij = 1/N, and this is add_coupling_rows exactly.
  template <class Matrix, class Column>
  void add_mixing_rows(typename Matrix::Scalar sigma, const Matrix& x, Matrix& out, Column& scratch,
                       Eigen::Index first, Eigen::Index rows) const {
    using S = typename Matrix::Scalar;
    if (complete_) return add_coupling_rows(sigma, x, out, scratch, first, rows);
    auto part = scratch.segment(first, rows);
    const auto column = [&](Eigen::Index j) { return x.col(j).segment(first, rows); };
    for (int i = 0; i < units_; ++i) {
      part.setZero();
      for (std::int64_t e = row_start_[i]; e < row_start_[i + 1]; ++e) {
        const int j = column_[e];
        const S weight = S(1) / static_cast<S>(1 + std::max(degree_[i], degree_[j]));
        part += weight * (column(j) - column(i));
      }
      out.col(i).segment(first, rows) += sigma * part;
    }
  }
  // Calls f(j) for every neighbour j of unit i, in increasing order (allocation-free).
  template <class F>
  void for_each_neighbour(int i, F f) const {
    if (complete_) {
      for (int j = 0; j < units_; ++j)
        if (j != i) f(j);
      return;
    }
    for (std::int64_t e = row_start_[i]; e < row_start_[i + 1]; ++e) f(column_[e]);
  }
  // Metropolis–Hastings weight of edge (i, j): 1/(1 + max(d_i, d_j)); 1/N on the complete graph.
  double mixing_weight(int i, int j) const {
    return complete_ ? 1.0 / units_ : 1.0 / (1 + std::max(degree_[i], degree_[j]));
  }
  // Edges as ordered pairs: there are 2 × edge_count(); the k-th is (i, j) in unit order of i,
  // then of j (for randomized gossip: a uniform k is a uniform edge in a uniform direction).
  std::pair<int, int> directed_edge(std::int64_t k) const;
  // mean = the mean of the columns of x on the rows [first, first + rows), summed in unit
  // order (only those rows of `mean` are written).
  template <class Matrix, class Column>
  static void mean_of_rows(const Matrix& x, Column& mean, Eigen::Index first, Eigen::Index rows) {
    auto part = mean.segment(first, rows);
    part = x.col(0).segment(first, rows);
    for (Eigen::Index j = 1; j < x.cols(); ++j) part += x.col(j).segment(first, rows);
    part /= static_cast<typename Matrix::Scalar>(x.cols());
  }
  // m: the (weighted) mean of x over units.
  // Long populations are summed in chunks (base::chunked_sum), shared by `threads`.
  double mean_field(const Eigen::ArrayXd& x, int threads = 1) const;
  // (σ/(4N)) Σ_ij A_ij (x_i − x_j)², the coupling's part of the Lyapunov function (per unit,
  // (σ/2) Σ w_i (x_i − m)², for a weighted population).
  double coupling_energy(double sigma, const Eigen::ArrayXd& x) const;
  // Neighbour lists, for tests and diagnostics.
  std::vector<int> neighbours(int unit) const;

 private:
  int units_ = 0;
  bool complete_ = false;
  std::vector<std::int64_t> row_start_;  // CSR: neighbours of i are column_[row_start_[i]..]
  std::vector<int> column_;
  Eigen::ArrayXd degree_;
  Eigen::ArrayXd weights_;  // weighted_complete only
};

}  // namespace cdl::coupling
