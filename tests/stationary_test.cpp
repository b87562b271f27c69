// Stationary states of the N → ∞ effective theory against exact results, independent
// computations and long finite-N integrations.
#include "theory/stationary.hpp"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <map>

#include "experiments/theory_sweep.hpp"
#include "theory/effective_dynamics.hpp"
#include "theory/quadrature.hpp"

using namespace cdl;
using theory::FixedPointCurve;
using theory::StationarySolver;
using theory::UnitModel;

namespace {

base::Distribution distribution(const std::string& text) {
  return base::parse_distribution(text, "test", {"normal", "uniform", "bimodal"});
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

namespace {

// Every fold of `branch` is a fixed point (m = M) where ∂M/∂m = 1.
void check_folds_are_exact(const StationarySolver& solver, const theory::Branch& branch) {
  for (const auto& fold : branch.folds) {
    const auto field = solver.ordered_field(fold.sigma, fold.m);
    CHECK(field.mean == Approx(fold.m).margin(1e-9));
    CHECK(field.slope() == Approx(1).margin(1e-6));
  }
}

}  // namespace

TEST_CASE("the ordered branch's folds are where the slope of the self-consistency map is one") {
  StationarySolver solver({2, 0.001}, distribution("normal:0:2"), distribution("uniform:-1.7:2.3"),
                          12, 200);
  const auto branch = solver.ordered(0.01, 158.0, 0.05);
  REQUIRE(branch.folds.size() == 2);
  check_folds_are_exact(solver, branch);
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
  experiments::TheorySweep finite;
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
  experiments::TheoryChainResult chain, down;
  experiments::run_theory_sweep(finite, 2, [&](const experiments::TheoryChainResult& r) {
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

TEST_CASE("the history sweep of odd depths puts units in all three wells (0 and ±φ*)") {
  // For odd D ≥ 3 a unit with Δ > 0 has wells at 0 and ±φ*, and at weak coupling each unit
  // ends in the well whose basin holds its initial state. The reference is a large finite-N
  // integration at σ = 10⁻³ (γ = 0.2: a wide well at 0, fast relaxation; sampling noise of m
  // about 0.01). A history that put the units of the middle well into the lowest one was
  // 0.065–0.13 lower here.
  const double gamma = 0.2;
  const std::vector<double> sigma{1e-3};
  experiments::TheorySweep finite;
  finite.units = 8000;
  finite.runs = 1;
  finite.depths = {3, 5, 7};
  finite.sigma = sigma;
  finite.protocols = {sweep::Protocol::nonadiabatic};
  finite.gamma = gamma;
  finite.t_end = 40;
  finite.samples = 20;
  finite.disorder = distribution("normal:0:2");
  finite.initial_state = distribution("uniform:-1.7:2.3");
  finite.save_final_states = true;
  std::map<int, double> m_final;
  experiments::run_theory_sweep(finite, 2, [&](const experiments::TheoryChainResult& r) {
    m_final[finite.depths[r.chain.depth_index]] = r.final_state.row(0).mean();
  });
  for (int depth : finite.depths) {
    StationarySolver solver({depth, gamma}, finite.disorder, finite.initial_state, 12, 2000);
    double joined = 0;
    const double m_history = solver.history(sigma, &joined).points[0].m;
    INFO("D = " << depth << ": finite-N m " << m_final.at(depth) << ", history m " << m_history);
    CHECK(std::abs(m_final.at(depth) - m_history) < 0.03);
  }
}

TEST_CASE("mirrored initial states give the mirrored history branch and the same onset") {
  // U is even in φ for odd D, and for even D the map φ → −φ, Δ → −Δ leaves the force
  // unchanged; Normal(0, 2) disorder is symmetric, so mirroring the initial states mirrors the
  // sweep: m → −m, the same σ_c1 (the history joins the ordered branch or its mirror image).
  const auto sigma = sweep::parse_sigma_grid("log:-2.2:2.2:120", "sigma");
  const auto disorder = distribution("normal:0:2");
  for (int depth : {1, 2, 3, 7}) {
    INFO("D = " << depth);
    StationarySolver up({depth, 0.001}, disorder, distribution("uniform:-1.7:2.3"), 12, 400);
    StationarySolver down({depth, 0.001}, disorder, distribution("uniform:-2.3:1.7"), 12, 400);
    double joined_up = 0, joined_down = 0;
    const auto a = up.history(sigma, &joined_up);
    const auto b = down.history(sigma, &joined_down);
    REQUIRE(std::isfinite(joined_up));
    CHECK(joined_up > 2.5);  // the onset near σ ≈ 3 for every depth (docs/stationary.md table)
    CHECK(joined_up < 5);
    CHECK(std::abs(joined_up - joined_down) < 1e-9 * joined_up);
    for (std::size_t s = 0; s < sigma.size(); ++s)
      CHECK(std::abs(a.points[s].m + b.points[s].m) < 1e-9);
  }
}

namespace {

// A weighted N → ∞ population for Δ ~ Normal(0, std) that resolves units switching wells:
// Gauss–Legendre panels of width 0.1 over ±6 std, cut at every critical value of Δ(φ) at
// (σ, m) (where a well is born or dies) and refined to width 2.5e-4 within ±0.01 of each.
struct WeightedPopulation {
  Eigen::ArrayXd disorder, weight;
};

WeightedPopulation switching_population(const FixedPointCurve& curve, double std) {
  struct Panel {
    double a, b;
    int order;
  };
  std::vector<double> ends, fine_ends;
  for (double x = -6 * std; x < 6 * std; x += 0.1) ends.push_back(x);
  ends.push_back(6 * std);
  for (const auto& piece : curve.pieces())
    for (double critical : {piece.delta_lo, piece.delta_hi})
      if (std::isfinite(critical) && std::abs(critical) < 6 * std)
        for (int k = -40; k <= 40; ++k) fine_ends.push_back(critical + 2.5e-4 * k);
  for (double x : fine_ends) ends.push_back(x);
  std::sort(ends.begin(), ends.end());
  const auto coarse = theory::gauss_legendre(8, 0.0, 1.0),
             fine = theory::gauss_legendre(4, 0.0, 1.0);
  std::vector<double> delta, weight;
  for (std::size_t p = 0; p + 1 < ends.size(); ++p) {
    const double a = ends[p], b = ends[p + 1];
    if (!(b - a > 1e-12)) continue;
    const auto& rule = b - a < 1e-3 ? fine : coarse;
    for (std::size_t k = 0; k < rule.nodes.size(); ++k) {
      const double x = a + (b - a) * rule.nodes[k];
      delta.push_back(x);
      weight.push_back(rule.weights[k] * (b - a) * std::exp(-0.5 * x * x / (std * std)) /
                       (std * std::sqrt(2 * M_PI)));
    }
  }
  WeightedPopulation population{Eigen::Map<Eigen::ArrayXd>(delta.data(), delta.size()),
                                Eigen::Map<Eigen::ArrayXd>(weight.data(), weight.size())};
  population.weight /= population.weight.sum();
  return population;
}

// The population's own self-consistent ordered state near m (every unit in its largest well),
// by bisection of m − Σ w φ(m) on [lo, hi].
double population_root(const UnitModel& unit, const WeightedPopulation& population, double sigma,
                       double lo, double hi) {
  const auto residual = [&](double m) {
    const FixedPointCurve curve(unit, sigma, m);
    double mean = 0;
    for (Eigen::Index i = 0; i < population.disorder.size(); ++i)
      mean += population.weight[i] * curve.fixed_points(population.disorder[i]).back();
    return m - mean;
  };
  const bool rising = residual(lo) < 0;
  for (int it = 0; it < 60; ++it) {
    const double mid = 0.5 * (lo + hi);
    ((residual(mid) < 0) == rising ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

// The population started with every unit in its largest well at mean field m0, every state
// pushed by `push`, integrated to t_end: its mean field at the end.
double pushed_population_end(const UnitModel& unit, const WeightedPopulation& population,
                             double sigma, double m0, double push, double t_end) {
  const FixedPointCurve curve(unit, sigma, m0);
  Eigen::ArrayXd phi(population.disorder.size());
  for (Eigen::Index i = 0; i < phi.size(); ++i)
    phi[i] = curve.fixed_points(population.disorder[i]).back() + push;
  const auto graph = coupling::CouplingGraph::weighted_complete(population.weight);
  theory::EffectiveDynamics dynamics(unit.depth, unit.gamma, population.disorder, graph);
  dynamics.set_sigma(sigma);
  theory::Dopri5Settings settings;
  settings.rtol = 1e-8;
  settings.atol = 1e-11;
  settings.max_steps = 10'000'000;
  theory::Dopri5 integrator(settings);
  struct None {
    void sample(int, const Eigen::ArrayXd&) {}
  } none;
  const std::vector<double> times{0.0, t_end};
  const auto outcome = integrator.integrate(dynamics, phi, 0.0, t_end, times, none);
  REQUIRE(outcome.status == theory::IntegrationStatus::done);
  return (phi * population.weight).sum();
}

// The self-consistent ordered states m = M(σ, m) at one coupling, by bisection of sign changes.
std::vector<double> ordered_roots(const StationarySolver& solver, double sigma) {
  std::vector<double> roots;
  const auto residual = [&](double m) { return m - solver.ordered_field(sigma, m).mean; };
  double previous = 1e-3, r_previous = residual(previous);
  for (double m = 1e-3 * 1.01; m < 3; m *= 1.01) {
    const double r = residual(m);
    if ((r > 0) != (r_previous > 0)) {
      double lo = previous, hi = m;
      for (int it = 0; it < 100; ++it) {
        const double mid = 0.5 * (lo + hi);
        ((residual(mid) > 0) == (r_previous > 0) ? lo : hi) = mid;
      }
      roots.push_back(0.5 * (lo + hi));
    }
    previous = m, r_previous = r;
  }
  return roots;
}

}  // namespace

TEST_CASE("the slopes of the self-consistency map include units switching wells") {
  // ∂M/∂m = σ⟨1/a⟩ + the switching term, and ∂M/∂σ, against central differences of M itself.
  for (const char* disorder : {"normal:0:2", "uniform:-4:4"})
    for (int depth : {2, 3}) {
      StationarySolver solver({depth, 0.01}, distribution(disorder),
                              distribution("uniform:-1.7:2.3"), 12, 200);
      for (double sigma : {2.0, 8.7, 20.0})
        for (double m : {0.07, 0.15, 0.5}) {
          const auto field = solver.ordered_field(sigma, m);
          const double h = 1e-6;
          const double slope =
              (solver.ordered_field(sigma, m + h).mean - solver.ordered_field(sigma, m - h).mean) /
              (2 * h);
          INFO(disorder << " D " << depth << " sigma " << sigma << " m " << m << " secular "
                        << field.secular << " switching " << field.switching);
          CHECK(field.slope() == Approx(slope).margin(1e-6));
          // ∂M/∂σ likewise: the wells' (m − φ)/a and units switching at the moving ends.
          const double hs = 1e-6 * sigma;
          const double sigma_slope = (solver.ordered_field(sigma + hs, m).mean -
                                      solver.ordered_field(sigma - hs, m).mean) /
                                     (2 * hs);
          CHECK(field.sigma_slope == Approx(sigma_slope).margin(1e-6));
        }
    }
}

TEST_CASE("stability with well switching: flags change exactly at the folds") {
  // D = 3, γ = 0.01: the ordered branch folds at σ ≈ 29.59 and ≈ 8.565; σ⟨1/a⟩ alone crosses
  // one only at σ ≈ 8.85 on the middle branch, where units switching wells already make it
  // unstable.
  StationarySolver solver({3, 0.01}, distribution("normal:0:2"), distribution("uniform:-1.7:2.3"),
                          12, 200);
  const auto branch = solver.ordered(0.1, 100.0, 0.05);
  REQUIRE(branch.folds.size() == 2);
  check_folds_are_exact(solver, branch);
  CHECK(branch.folds[1].sigma == Approx(8.5653).margin(2e-3));
  // Along the branch the flag flips exactly at the folds (between neighbouring points that
  // bracket a fold in continuation order) and nowhere else.
  int flips = 0;
  for (std::size_t k = 1; k < branch.points.size(); ++k) {
    if (branch.points[k].stable == branch.points[k - 1].stable) continue;
    ++flips;
    const auto& a = branch.points[k - 1];
    const auto& b = branch.points[k];
    bool at_fold = false;
    for (const auto& fold : branch.folds)
      at_fold |= std::min(a.m, b.m) <= fold.m + 1e-9 && fold.m - 1e-9 <= std::max(a.m, b.m);
    INFO("flip between (" << a.sigma << ", " << a.m << ") and (" << b.sigma << ", " << b.m << ")");
    CHECK(at_fold);
  }
  CHECK(flips == 2);
  // The three ordered states at σ = 8.7: lower and upper stable, the middle one (where
  // σ⟨1/a⟩ < 1) unstable.
  const auto roots = ordered_roots(solver, 8.7);
  REQUIRE(roots.size() == 3);
  const auto middle = solver.ordered_field(8.7, roots[1]);
  CHECK(middle.secular < 1);
  CHECK(middle.slope() > 1);
  CHECK_FALSE(middle.stable());
  CHECK(solver.ordered_field(8.7, roots[0]).stable());
  CHECK(solver.ordered_field(8.7, roots[2]).stable());
}

TEST_CASE("pushed populations leave the branch points flagged unstable and return to stable ones") {
  // Weighted populations that resolve units switching wells, started on the ordered states
  // and pushed by ±1e-3, at couplings on both sides of the old boundary (σ⟨1/a⟩ = 1, on the
  // middle branch) and of the new one (the fold, between the lower and the middle branch).
  // A downward push of m moves the saddle-node Δ of the upper wells up, so units there switch
  // to their lower well for good; between the two boundaries this is what makes the middle
  // branch unstable, and an upward push (no switching) still returns.
  struct Case {
    int depth;
    double gamma, sigma, t_end;
    bool between_boundaries;  // σ⟨1/a⟩ < 1 < ∂M/∂m on the middle branch
  };
  const double push = 1e-3;
  for (const Case c : {Case{2, 0.05, 6.4, 800, true}, Case{2, 0.05, 6.6, 800, false},
                       Case{3, 0.01, 8.7, 1000, true}, Case{3, 0.01, 9.2, 1000, false}}) {
    const UnitModel unit{c.depth, c.gamma};
    StationarySolver solver(unit, distribution("normal:0:2"), distribution("uniform:-1.7:2.3"), 12,
                            200);
    const auto roots = ordered_roots(solver, c.sigma);
    REQUIRE(roots.size() == 3);  // lower, middle, upper
    for (std::size_t k = 0; k < roots.size(); ++k) {
      const double root = roots[k];
      const auto field = solver.ordered_field(c.sigma, root);
      CHECK(field.stable() == (k != 1));
      CHECK((field.secular < 1) == (k != 1 || c.between_boundaries));  // the old flag
      const auto population = switching_population(FixedPointCurve(unit, c.sigma, root), 2.0);
      // The population's own fixed point is the branch point: pushes act on the branch.
      REQUIRE(population_root(unit, population, c.sigma, root - 1e-3, root + 1e-3) ==
              Approx(root).margin(1e-5));
      for (const double direction : {-1.0, 1.0}) {
        if (k == 2 && direction > 0) continue;  // the upper state: one push suffices
        // The upper state relaxes fastest (its units are far from any saddle-node).
        const double t_end = k == 2 ? c.t_end / 4 : c.t_end;
        const double end =
            pushed_population_end(unit, population, c.sigma, root, direction * push, t_end);
        INFO("D " << c.depth << " gamma " << c.gamma << " sigma " << c.sigma << " root " << root
                  << " push " << direction * push << " -> m " << end);
        const bool runs_away = k == 1 && (direction < 0 || !c.between_boundaries);
        if (runs_away)
          CHECK(direction * (end - root) > 10 * push);
        else
          CHECK(std::abs(end - root) < push);
      }
    }
  }
}
