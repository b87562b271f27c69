// Newton's method in one dimension, shared by the stationary theory (the fixed-point curve's
// roots, the ordered branch's fixed points, the coexistence coupling) and, through the
// fixed-point curve, the N → ∞ solver's unstable roots.
#pragma once

#include <algorithm>
#include <cmath>

namespace cdl::theory {

// Newton's iteration x ← x − step(x), step(x) = f(x)/f'(x), from x: at most max_iterations,
// stopping after a step smaller than `tolerance` in absolute value.
template <class Step>
double newton(const Step& step, double x, double tolerance, int max_iterations) {
  for (int it = 0; it < max_iterations; ++it) {
    const double dx = step(x);
    x -= dx;
    if (std::abs(dx) < tolerance) break;
  }
  return x;
}

// The root of an increasing f in a bracket [lo, hi] with f(lo) ≤ 0 ≤ f(hi) by Newton's method
// safeguarded by bisection (Numerical Recipes' rtsafe idea), from `guess` when it lies inside:
// converged when a step moves x by at most relative_tolerance · max(1, |x|).
template <class F, class Slope>
double bracketed_newton(const F& f, const Slope& slope, double lo, double hi, double guess,
                        double relative_tolerance = 1e-15, int max_iterations = 200) {
  double x = guess > lo && guess < hi ? guess : 0.5 * (lo + hi);
  for (int it = 0; it < max_iterations; ++it) {
    const double value = f(x);
    if (value == 0) return x;
    (value < 0 ? lo : hi) = x;
    const double df = slope(x);
    double next = df > 0 ? x - value / df : 0.5 * (lo + hi);
    if (!(next > lo && next < hi)) {
      // Converged: round-off puts Newton's step on (or just past) the end it has reached.
      // Bisecting on from there would take some 40 steps to meet the tolerance.
      for (const double end : {lo, hi})
        if (std::abs(next - end) <= relative_tolerance * std::max(1.0, std::abs(end))) return end;
      next = 0.5 * (lo + hi);
    }
    if (std::abs(next - x) <= relative_tolerance * std::max(1.0, std::abs(x))) return next;
    x = next;
  }
  return x;
}

}  // namespace cdl::theory
