// Sums whose rounding does not depend on the SIMD width the compiler targets. Eigen's
// reductions associate by packet size (2 lanes with SSE2, 8 with AVX-512), so the same source
// would give different bits on different machines; here the association is written out:
// eight interleaved partial sums, combined pairwise. Compilers still vectorise the lanes.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <vector>

namespace cdl::base {

// Σ_{i<n} term(i) in a fixed order.
template <class Term>
double fixed_order_sum(Eigen::Index n, Term term) {
  double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  Eigen::Index i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) lane[j] += term(i + j);
  for (int j = 0; i < n; ++i, ++j) lane[j] += term(i);
  return ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7]));
}

template <class Derived>
double fixed_order_sum(const Eigen::DenseBase<Derived>& x) {
  return fixed_order_sum(x.size(), [&](Eigen::Index i) { return x.derived().coeff(i); });
}

template <class Derived>
double fixed_order_mean(const Eigen::DenseBase<Derived>& x) {
  return fixed_order_sum(x) / static_cast<double>(x.size());
}

// Σ w_i x_i in the same fixed order: the mean of x under weights w summing to one.
template <class A, class B>
double fixed_order_weighted_mean(const Eigen::DenseBase<A>& x, const Eigen::DenseBase<B>& w) {
  return fixed_order_sum(
      x.size(), [&](Eigen::Index i) { return w.derived().coeff(i) * x.derived().coeff(i); });
}

// Long arrays are cut into chunks of this many elements; threads share whole chunks.
inline constexpr Eigen::Index sum_chunk = 4096;
// Below this many elements one thread does it all: a parallel region costs a few
// microseconds, as much as a pass over ~30 000 states (bench/RESULTS.md, issue 13).
inline constexpr Eigen::Index parallel_min_size = 8 * sum_chunk;

// Σ_{i<n} term(i) as fixed-order sums over chunks of sum_chunk, added in chunk order: the same
// bits for any thread count, and equal to fixed_order_sum when n ≤ sum_chunk. `threads` > 1
// share the chunks when n ≥ parallel_min_size (call it outside any parallel region).
template <class Term>
double chunked_sum(Eigen::Index n, Term term, int threads = 1) {
  if (n <= sum_chunk) return fixed_order_sum(n, term);
  const Eigen::Index chunks = (n + sum_chunk - 1) / sum_chunk;
  thread_local std::vector<double> partial;  // grows once, then the sum allocates nothing
  if (static_cast<Eigen::Index>(partial.size()) < chunks)
    partial.resize(static_cast<std::size_t>(chunks));
  double* part = partial.data();
  const auto chunk_sum = [&](Eigen::Index c) {
    const Eigen::Index first = c * sum_chunk;
    part[c] = fixed_order_sum(std::min(sum_chunk, n - first),
                              [&](Eigen::Index i) { return term(first + i); });
  };
  // No OpenMP construct on one thread: inside the driver's parallel region even an inactive
  // nested region costs a team.
  if (threads <= 1 || n < parallel_min_size) {
    for (Eigen::Index c = 0; c < chunks; ++c) chunk_sum(c);
  } else {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (Eigen::Index c = 0; c < chunks; ++c) chunk_sum(c);
  }
  double sum = 0;
  for (Eigen::Index c = 0; c < chunks; ++c) sum += part[c];
  return sum;
}

// body(first, size) over consecutive chunks of [0, n), shared among `threads` threads when n
// is at least parallel_min_size (else one call for the whole range).
template <class Body>
void for_chunks(Eigen::Index n, int threads, Body body) {
  if (threads <= 1 || n < parallel_min_size) {
    body(Eigen::Index{0}, n);
    return;
  }
  const Eigen::Index chunks = (n + sum_chunk - 1) / sum_chunk;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (Eigen::Index c = 0; c < chunks; ++c)
    body(c * sum_chunk, std::min(sum_chunk, n - c * sum_chunk));
}

}  // namespace cdl::base
