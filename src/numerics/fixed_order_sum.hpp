// Sums whose rounding does not depend on the SIMD width the compiler targets. Eigen's
// reductions associate by packet size (2 lanes with SSE2, 8 with AVX-512), so the same source
// would give different bits on different machines; here the association is written out:
// eight interleaved partial sums, combined pairwise. Compilers still vectorise the lanes.
#pragma once

#include <Eigen/Core>

namespace cdl::numerics {

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

}  // namespace cdl::numerics
