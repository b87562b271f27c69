// Gaussian quadrature rules for averages over a distribution, by the Golub–Welsch algorithm
// (the nodes are the eigenvalues of the Jacobi matrix of the orthogonal polynomials, the
// weights the squared first components of its eigenvectors). Weights sum to one.
#pragma once

#include <vector>

namespace cdl::theory {

struct QuadratureRule {
  std::vector<double> nodes;
  std::vector<double> weights;  // sum to 1: the rule averages over the distribution
};

// E[f(X)] for X ~ Normal(mean, std): Gauss–Hermite (probabilists' weight e^{−x²/2}).
QuadratureRule gauss_hermite(int order, double mean, double std);
// E[f(X)] for X ~ Uniform(lo, hi): Gauss–Legendre.
QuadratureRule gauss_legendre(int order, double lo, double hi);

}  // namespace cdl::theory
