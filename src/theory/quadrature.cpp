#include "theory/quadrature.hpp"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>

namespace cdl::theory {

namespace {

// Golub–Welsch for a symmetric Jacobi matrix with zero diagonal.
QuadratureRule from_jacobi(const Eigen::VectorXd& off_diagonal, double shift, double scale) {
  const auto n = off_diagonal.size() + 1;
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver;
  solver.computeFromTridiagonal(Eigen::VectorXd::Zero(n), off_diagonal, Eigen::ComputeEigenvectors);
  QuadratureRule rule;
  double total = 0;
  for (Eigen::Index k = 0; k < n; ++k) {
    rule.nodes.push_back(shift + scale * solver.eigenvalues()[k]);
    const double v = solver.eigenvectors()(0, k);
    rule.weights.push_back(v * v);
    total += v * v;
  }
  for (double& w : rule.weights) w /= total;
  return rule;
}

}  // namespace

QuadratureRule gauss_hermite(int order, double mean, double std) {
  Eigen::VectorXd beta(order - 1);
  for (int k = 1; k < order; ++k) beta[k - 1] = std::sqrt(static_cast<double>(k));
  return from_jacobi(beta, mean, std);
}

QuadratureRule gauss_legendre(int order, double lo, double hi) {
  Eigen::VectorXd beta(order - 1);
  for (int k = 1; k < order; ++k) beta[k - 1] = k / std::sqrt(4.0 * k * k - 1.0);
  return from_jacobi(beta, 0.5 * (lo + hi), 0.5 * (hi - lo));
}

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

double normal_quantile(double p) {
  // Newton on the cumulative distribution, steps clipped so that it cannot overshoot far.
  double x = 0;
  for (int it = 0; it < 200; ++it) {
    const double pdf = std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI);
    const double step = (normal_cdf(x) - p) / std::max(pdf, 1e-300);
    x -= std::clamp(step, -1.0, 1.0);
    if (std::abs(step) < 1e-14) break;
  }
  return x;
}

std::vector<double> normal_panel_ends(int panels) {
  const double u_lo = normal_cdf(-6), u_hi = normal_cdf(6);
  std::vector<double> ends;
  for (int p = 0; p <= panels; ++p) {
    const double z = normal_quantile(u_lo + (u_hi - u_lo) * p / panels);
    // Tail panels are cut to at most half a standard deviation: few units, but features there
    // (wells appearing, separatrices leaving the initial range) still need resolving.
    if (p > 0)
      for (int k = 1, pieces = static_cast<int>(std::ceil((z - ends.back()) / 0.5)); k < pieces;
           ++k)
        ends.push_back(ends.back() + (z - ends.back()) / (pieces - k + 1));
    ends.push_back(z);
  }
  return ends;
}

}  // namespace cdl::theory
