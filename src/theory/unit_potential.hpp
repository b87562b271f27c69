// One unit's local potential U(φ) = (φ^{2D+2}/2 − Δφ^{D+1})/(D+1) + γφ²/2 (docs/physics.md §2)
// and its derivatives, written once for the dynamics, its Jacobian, the Lyapunov function and
// the stationary theory. `Depth` is an int, or std::integral_constant<int, D> where a loop over
// units should unroll the powers.
#pragma once

namespace cdl::theory {

// x^n by repeated multiplication, n ≥ 0 (exact for the polynomial terms, and vectorisable).
inline double power_of(double x, int n) {
  double p = 1;
  for (int k = 0; k < n; ++k) p *= x;
  return p;
}

// U(φ).
template <class Depth>
double unit_potential(Depth depth, double gamma, double disorder, double phi) {
  const int d = depth;
  const double p = power_of(phi, d + 1);  // φ^{D+1}
  return (0.5 * p * p - disorder * p) / (d + 1) + 0.5 * gamma * phi * phi;
}

// −U'(φ) = Δφ^D − φ^{2D+1} − γφ, the local force.
template <class Depth>
double unit_force(Depth depth, double gamma, double disorder, double phi) {
  const int d = depth;
  const double p = power_of(phi, d);  // φ^D
  return p * (disorder - p * phi) - gamma * phi;
}

// U''(φ) = (2D+1)φ^{2D} − DΔφ^{D−1} + γ.
template <class Depth>
double unit_curvature(Depth depth, double gamma, double disorder, double phi) {
  const int d = depth;
  const double below = power_of(phi, d - 1);    // φ^{D−1} (1 for D = 0, where it is unused)
  const double p = d == 0 ? 1.0 : below * phi;  // φ^D
  const double drive = d == 0 ? 0.0 : d * disorder * below;
  return ((2 * d + 1) * p * p - drive) + gamma;
}

}  // namespace cdl::theory
