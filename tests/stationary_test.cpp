// Stationary states of the N → ∞ effective theory against exact results, independent
// computations and long finite-N integrations.
#include "theory/stationary.hpp"

#include <Eigen/Eigenvalues>
#include <catch2/catch.hpp>
#include <cmath>

#include "sweep/theory_sweep.hpp"
#include "theory/quadrature.hpp"

using namespace cdl;
using theory::FixedPointCurve;
using theory::StationarySolver;
using theory::UnitModel;

namespace {

sweep::Distribution distribution(const std::string& text) {
  return sweep::parse_distribution(text, "test", {"normal", "uniform", "bimodal"});
}

double force(const UnitModel& u, double delta, double sigma, double m, double phi) {
  return delta * std::pow(phi, u.depth) - std::pow(phi, 2 * u.depth + 1) - (u.gamma + sigma) * phi +
         sigma * m;
}

}  // namespace

TEST_CASE("Gauss rules average polynomials exactly") {
  const auto hermite = theory::gauss_hermite(8, 0.7, 2.0);
  double m2 = 0, m4 = 0, total = 0;
  for (std::size_t k = 0; k < hermite.nodes.size(); ++k) {
    const double x = hermite.nodes[k], w = hermite.weights[k];
    total += w;
    m2 += w * x * x;
    m4 += w * std::pow(x, 4);
  }
  const double mu = 0.7, s = 2.0;
  CHECK(total == Approx(1).epsilon(1e-14));
  CHECK(m2 == Approx(mu * mu + s * s).epsilon(1e-13));
  CHECK(m4 == Approx(std::pow(mu, 4) + 6 * mu * mu * s * s + 3 * std::pow(s, 4)).epsilon(1e-13));
  const auto legendre = theory::gauss_legendre(5, -1.7, 2.3);
  double l3 = 0;
  for (std::size_t k = 0; k < legendre.nodes.size(); ++k)
    l3 += legendre.weights[k] * std::pow(legendre.nodes[k], 3);
  CHECK(l3 == Approx((std::pow(2.3, 4) - std::pow(-1.7, 4)) / (4 * 4.0)).epsilon(1e-13));
}

TEST_CASE("fixed points of a unit are the roots of its force, classified by its slope") {
  for (int depth : {0, 1, 2, 3})
    for (double sigma : {0.05, 1.0, 30.0})
      for (double m : {-0.4, 0.2, 0.9}) {
        const UnitModel unit{depth, 0.01};
        const FixedPointCurve curve(unit, sigma, m);
        for (double delta : {-3.0, -0.5, 0.3, 1.7, 4.0}) {
          const auto roots = curve.fixed_points(delta);
          // Independent count: sign changes of the force on a fine grid.
          int changes = 0;
          for (double x = -6; x < 6; x += 1e-4)
            changes += (force(unit, delta, sigma, m, x) > 0) !=
                       (force(unit, delta, sigma, m, x + 1e-4) > 0);
          INFO("D " << depth << " sigma " << sigma << " m " << m << " delta " << delta);
          CHECK(static_cast<int>(roots.size()) == changes);
          for (double phi : roots) CHECK(std::abs(force(unit, delta, sigma, m, phi)) < 1e-9);
          // The extreme roots are wells: U''(φ) + σ > 0 there.
          CHECK(unit.curvature(delta, roots.front()) + sigma > 0);
          CHECK(unit.curvature(delta, roots.back()) + sigma > 0);
        }
      }
}

TEST_CASE(
    "D = 0 has the single stationary state m* = mean disorder / (1 + gamma) at every coupling") {
  const double gamma = 0.001;
  StationarySolver solver({0, gamma}, distribution("normal:0.7:2"),
                          distribution("uniform:-1.7:2.3"), 12, 200);
  const auto ordered = solver.ordered(0.01, 100.0, 0.1);
  REQUIRE(ordered.points.size() > 20);
  CHECK(ordered.points.back().sigma > 90);
  for (const auto& p : ordered.points) {
    CHECK(p.m == Approx(0.7 / (1 + gamma)).epsilon(1e-9));
    CHECK(p.stable);
  }
  CHECK(ordered.folds.empty());
  double joined = 0;
  for (const auto& p : solver.history({0.01, 0.1, 1, 10}, &joined).points)
    CHECK(p.m == Approx(0.7 / (1 + gamma)).epsilon(1e-9));
  CHECK(std::isnan(joined));  // no unit is ever bistable: no onset
}

TEST_CASE("stability from the secular equation matches the explicit Jacobian's spectrum") {
  // With bimodal disorder the N → ∞ population is two groups; N units split in proportion sit
  // at an exact fixed point of the finite all-to-all system, whose Jacobian
  // −diag(U''ᵢ + σ) + (σ/N) 1 1ᵀ is diagonalised directly.
  const double p = 0.5;
  const int n = 40;
  for (int depth : {1, 2}) {
    const UnitModel unit{depth, 0.01};
    StationarySolver solver(unit, distribution("bimodal:1.5:0.5"), distribution("uniform:-1.7:2.3"),
                            8, 2);
    const auto branch = solver.ordered(0.05, 500.0, 0.05);
    int stable = 0, unstable = 0;
    for (std::size_t k = 0; k < branch.points.size(); k += 3) {
      const auto& point = branch.points[k];
      if (point.m <= 0) continue;
      const FixedPointCurve curve(unit, point.sigma, point.m);
      Eigen::MatrixXd jacobian = Eigen::MatrixXd::Constant(n, n, point.sigma / n);
      double mean = 0;
      for (int i = 0; i < n; ++i) {
        const double delta = i < p * n ? 1.5 : -1.5;
        const double phi = curve.fixed_points(delta).back();  // the ordered (largest) well
        mean += phi / n;
        jacobian(i, i) -= unit.curvature(delta, phi) + point.sigma;
      }
      REQUIRE(mean == Approx(point.m).epsilon(1e-7));
      const double largest =
          Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(jacobian).eigenvalues().maxCoeff();
      INFO("D " << depth << " sigma " << point.sigma << " m " << point.m << " largest eigenvalue "
                << largest);
      if (std::abs(largest) < 1e-6) continue;  // at a fold
      CHECK(point.stable == (largest < 0));
      (point.stable ? stable : unstable) += 1;
    }
    CHECK(stable > 0);
    if (depth == 2) CHECK(unstable > 0);  // the branch folds back through an unstable part
  }
}

TEST_CASE("the ordered branch's folds are where the secular function crosses one") {
  StationarySolver solver({2, 0.001}, distribution("normal:0:2"), distribution("uniform:-1.7:2.3"),
                          12, 200);
  const auto branch = solver.ordered(0.01, 158.0, 0.05);
  REQUIRE(branch.folds.size() == 2);
  for (const auto& fold : branch.folds) {
    const auto field = solver.ordered_field(fold.sigma, fold.m);
    CHECK(field.mean == Approx(fold.m).epsilon(1e-4));
    CHECK(field.secular == Approx(1).margin(2e-3));
  }
  // Stability changes at each fold along the branch.
  int changes = 0;
  for (std::size_t k = 1; k < branch.points.size(); ++k)
    changes += branch.points[k].stable != branch.points[k - 1].stable;
  CHECK(changes >= 2);
}

TEST_CASE(
    "long finite-N adiabatic sweeps follow the history branch and jump at the predicted fold") {
  // Large γ shortens relaxation so that t_end = 60 is stationary; N = 3000 keeps sampling noise
  // of m near 2/√N ≈ 0.04; fine σ steps keep the sweep quasi-static.
  const double gamma = 0.2;
  const auto sigma = sweep::parse_sigma_grid("log:-1:1.3:48", "sigma");
  sweep::TheorySweep finite;
  finite.units = 3000;
  finite.runs = 1;
  finite.depths = {2};
  finite.sigma = sigma;
  finite.protocols = {sweep::Protocol::adiabatic_up, sweep::Protocol::adiabatic_down};
  finite.gamma = gamma;
  finite.t_end = 60;
  finite.samples = 20;
  finite.disorder = distribution("normal:0:2");
  finite.initial_state = distribution("uniform:-1.7:2.3");
  finite.save_final_states = true;
  sweep::TheoryChainResult chain, down;
  sweep::run_theory_sweep(finite, 2, [&](const sweep::TheoryChainResult& r) {
    (r.chain.protocol == 0 ? chain : down) = r;
  });

  StationarySolver solver({2, gamma}, finite.disorder, finite.initial_state, 12, 1000);
  double joined = 0;
  const auto history = solver.history(sigma, &joined);
  const auto ordered = solver.ordered(sigma.front(), sigma.back(), 0.05);
  const auto symmetric = solver.symmetric(sigma);
  const double fold = solver.critical(ordered, symmetric, joined).sigma_c2;
  REQUIRE(fold > 5);
  REQUIRE(fold < 15);
  // The finite system's jump: the largest drop of m between neighbouring couplings.
  std::size_t jump = 0;
  double drop = 0;
  for (std::size_t s = 1; s < sigma.size(); ++s) {
    const double d = chain.final_state.row(s - 1).mean() - chain.final_state.row(s).mean();
    if (d > drop) drop = d, jump = s;
  }
  INFO("finite-N jump between sigma " << sigma[jump - 1] << " and " << sigma[jump]
                                      << ", predicted fold " << fold);
  CHECK(drop > 0.3);
  CHECK(sigma[jump] > 0.85 * fold);
  CHECK(sigma[jump - 1] < 1.15 * fold);
  // Sweeping down from strong coupling the ensemble stays on the symmetric branch, which for
  // D = 2 is stable at every coupling (U''(0) + σ = γ + σ > 0 and σ/(γ+σ) < 1): no jump back.
  for (const auto& p : symmetric.points) CHECK(p.stable);
  for (std::size_t s = 0; s < sigma.size(); ++s)
    CHECK(std::abs(down.final_state.row(s).mean()) < 0.06);
  // Away from the jump and from the first coupling (where the wells are chosen by the initial
  // transient, which the stationary theory only approximates), the states agree.
  for (std::size_t s = 1; s < sigma.size(); ++s) {
    if (std::abs(std::log(sigma[s] / fold)) < 0.15) continue;
    const double m_final = chain.final_state.row(s).mean();
    INFO("sigma " << sigma[s] << " finite-N m " << m_final << " history m " << history.points[s].m);
    CHECK(std::abs(m_final - history.points[s].m) < 0.06);
    CHECK(history.points[s].stable);
    // Never on a part of the ordered branch predicted unstable.
    for (const auto& p : ordered.points)
      if (!p.stable && std::abs(std::log(p.sigma / sigma[s])) < 0.02)
        CHECK(std::abs(m_final - p.m) > 0.05);
  }
}
