#include "theory/population.hpp"

#include <algorithm>
#include <cmath>

#include "base/errors.hpp"

namespace cdl::theory {

std::vector<double> base_disorder_ends(const base::Distribution& disorder, int disorder_nodes) {
  const int panels = std::max(1, disorder_nodes / disorder_panel_order);
  using Kind = base::Distribution::Kind;
  switch (disorder.kind) {
    case Kind::normal:
      // Panels equal in probability: resolution where the mass is.
      return normal_panel_ends(panels);
    case Kind::uniform: {
      std::vector<double> ends;
      for (int p = 0; p <= panels; ++p)
        ends.push_back(disorder.a + (disorder.b - disorder.a) * p / panels);
      return ends;
    }
    case Kind::bimodal:
      return {};
    case Kind::file:
      break;
  }
  throw InputError("--disorder: a sample from a file has no quadrature");
}

PopulationQuadrature::PopulationQuadrature(const base::Distribution& disorder,
                                           const base::Distribution& init, PopulationRule rule)
    : PopulationQuadrature(disorder, init, base_disorder_ends(disorder, rule.disorder_nodes),
                           rule.init_panels, rule.init_order) {}

PopulationQuadrature::PopulationQuadrature(const base::Distribution& disorder,
                                           const base::Distribution& init,
                                           const std::vector<double>& disorder_ends,
                                           int init_panels, int init_order, int init_subdivision)
    : disorder_ends_(disorder_ends),
      init_(init),
      init_panels_(init_panels),
      init_subdivision_(init_subdivision),
      panel_(gauss_legendre(init_order, 0.0, 1.0)) {
  using Kind = base::Distribution::Kind;
  switch (disorder.kind) {
    case Kind::normal:
      disorder_ = composite_rule(disorder_ends_, disorder_panel_order,
                                 [](double z) { return std::exp(-0.5 * z * z); });
      origin_ = disorder.a;
      scale_ = disorder.b;
      for (double& x : disorder_.nodes) x = disorder_at(x);
      break;
    case Kind::uniform:
      disorder_ = composite_rule(disorder_ends_, disorder_panel_order, [](double) { return 1.0; });
      break;
    case Kind::bimodal:
      disorder_ = {{disorder.a, -disorder.a}, {disorder.b, 1 - disorder.b}};
      disorder_ends_.clear();
      break;
    case Kind::file:
      throw InputError("--disorder: a sample from a file has no quadrature");
  }
  if (init.kind == Kind::uniform) {
    init_lo_ = init.a;
    init_hi_ = init.b;
  } else {  // normal: ±8 standard deviations carry all but 1e-15 of the mass
    init_lo_ = init.a - 8 * init.b;
    init_hi_ = init.a + 8 * init.b;
  }
}

double PopulationQuadrature::init_density(double phi) const {
  if (init_.kind == base::Distribution::Kind::uniform) return 1.0 / (init_hi_ - init_lo_);
  const double z = (phi - init_.a) / init_.b;
  return std::exp(-0.5 * z * z) / (init_.b * std::sqrt(2 * M_PI));
}

void PopulationQuadrature::build(const std::vector<Separatrices>& split, Eigen::ArrayXd& disorder,
                                 Eigen::ArrayXd& initial_state, Eigen::ArrayXd& weight,
                                 std::vector<int>* node_of) const {
  std::vector<double> delta, phi, w;
  if (node_of) node_of->clear();
  const int n = disorder_count();
  const double width = (init_hi_ - init_lo_) / init_panels_;
  for (int j = 0; j < n; ++j) {
    std::vector<double> ends;
    for (int p = 0; p <= init_panels_; ++p) ends.push_back(init_lo_ + p * width);
    ends.back() = init_hi_;
    for (const double separatrix : split[static_cast<std::size_t>(j)]) {
      if (std::isnan(separatrix) || separatrix <= init_lo_ || separatrix >= init_hi_) continue;
      // Split at the separatrix, with panels graded towards it: units that started close to
      // it are still leaving the unstable root at t, a boundary layer of width ~e^{−λt}.
      ends.push_back(separatrix);
      for (double grade : {0.1, 0.02, 0.004, 8e-4, 1.6e-4, 3.2e-5})
        for (double side : {-1.0, 1.0}) {
          const double x = separatrix + side * grade * (init_hi_ - init_lo_);
          if (x > init_lo_ && x < init_hi_) ends.push_back(x);
        }
    }
    std::sort(ends.begin(), ends.end());
    for (std::size_t p = 0; p + 1 < ends.size(); ++p) {
      if (!(ends[p + 1] > ends[p])) continue;
      for (int part = 0; part < init_subdivision_; ++part) {
        const double a = ends[p] + (ends[p + 1] - ends[p]) * part / init_subdivision_;
        const double b = part + 1 == init_subdivision_
                             ? ends[p + 1]
                             : ends[p] + (ends[p + 1] - ends[p]) * (part + 1) / init_subdivision_;
        for (std::size_t k = 0; k < panel_.nodes.size(); ++k) {
          const double x = a + (b - a) * panel_.nodes[k];
          delta.push_back(disorder_.nodes[j]);
          phi.push_back(x);
          w.push_back(disorder_.weights[j] * panel_.weights[k] * (b - a) * init_density(x));
          if (node_of) node_of->push_back(j);
        }
      }
    }
  }
  disorder =
      Eigen::Map<const Eigen::ArrayXd>(delta.data(), static_cast<Eigen::Index>(delta.size()));
  initial_state =
      Eigen::Map<const Eigen::ArrayXd>(phi.data(), static_cast<Eigen::Index>(phi.size()));
  weight = Eigen::Map<const Eigen::ArrayXd>(w.data(), static_cast<Eigen::Index>(w.size()));
}

}  // namespace cdl::theory
