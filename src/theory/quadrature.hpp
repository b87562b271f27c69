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

// E[f(X)] for X ~ Normal(mean, std) by composite Gauss–Legendre: `panels` panels of equal
// probability over mean ± 6 std (all but 2e-9 of the mass), `order` points each, weighted by
// the density. Unlike Gauss–Hermite, whose high orders spend most nodes far in the tails, it
// resolves steep or kinked integrands in the bulk.
QuadratureRule normal_panels(int panels, int order, double mean, double std);

// Φ(x) and Φ⁻¹(p) of the standard normal distribution.
double normal_cdf(double x);
double normal_quantile(double p);

}  // namespace cdl::theory
