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

// Panel ends, in z = (x − mean)/std, for averages over Normal(mean, std) by composite
// Gauss–Legendre: `panels` panels of equal probability over mean ± 6 std (all but 2e-9 of the
// mass), the wide tail panels cut to half a standard deviation. Unlike Gauss–Hermite, whose high
// orders spend most nodes far in the tails, such a rule resolves steep or kinked integrands in
// the bulk.
std::vector<double> normal_panel_ends(int panels);
// Composite Gauss–Legendre with `order` points on each panel [ends[p], ends[p+1]], weighted by
// density(x) and normalised to sum to one.
template <class Density>
QuadratureRule composite_rule(const std::vector<double>& ends, int order, Density density);

// Φ(x) and Φ⁻¹(p) of the standard normal distribution.
double normal_cdf(double x);
double normal_quantile(double p);

template <class Density>
QuadratureRule composite_rule(const std::vector<double>& ends, int order, Density density) {
  const QuadratureRule unit = gauss_legendre(order, 0.0, 1.0);
  QuadratureRule rule;
  double total = 0;
  for (std::size_t p = 0; p + 1 < ends.size(); ++p) {
    const double a = ends[p], b = ends[p + 1];
    for (std::size_t k = 0; k < unit.nodes.size(); ++k) {
      const double x = a + (b - a) * unit.nodes[k];
      const double w = unit.weights[k] * (b - a) * density(x);
      rule.nodes.push_back(x);
      rule.weights.push_back(w);
      total += w;
    }
  }
  for (double& w : rule.weights) w /= total;
  return rule;
}

}  // namespace cdl::theory
