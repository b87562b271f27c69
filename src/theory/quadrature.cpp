#include "theory/quadrature.hpp"

#include <Eigen/Eigenvalues>
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

}  // namespace cdl::theory
