#include "theory/stationary.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <unsupported/Eigen/Polynomials>

#include "base/errors.hpp"
#include "base/not_a_number.hpp"
#include "theory/quadrature.hpp"
#include "theory/root_finding.hpp"
#include "theory/unit_potential.hpp"

namespace cdl::theory {

namespace {

constexpr double inf = std::numeric_limits<double>::infinity();
using base::nan;

double sign(double x) { return x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0); }

}  // namespace

// ---- the unit -------------------------------------------------------------------------------

double UnitModel::potential(double disorder, double phi) const {
  return unit_potential(depth, gamma, disorder, phi);
}

// unit_curvature's U'', with φ^{2D} by repeated multiplication rather than (φ^D)²: the same
// value to rounding, kept so that the stationary files keep their bits (the continuation
// carries a last-bit change in U'' to ~1e-11 in the branch's σ).
double UnitModel::curvature(double disorder, double phi) const {
  const double low = depth >= 1 ? depth * disorder * power_of(phi, depth - 1) : 0.0;
  return (2 * depth + 1) * power_of(phi, 2 * depth) - low + gamma;
}

// ---- the fixed-point curve Δ(φ) ------------------------------------------------------------

FixedPointCurve::FixedPointCurve(const UnitModel& model, double sigma, double m)
    : depth_(model.depth), stiffness_(model.gamma + sigma), field_(sigma * m) {
  if (depth_ == 0) {  // Δ(φ) = (1 + γ + σ)φ − σm: one increasing piece
    pieces_.push_back({-inf, inf, -inf, inf, true, true});
    return;
  }
  if (m == 0) throw RuntimeError("FixedPointCurve needs m != 0 for depth >= 1");
  // Critical points: real roots of (D+1)φ^{2D+1} + c(1−D)φ + Dσm.
  Eigen::VectorXd coefficients = Eigen::VectorXd::Zero(2 * depth_ + 2);
  coefficients[0] = depth_ * field_;
  coefficients[1] = stiffness_ * (1 - depth_);
  coefficients[2 * depth_ + 1] = depth_ + 1;
  Eigen::PolynomialSolver<double, Eigen::Dynamic> solver(coefficients);
  std::vector<double> critical;
  for (const auto& root : solver.roots()) {
    if (std::abs(root.imag()) > 1e-9 * (1 + std::abs(root.real()))) continue;
    // Polished by three Newton steps.
    const double x = newton(
        [&](double y) {
          const double value = Eigen::poly_eval(coefficients, y);
          const double slope =
              (2 * depth_ + 1) * (depth_ + 1) * power_of(y, 2 * depth_) + coefficients[1];
          return slope != 0 ? value / slope : 0.0;
        },
        root.real(), 0.0, 3);
    if (x != 0) critical.push_back(x);
  }
  std::sort(critical.begin(), critical.end());
  const auto limit = [&](double phi) {  // Δ at ±∞ and at the pole 0±
    if (std::isinf(phi)) return phi > 0 ? inf : (depth_ % 2 == 1 ? inf : -inf);
    if (phi == 0 && std::signbit(phi)) return -sign(field_) * (depth_ % 2 == 0 ? 1 : -1) * inf;
    if (phi == 0) return -sign(field_) * inf;
    return disorder_at(phi);
  };
  std::vector<double> ends{-inf};
  for (double c : critical)
    if (c < 0) ends.push_back(c);
  ends.push_back(-0.0);
  const std::size_t negative_end = ends.size();
  ends.push_back(0.0);
  for (double c : critical)
    if (c > 0) ends.push_back(c);
  ends.push_back(inf);
  for (std::size_t k = 0; k + 1 < ends.size(); ++k) {
    if (k + 1 == negative_end) continue;  // the pole
    const double a = ends[k], b = ends[k + 1];
    const double da = limit(a), db = limit(b);
    const bool increasing = db > da;
    const bool positive_side = b > 0 || (b == 0 && !std::signbit(b) && a >= 0);
    const double phi_sign = positive_side ? 1.0 : (depth_ % 2 == 0 ? 1.0 : -1.0);
    pieces_.push_back({a, b, std::min(da, db), std::max(da, db), increasing,
                       phi_sign * (increasing ? 1.0 : -1.0) > 0});
  }
}

double FixedPointCurve::disorder_at(double phi) const {
  // Δ(φ) = φ^{D+1} + cφ^{1−D} − σm φ^{−D}
  const double pd = power_of(phi, depth_);
  return pd * phi + stiffness_ * phi / pd - field_ / pd;
}

double FixedPointCurve::root_on(const Piece& piece, double disorder, double guess) const {
  const double s = piece.increasing ? 1.0 : -1.0;
  const auto f = [&](double phi) { return s * (disorder_at(phi) - disorder); };  // increasing
  // A finite bracket [lo, hi] with f(lo) ≤ 0 ≤ f(hi): walk out towards an infinite end,
  // in towards the pole at 0.
  double lo = piece.phi_lo, hi = piece.phi_hi;
  if (std::isinf(lo)) {
    double x = std::min(std::isinf(hi) ? 0.0 : hi, 0.0) - 1;
    while (f(x) > 0) x = 2 * x;
    lo = x;
  } else if (lo == 0) {
    double x = std::isinf(hi) ? 1.0 : 0.5 * hi;
    while (f(x) > 0) x = 0.5 * x;
    lo = x;
  }
  if (std::isinf(hi)) {
    double x = std::max(lo, 0.0) + 1;
    while (f(x) < 0) x = 2 * x;
    hi = x;
  } else if (hi == 0) {
    double x = 0.5 * lo;
    while (f(x) < 0) x = 0.5 * x;
    hi = x;
  }
  return bracketed_newton(
      f, [&](double phi) { return s * slope_at(phi); }, lo, hi, guess);
}

double FixedPointCurve::slope_at(double phi) const {
  // Δ'(φ) = (D+1)φ^D + c(1−D)φ^{−D} + Dσm φ^{−D−1}
  const double pd = power_of(phi, depth_);
  return (depth_ + 1) * pd + (stiffness_ * (1 - depth_) + depth_ * field_ / phi) / pd;
}

std::vector<double> FixedPointCurve::fixed_points(double disorder) const {
  std::vector<double> roots;
  for (const Piece& piece : pieces_)
    if (disorder > piece.delta_lo && disorder < piece.delta_hi)
      roots.push_back(root_on(piece, disorder));
  return roots;
}

// ---- averages over the disorder ------------------------------------------------------------

DisorderAverage::DisorderAverage(const base::Distribution& disorder, int order)
    : disorder_(disorder) {
  const QuadratureRule rule = gauss_legendre(order, 0.0, 1.0);
  unit_nodes_ = rule.nodes;
  unit_weights_ = rule.weights;
  using Kind = base::Distribution::Kind;
  switch (disorder.kind) {
    case Kind::normal:
      support_lo_ = disorder.a - 9 * disorder.b;
      support_hi_ = disorder.a + 9 * disorder.b;
      panel_width_ = 0.5 * disorder.b;
      break;
    case Kind::uniform:
      support_lo_ = disorder.a;
      support_hi_ = disorder.b;
      panel_width_ = (disorder.b - disorder.a) / 8;
      break;
    case Kind::bimodal:
      support_lo_ = -std::abs(disorder.a);
      support_hi_ = std::abs(disorder.a);
      panel_width_ = 0;
      break;
    case Kind::file:
      throw InputError(
          "--disorder: file disorder has no quadrature; use normal, uniform or bimodal");
  }
}

double DisorderAverage::density(double delta) const {
  using Kind = base::Distribution::Kind;
  if (disorder_.kind == Kind::normal) {
    if (!(disorder_.b > 0)) return 0.0;
    const double z = (delta - disorder_.a) / disorder_.b;
    return std::exp(-0.5 * z * z) / (disorder_.b * std::sqrt(2 * M_PI));
  }
  if (disorder_.kind == Kind::uniform && disorder_.b > disorder_.a && delta > disorder_.a &&
      delta < disorder_.b)
    return 1.0 / (disorder_.b - disorder_.a);
  return 0.0;
}

template <class F>
void DisorderAverage::for_each_node(double lo, double hi, F f) const {
  const auto atom = [&](double x, double w) {
    if (x >= lo && x < hi && w > 0) f(x, w);
  };
  using Kind = base::Distribution::Kind;
  if (disorder_.kind == Kind::bimodal) {
    atom(disorder_.a, disorder_.b);
    atom(-disorder_.a, 1 - disorder_.b);
    return;
  }
  if (support_hi_ <= support_lo_) {  // degenerate: a point mass
    atom(support_lo_, 1.0);
    return;
  }
  const double a = std::max(lo, support_lo_), b = std::min(hi, support_hi_);
  if (!(a < b)) return;
  // Panels on a grid fixed in Δ, cut at a and b: the rule then moves smoothly with the ends of
  // a piece, so averages are smooth functions of (σ, m) as continuation needs.
  const int first = static_cast<int>(std::floor((a - support_lo_) / panel_width_));
  const int last = static_cast<int>(std::ceil((b - support_lo_) / panel_width_));
  for (int p = first; p < last; ++p) {
    const double x0 = std::max(a, support_lo_ + p * panel_width_);
    const double x1 = std::min(b, support_lo_ + (p + 1) * panel_width_);
    if (!(x0 < x1)) continue;
    const double width = x1 - x0;
    for (std::size_t k = 0; k < unit_nodes_.size(); ++k) {
      // Smoothstep map t → 3t² − 2t³: flat at both panel ends, so a square-root behaviour at a
      // piece's end (a unit's well being born) is integrated to full order.
      const double t = unit_nodes_[k];
      const double x = x0 + width * t * t * (3 - 2 * t);
      const double jacobian = width * 6 * t * (1 - t);
      f(x, unit_weights_[k] * jacobian * density(x));
    }
  }
}

// ---- the solver ----------------------------------------------------------------------------

StationarySolver::StationarySolver(UnitModel model, const base::Distribution& disorder,
                                   const base::Distribution& initial_state, int quadrature_order,
                                   int history_nodes)
    : model_(model),
      average_(disorder, quadrature_order),
      initial_state_(initial_state),
      history_nodes_(history_nodes) {}

void StationarySolver::check_stop() const {
  if (stop_ && stop_->requested()) throw Interrupted("interrupted");
}

MeanField StationarySolver::ordered_field(double sigma, double m) const {
  const FixedPointCurve curve(model_, sigma, m);
  const auto& pieces = curve.pieces();
  MeanField field;
  field.min_stiffness = inf;
  const auto add = [&](const FixedPointCurve::Piece& piece, double lo, double hi) {
    // Nodes come in increasing Δ: each root starts from its neighbour's.
    double previous = nan;
    average_.for_each_node(lo, hi, [&](double delta, double w) {
      const double phi = curve.root_on(piece, delta, previous);
      previous = phi;
      const double a = model_.curvature(delta, phi) + sigma;
      field.mean += w * phi;
      field.secular += w * sigma / a;
      field.sigma_slope += w * (m - phi) / a;  // ∂φ*/∂σ = (m − φ)/a
      field.min_stiffness = std::min(field.min_stiffness, a);
      field.lyapunov += w * (model_.potential(delta, phi) + 0.5 * sigma * (phi - m) * (phi - m));
    });
  };
  // Units at an end Δ_b of a range switch wells when m moves it: Δ_b is the critical value of
  // Δ(φ) at a saddle-node φ_b, so ∂Δ_b/∂m = −σ φ_b^{−D} (Δ'(φ_b) = 0), and the end contributes
  // ± p(Δ_b) φ(Δ_b) ∂Δ_b/∂m to ∂M/∂m. Infinite ends (the pole, ±∞) carry no units.
  // The same for σ: ∂Δ_b/∂σ = (φ_b − m) φ_b^{−D}. Returns {∂/∂m, ∂/∂σ}.
  const auto end_flux = [&](double delta_b, double phi, double saddle) {
    if (std::isinf(delta_b) || model_.depth == 0) return std::array<double, 2>{0.0, 0.0};
    const double units = average_.density(delta_b) * phi / power_of(saddle, model_.depth);
    return std::array<double, 2>{-sigma * units, (saddle - m) * units};
  };
  const auto add_flux = [&](const std::array<double, 2>& flux, double sign) {
    field.switching += sign * flux[0];
    field.sigma_slope += sign * flux[1];
  };
  // The largest root of a unit with disorder Δ lies on a stable increasing piece at positive φ
  // where Δ(φ) is below every value of Δ(ψ) for ψ > φ. Walk the pieces from the right.
  double threshold = inf, threshold_saddle = nan;
  for (auto piece = pieces.rbegin(); piece != pieces.rend(); ++piece) {
    if (piece->phi_hi <= 0 && model_.depth > 0) break;
    if (piece->increasing) {
      const bool capped = threshold < piece->delta_hi;  // a well further right takes over
      const double hi = capped ? threshold : piece->delta_hi;
      if (piece->delta_lo < hi) {
        add(*piece, piece->delta_lo, hi);
        add_flux(capped ? end_flux(hi, curve.root_on(*piece, hi), threshold_saddle)
                        : end_flux(hi, piece->phi_hi, piece->phi_hi),
                 +1);
        add_flux(end_flux(piece->delta_lo, piece->phi_lo, piece->phi_lo), -1);
      }
    }
    if (piece->delta_lo < threshold) {
      threshold = piece->delta_lo;
      threshold_saddle = piece->increasing ? piece->phi_lo : piece->phi_hi;
    }
  }
  return field;
}

StationaryPoint StationarySolver::ordered_fold(double sigma, double m) const {
  // Newton on G(x, m) = (m − M, 1 − ∂M/∂m) in x = ln σ, Jacobian by central differences.
  // Without convergence the interpolated estimate (σ, m) is kept.
  const double sigma_estimate = sigma, m_estimate = m;
  double x = std::log(sigma);
  const auto G = [&](double xx, double mm) {
    const MeanField f = ordered_field(std::exp(xx), mm);
    return std::array<double, 2>{mm - f.mean, 1 - f.slope()};
  };
  for (int it = 0; it < 30; ++it) {
    const auto g = G(x, m);
    const double hx = 1e-6, hm = 1e-7 * std::max(1.0, std::abs(m));
    const auto gxp = G(x + hx, m), gxm = G(x - hx, m), gmp = G(x, m + hm), gmm = G(x, m - hm);
    const double a = (gxp[0] - gxm[0]) / (2 * hx), b = (gmp[0] - gmm[0]) / (2 * hm);
    const double c = (gxp[1] - gxm[1]) / (2 * hx), d = (gmp[1] - gmm[1]) / (2 * hm);
    const double det = a * d - b * c;
    if (det == 0 || !std::isfinite(det)) break;
    const double dx = std::clamp((d * g[0] - b * g[1]) / det, -0.05, 0.05);
    const double dm =
        std::clamp((a * g[1] - c * g[0]) / det, -0.05 * std::abs(m), 0.05 * std::abs(m));
    x -= dx;
    m -= dm;
    if (std::abs(dx) < 1e-13 && std::abs(dm) < 1e-13 * std::max(1.0, std::abs(m))) break;
  }
  const auto g = G(x, m);
  if (!(std::abs(g[0]) < 1e-10 && std::abs(g[1]) < 1e-8))
    x = std::log(sigma_estimate), m = m_estimate;
  return {std::exp(x), m, false, ordered_field(std::exp(x), m).lyapunov};
}

namespace {

// The ordered branch is the zero set of F(log σ, m) = σ (m − M(σ, m)). At strong coupling every
// unit sits near m and m − M is O(1/σ), so the factor σ keeps the residual and its gradient
// O(1) for the corrector.
struct OrderedResidual {
  const StationarySolver& solver;

  struct Value {
    double F;
    std::array<double, 2> gradient;  // (∂F/∂x, ∂F/∂m)
  };
  // F and its gradient from one field: ∂F/∂m = σ(1 − ∂M/∂m), ∂F/∂x = F − σ² ∂M/∂σ.
  Value evaluate(double x, double m) const {
    const double sigma = std::exp(x);
    const MeanField field = solver.ordered_field(sigma, m);
    const double F = sigma * (m - field.mean);
    return {F, {F - sigma * sigma * field.sigma_slope, sigma * (1 - field.slope())}};
  }
  double operator()(double x, double m) const { return evaluate(x, m).F; }
  std::array<double, 2> gradient(double x, double m) const { return evaluate(x, m).gradient; }
  // The unit tangent of the zero set, (∂F/∂m, −∂F/∂x) normalised, in either direction.
  std::array<double, 2> tangent(double x, double m) const {
    const auto g = gradient(x, m);
    const double n = std::hypot(g[1], -g[0]);
    return {g[1] / n, -g[0] / n};
  }
};

// The largest fixed point m = M(σ_min, m): the increasing map M iterated down from a large m,
// then polished by Newton on F.
double largest_fixed_point(const OrderedResidual& F, double sigma_min) {
  double m = 10;
  for (int it = 0; it < 10000; ++it) {
    const double next = F.solver.ordered_field(sigma_min, m).mean;
    if (std::abs(next - m) < 1e-14 * std::max(1.0, std::abs(m))) break;
    m = next;
  }
  const double x = std::log(sigma_min);
  return newton(
      [&](double mm) {
        const auto value = F.evaluate(x, mm);
        return value.F / value.gradient[1];
      },
      m, 1e-14, 50);
}

// Pseudo-arclength corrector: Newton on F = 0 and on the arc condition t · (c − p) = 0 from the
// predictor p along the tangent t. Returns the iterations taken, or −1 if it did not converge.
int correct(const OrderedResidual& F, double px, double pm, double tx, double tm,
            bool needs_positive_m, double& cx, double& cm) {
  cx = px, cm = pm;
  for (int iterations = 0; iterations < 12; ++iterations) {
    if (needs_positive_m && cm <= 0) return -1;
    const auto [f, gc] = F.evaluate(cx, cm);
    const double arc = tx * (cx - px) + tm * (cm - pm);
    const double det = gc[0] * tm - gc[1] * tx;
    if (det == 0) return -1;
    const double dx = (-f * tm + arc * gc[1]) / det;
    const double dm = (-gc[0] * arc + tx * f) / det;
    cx += dx;
    cm += dm;
    // 1e-9 in (log σ, m): near folds at strong coupling ∂F/∂m ~ 1e-4, so round-off in F
    // (~1e-13) already moves the Newton update by ~1e-9; asking for more never converges.
    if (std::abs(dx) + std::abs(dm) < 1e-9 && std::abs(f) < 1e-9) return iterations;
  }
  return -1;
}

}  // namespace

Branch StationarySolver::ordered(double sigma_min, double sigma_max, double step) const {
  Branch branch;
  const bool needs_positive_m = model_.depth > 0;
  const double m_floor = 1e-7;
  const OrderedResidual F{*this};
  const auto record = [&](double x, double m) {
    const MeanField field = ordered_field(std::exp(x), m);
    branch.points.push_back({std::exp(x), m, field.stable(), field.lyapunov});
  };
  double x = std::log(sigma_min), m = largest_fixed_point(F, sigma_min);
  if (needs_positive_m && !(m > m_floor)) return branch;  // no ordered state at σ_min
  record(x, m);
  auto [tx, tm] = F.tangent(x, m);
  if (tx < 0) tx = -tx, tm = -tm;  // towards larger σ
  const double x_max = std::log(sigma_max), x_min = std::log(sigma_min);
  double ds = step;
  for (int steps = 0; steps < 100000 && ds > 1e-9; ++steps) {
    check_stop();
    double cx, cm;
    const int iterations = correct(F, x + ds * tx, m + ds * tm, tx, tm, needs_positive_m, cx, cm);
    if (iterations < 0) {
      ds *= 0.5;
      continue;
    }
    if (needs_positive_m && cm < m_floor) {  // reached m = 0: the symmetric state
      const double s = m / (m - cm);         // linear interpolation to m = 0
      branch.points.push_back(symmetric_point(std::exp(x + s * (cx - x))));
      break;
    }
    auto [nx, nm] = F.tangent(cx, cm);
    if (nx * tx + nm * tm < 0) nx = -nx, nm = -nm;
    // A sharp turn between consecutive tangents means the step cut across a fold (and may
    // have landed on another part of the curve): retry shorter.
    if (nx * tx + nm * tm < 0.99 && ds > 1e-6) {
      ds *= 0.5;
      continue;
    }
    if ((nx > 0) != (tx > 0)) {
      // Turning point: the Hermite interpolant with tangents t and n has x' = 0 at s*.
      const double s = ds * tx / (tx - nx);
      const double fx = x + s * tx + s * s / (2 * ds) * (nx - tx);
      const double fm = m + s * tm + s * s / (2 * ds) * (nm - tm);
      branch.folds.push_back(ordered_fold(std::exp(fx), fm));
    }
    if (cx > x_max || cx < x_min) break;
    x = cx, m = cm, tx = nx, tm = nm;
    record(x, m);
    ds = iterations <= 3 ? std::min(step, 1.5 * ds) : (iterations >= 6 ? 0.7 * ds : ds);
  }
  return branch;
}

Branch StationarySolver::symmetric(const std::vector<double>& sigma) const {
  Branch branch;
  if (model_.depth == 0) return branch;  // φ = 0 is not a fixed point without depth
  for (double s : sigma) {
    check_stop();
    branch.points.push_back(symmetric_point(s));
  }
  return branch;
}

StationaryPoint StationarySolver::symmetric_point(double sigma) const {
  double secular = 0, min_stiffness = inf;
  average_.for_each_node(-inf, inf, [&](double delta, double w) {
    const double a = model_.curvature(delta, 0.0) + sigma;
    secular += w * sigma / a;
    min_stiffness = std::min(min_stiffness, a);
  });
  return {sigma, 0.0, min_stiffness > 0 && secular < 1, 0.0};
}

// A discretised population for the zero-temperature sweep: disorder nodes with their weights,
// each node's units shared among its wells. A unit has at most three wells: its force has four
// monomials, so by Descartes' rule at most three positive and three negative roots, and an odd
// number of simple roots in all. Odd D ≥ 3 reaches three (0 and ±φ* for Δ > 0, as U is even).
struct StationarySolver::HistoryState {
  static constexpr std::size_t max_wells = 3;
  struct Node {
    double delta = 0, weight = 0;
    std::size_t wells = 0;                  // stable roots, increasing in φ
    std::array<double, max_wells> phi{};    // their positions
    std::array<double, max_wells> share{};  // the fraction of the node's units in each
  };
  std::vector<Node> nodes;
  double m = 0;
  bool any_bistable = false;  // some node had two wells at some coupling

  // Every multistable unit in the well on the side of m: the ordered branch (largest-φ wells)
  // for m > 0, its mirror image for m < 0. Both are collective learning; the initial state
  // decides which one a sweep reaches (for odd D they are exact mirror images, U being even).
  bool joined() const {
    if (m == 0) return false;
    for (const Node& node : nodes)
      for (std::size_t k = 0; k < node.wells; ++k)
        if (k != (m > 0 ? node.wells - 1 : 0) && node.share[k] != 0) return false;
    return true;
  }
};

StationarySolver::HistoryState StationarySolver::history_start() const {
  using Kind = base::Distribution::Kind;
  const auto& d = average_.distribution();
  HistoryState state;
  const auto add = [&](double delta, double weight) {
    HistoryState::Node node;
    node.delta = delta;
    node.weight = weight;
    state.nodes.push_back(node);
  };
  if (d.kind == Kind::bimodal) {
    add(d.a, d.b);
    add(-d.a, 1 - d.b);
  } else {  // equal-probability nodes
    for (int j = 0; j < history_nodes_; ++j) {
      const double u = (j + 0.5) / history_nodes_;
      add(d.kind == Kind::normal ? d.a + d.b * normal_quantile(u) : d.a + (d.b - d.a) * u,
          1.0 / history_nodes_);
    }
  }
  state.m = initial_state_.kind == Kind::normal ? initial_state_.a
                                                : 0.5 * (initial_state_.a + initial_state_.b);
  return state;
}

double StationarySolver::initial_above(double phi) const {
  if (initial_state_.kind == base::Distribution::Kind::normal)
    return initial_state_.b > 0 ? 1 - normal_cdf((phi - initial_state_.a) / initial_state_.b)
                                : (initial_state_.a > phi ? 1.0 : 0.0);
  const double lo = initial_state_.a, hi = initial_state_.b;
  return hi > lo ? std::clamp((hi - phi) / (hi - lo), 0.0, 1.0) : (lo > phi ? 1.0 : 0.0);
}

namespace {

// Roots of a unit's force, increasing: stable and unstable alternate, from a stable one at
// each end. Well k is roots[2k]; its basin, from which the flow ends in it, lies between the
// unstable roots next to it.
std::pair<double, double> basin(const std::vector<double>& roots, std::size_t k) {
  return {k > 0 ? roots[2 * k - 1] : -inf, 2 * k + 1 < roots.size() ? roots[2 * k + 1] : inf};
}

}  // namespace

MeanField StationarySolver::wells_field(HistoryState& s, double sigma,
                                        bool choose_initial_wells) const {
  const FixedPointCurve curve(model_, sigma, s.m == 0 ? 1e-14 : s.m);
  MeanField field;
  field.min_stiffness = inf;
  for (HistoryState::Node& node : s.nodes) {
    const auto roots = curve.fixed_points(node.delta);
    const std::size_t wells = (roots.size() + 1) / 2;
    if (roots.size() % 2 == 0 || wells > HistoryState::max_wells)
      throw std::logic_error("stationary: a unit's force has " + std::to_string(roots.size()) +
                             " roots, not 1, 3 or 5");
    if (wells > 1) s.any_bistable = true;
    std::array<double, HistoryState::max_wells> share{};
    for (std::size_t k = 0; k < wells; ++k) {
      const auto [lo, hi] = basin(roots, k);
      if (choose_initial_wells) {
        share[k] = initial_above(lo) - initial_above(hi);
      } else {
        // The units of each well of the previous field flow, in the new landscape, to the well
        // whose basin holds their position: a well that vanished empties into its neighbour.
        for (std::size_t old = 0; old < node.wells; ++old)
          if (node.phi[old] >= lo && node.phi[old] < hi) share[k] += node.share[old];
      }
    }
    node.wells = wells;
    node.share = share;
    for (std::size_t k = wells; k-- > 0;) {
      node.phi[k] = roots[2 * k];
      if (share[k] <= 0) continue;
      const double phi = node.phi[k], w = node.weight * share[k];
      const double a = model_.curvature(node.delta, phi) + sigma;
      field.mean += w * phi;
      field.secular += w * sigma / a;
      field.min_stiffness = std::min(field.min_stiffness, a);
      field.lyapunov +=
          w * (model_.potential(node.delta, phi) + 0.5 * sigma * (phi - s.m) * (phi - s.m));
    }
  }
  return field;
}

MeanField StationarySolver::relax(HistoryState& s, double sigma, bool choose_initial_wells) const {
  MeanField field;
  double walk = 1e-4, previous_residual = 0;
  for (int it = 0; it < 100000; ++it) {
    if (it % 256 == 0) check_stop();
    field = wells_field(s, sigma, choose_initial_wells);
    const double residual = field.mean - s.m;
    if (std::abs(residual) < 1e-12 * std::max(1.0, std::abs(s.m))) break;
    // Newton at fixed occupation near a stable fixed point. Past a fold (∂M/∂m ≥ 1) the map
    // crawls through the ghost of the lost fixed point, so m walks in the direction of
    // M(m) − m with doubling steps instead, shrinking when it overshoots. Steps stay short
    // (≤ max_step) so that no range of m in which some unit's well disappears is jumped over.
    constexpr double max_step = 0.02;
    if (residual * previous_residual < 0) walk = std::max(0.25 * walk, 1e-12);
    previous_residual = residual;
    double step;
    if (field.secular < 1 - 1e-6) {
      step = residual / (1 - field.secular);
    } else {
      step = std::copysign(walk, residual);
      walk = std::min(2 * walk, max_step);
    }
    s.m += std::clamp(step, -max_step, max_step);
  }
  return field;
}

Branch StationarySolver::history(const std::vector<double>& sigma, double* sigma_joined) const {
  Branch branch;
  *sigma_joined = nan;
  HistoryState state = history_start();
  for (std::size_t k = 0; k < sigma.size(); ++k) {
    const HistoryState before = state;
    const MeanField field = relax(state, sigma[k], k == 0);
    branch.points.push_back({sigma[k], state.m, field.stable(), field.lyapunov});
    if (std::isnan(*sigma_joined) && k > 0 && state.joined() && !before.joined()) {
      // Bisect the coupling at which the sweep lands on the ordered branch.
      double lo = sigma[k - 1], hi = sigma[k];
      for (int it = 0; it < 30; ++it) {
        HistoryState trial = before;
        const double mid = std::sqrt(lo * hi);
        relax(trial, mid, false);
        (trial.joined() ? hi : lo) = mid;
        state.any_bistable |= trial.any_bistable;
      }
      *sigma_joined = hi;
    }
  }
  if (!state.any_bistable) *sigma_joined = nan;
  return branch;
}

CriticalCouplings StationarySolver::critical(const Branch& ordered, const Branch& symmetric,
                                             double sigma_joined) const {
  CriticalCouplings c{sigma_joined, nan, nan};
  if (model_.depth == 0) return {nan, nan, nan};
  const auto& p = ordered.points;
  // Order is lost where the stable ordered branch ends: at its first fold along the
  // continuation (a first-order loss), or where it reaches m = 0 (a continuous one).
  if (!ordered.folds.empty())
    c.sigma_c2 = ordered.folds.front().sigma;
  else if (!p.empty() && p.back().m == 0)
    c.sigma_c2 = p.back().sigma;
  // Coexistence: H per unit of the stable ordered branch equals the symmetric branch's (0)
  // where the symmetric branch is stable too.
  const auto symmetric_stable = [&](double s) {
    for (std::size_t k = 0; k + 1 < symmetric.points.size(); ++k)
      if (symmetric.points[k].sigma <= s && s <= symmetric.points[k + 1].sigma)
        return symmetric.points[k].stable && symmetric.points[k + 1].stable;
    return false;
  };
  for (std::size_t k = 0; k + 1 < p.size(); ++k) {
    check_stop();
    const auto &a = p[k], &b = p[k + 1];
    if (!a.stable || !b.stable || (a.lyapunov < 0) == (b.lyapunov < 0)) continue;
    // Secant on σ between the two branch points, each iterate solved back onto the branch.
    double s0 = a.sigma, h0 = a.lyapunov, s1 = b.sigma, h1 = b.lyapunov, m = a.m;
    for (int it = 0; it < 30 && std::abs(s1 - s0) > 1e-12 * s1; ++it) {
      const double s = s1 - h1 * (s1 - s0) / (h1 - h0);
      m += (b.m - a.m) * (s - s1) / (b.sigma - a.sigma);
      m = newton(  // back onto the branch, ∂M/∂m by central differences
          [&](double mm) {
            const double dm = 1e-7 * std::max(1.0, std::abs(mm));
            const double f = mm - ordered_field(s, mm).mean;
            const double slope =
                1 - (ordered_field(s, mm + dm).mean - ordered_field(s, mm - dm).mean) / (2 * dm);
            return f / slope;
          },
          m, 1e-13, 30);
      s0 = s1, h0 = h1;
      s1 = s, h1 = ordered_field(s, m).lyapunov;
    }
    if (symmetric_stable(s1)) {
      c.sigma_coexistence = s1;
      break;
    }
  }
  return c;
}

}  // namespace cdl::theory
