// population_reference: an independent brute-force reference for the N -> infinity limit of the
// effective theory, used to validate the error estimates of `cdl theory --units inf`.
//
// Dynamics (one unit per population node):
//   dphi_i/dt = Delta_i phi_i^D - phi_i^(2D+1) - gamma phi_i + sigma (m - phi_i),
//   m(t) = sum_i w_i phi_i  (sum of weights 1),
// integrated over t in [0, t_end] (10), sampled at t_k = t_end k / (samples - 1), k = 0..99.
// Observable: <m> = | mean of m(t_k) over the second half of the samples (k = 50..99) |.
//
// Method (deliberately different from cdl's, and sharing no code with it):
//  * Population: a tensor grid of equal-weight midpoint quantiles of the joint law of
//    (Delta, phi(0)), which are independent. Delta_j = F^-1((j + 1/2) / nD) with F the disorder
//    CDF (normal: own inverse, Acklam's rational approximation polished by two Halley steps on
//    erfc; uniform: linear), phi0_k = lo + (hi - lo)(k + 1/2) / nphi. Every node has weight
//    1 / (nD nphi), so m is a plain mean. (cdl uses Gauss-Legendre panels, graded tail panels and
//    a separatrix split instead.)
//    Bimodal disorder (bimodal:A:P, Delta = +A with probability P, -A with probability 1 - P,
//    as in cdl) is two atoms, not a quantile grid: two rows, Delta = +A and -A, each with its own
//    phi(0) midpoint grid of nphi nodes, the units of the +A row weighing P / nphi and those of
//    the -A row (1 - P) / nphi. nD is then 2 (the atoms; --n-disorder is not accepted), the only
//    resolution is nphi, and m is the weighted sum of the two row sums (each summed in the fixed
//    8-lane order). Checked against the closed form at D = 0 like the others (see below).
//  * Time stepping: explicit Cash-Karp 4(5) (cdl uses Dormand-Prince 5(4)), advancing with the
//    5th-order solution (local extrapolation), error norm max_i |err_i| / (atol + rtol
//    max(|phi_i|, |phi_i_new|)), PI step-size controller, steps clipped to land exactly on the
//    sample times, a small first step (the problem is stiff-ish at t = 0: for D = 4 and
//    phi0 = 2.3 the local Jacobian is about -9 * 2.3^8 = -7e3).
//  * The whole coupled population is integrated at once; m at every stage is a sum over the
//    units in a fixed order (fixed chunks, fixed 8-lane partial sums, chunk sums in order), so
//    the result does not depend on the thread count.
//
// Check of the program itself: at D = 0 the dynamics is linear and the coupling cancels in the
// mean, m' = E[Delta] - (1 + gamma) m, so m(t) = E[Delta] / (1 + gamma) + (m(0) - E[Delta] /
// (1 + gamma)) exp(-(1 + gamma) t) with m(0) = 0.3 for phi(0) ~ U(-1.7, 2.3) (the midpoint grid
// has exactly that mean). Normal:0:2, gamma = 0.001, sigma = 2, 1600 x 100 gives <m> =
// 3.951359e-4 (exact 3.9513593e-4); uniform:-1:3 gives 0.9980803310 (exact 0.99808033096);
// bimodal:1.8:0.65 (E[Delta] = 0.54), 2 x 100 and 2 x 1000 give 0.5391451412 (exact
// 0.53914514125); bimodal:1:0.2 (E[Delta] = -0.6), gamma = 0.01, sigma = 0.5, 2 x 37 gives
// 0.5929433614 (exact 0.59294336138).
//
// Modes:
//  1. One point, several resolutions (Cartesian product of the lists):
//       population_reference --depth 3 --gamma 0.001 --sigma-log10 0.65
//         --disorder normal:0:2 --n-disorder 1600,3200 --n-init 100,200
//     (bimodal: --n-init only, e.g. --disorder bimodal:1.8:0.65 --n-init 800,1600,3200)
//  2. A list of points -> CSV, with a resolution ladder per point:
//       population_reference --points FILE --output CSV [--runs-log LOG]
//     FILE: one point per line, "depth gamma disorder sigma_log10 sigma [n_init
//     [max_n_disorder [min_n_disorder]]]", '#' starts a comment; sigma_log10 is a label, sigma the
//     exact coupling (17 significant digits; "-" for pow(10, sigma_log10)). Per point: n_disorder =
//     1600, 3200, 6400 at n_init (default 200), doubling further while the Delta part of the
//     uncertainty (below) > --target (3e-4) and the point's budget (--budget seconds, 240) allows,
//     then the finest n_disorder at n_init / 2. reference = value v at (finest nD, n_init);
//     uncertainty = 1.5 max(|v - v(nD/2, n_init)|, |v(nD/2, n_init) - v(nD/4, n_init)| / 2,
//     |v - v(nD, n_init/2)|) (see run_points). Bimodal points have no Delta resolution: their
//     ladder doubles n_init instead (n_init, 2 n_init, 4 n_init, further while the uncertainty >
//     --target and the budget allows; max_n_disorder / min_n_disorder then bound n_init), and
//     uncertainty = 1.5 max(|v - v(n/2)|, |v(n/2) - v(n/4)| / 2). --runs-log LOG records every
//     integration and is reused as a cache (resume, or rebuild the CSV without integrating again).

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <limits>
#include <numbers>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#define PARALLEL_FOR _Pragma("omp parallel for schedule(static)")
#else
#define PARALLEL_FOR
#endif

namespace {

// ---------------------------------------------------------------------------------------------
// Disorder law and its quantile function.

// Inverse of the standard normal CDF: Acklam's rational approximation (relative error 1.15e-9)
// polished by two Halley steps on Phi(x) = erfc(-x / sqrt 2) / 2, which give full double
// precision. Only called for p <= 1/2 (the caller mirrors), so that erfc is evaluated where it is
// accurate and the quantile grid is exactly antisymmetric.
double normal_quantile_lower(double p) {
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                 -2.759285104469687e+02, 1.383577518672690e+02,
                                 -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                 -1.556989798598866e+02, 6.680131188771972e+01,
                                 -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                 -2.400758277161838e+00, -2.549732539343734e+00,
                                 4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                                 2.445134137142996e+00, 3.754408661907416e+00};
  constexpr double p_low = 0.02425;
  double x;
  if (p < p_low) {
    const double q = std::sqrt(-2 * std::log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else {
    const double q = p - 0.5, r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  }
  for (int it = 0; it < 2; ++it) {  // Halley on Phi(x) - p
    const double e = 0.5 * std::erfc(-x / std::numbers::sqrt2) - p;
    const double u = e * std::sqrt(2 * std::numbers::pi) * std::exp(0.5 * x * x);
    x -= u / (1 + 0.5 * x * u);
  }
  return x;
}

struct Disorder {
  enum class Kind { normal, uniform, bimodal } kind = Kind::normal;
  double a = 0, b = 2;  // normal: mean, std; uniform: lo, hi; bimodal: A, P = probability of +A
  std::string text = "normal:0:2";

  static Disorder parse(const std::string& s) {
    Disorder d;
    d.text = s;
    const auto c1 = s.find(':'), c2 = s.find(':', c1 == std::string::npos ? c1 : c1 + 1);
    if (c1 == std::string::npos || c2 == std::string::npos)
      throw std::invalid_argument("disorder must be normal:MU:STD, uniform:LO:HI or bimodal:A:P: " +
                                  s);
    const std::string kind = s.substr(0, c1);
    d.a = std::stod(s.substr(c1 + 1, c2 - c1 - 1));
    d.b = std::stod(s.substr(c2 + 1));
    if (kind == "normal") {
      d.kind = Kind::normal;
      if (!(d.b > 0)) throw std::invalid_argument("normal std must be > 0: " + s);
    } else if (kind == "uniform") {
      d.kind = Kind::uniform;
      if (!(d.b > d.a)) throw std::invalid_argument("uniform needs LO < HI: " + s);
    } else if (kind == "bimodal") {
      d.kind = Kind::bimodal;
      if (!(d.b >= 0 && d.b <= 1))
        throw std::invalid_argument("bimodal probability P must lie in [0, 1]: " + s);
    } else {
      throw std::invalid_argument("unknown disorder kind: " + s);
    }
    return d;
  }

  bool atomic() const { return kind == Kind::bimodal; }

  // The weights of the rows of nodes(): empty for equal weights (normal, uniform), else
  // {P, 1 - P} for the atoms {+A, -A}.
  std::vector<double> weights() const {
    if (kind == Kind::bimodal) return {b, 1 - b};
    return {};
  }

  // Midpoint quantiles F^-1((j + 1/2) / n), j = 0..n-1, exactly symmetric about the centre;
  // bimodal: the atoms {+A, -A} (n must be 2).
  std::vector<double> nodes(int n) const {
    if (kind == Kind::bimodal) {
      if (n != 2)
        throw std::invalid_argument("bimodal disorder has 2 atoms, not " + std::to_string(n) +
                                    " disorder nodes");
      return {a, -a};
    }
    std::vector<double> x(n);
    for (int j = 0; j < n; ++j) {
      const int jl = std::min(j, n - 1 - j);  // lower-half index
      const double p = (jl + 0.5) / n;        // <= 1/2
      double z;                               // standardised quantile, <= 0
      if (kind == Kind::normal) {
        z = (2 * jl + 1 == n) ? 0.0 : normal_quantile_lower(p);
      } else {
        z = p - 0.5;  // in units of (hi - lo), centred
      }
      if (j != jl) z = -z;
      x[j] = kind == Kind::normal ? a + b * z : 0.5 * (a + b) + (b - a) * z;
    }
    return x;
  }
};

// ---------------------------------------------------------------------------------------------
// The problem and the integrator.

struct Problem {
  int depth = 3;
  double gamma = 0.001;
  double sigma = 1;
  Disorder disorder;
  double init_lo = -1.7, init_hi = 2.3;
  bool normal_init = false;  // --init normal:MU:STD: midpoint quantiles of init_law instead
  Disorder init_law;
  double t_end = 10;
  int samples = 100;
  double rtol = 1e-8, atol = 1e-10;
  double first_step = 1e-5;
  long max_steps = 10'000'000;
};

struct RunResult {
  int n_disorder = 0, n_init = 0;
  double order = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> m;  // m(t_k)
  long accepted = 0, rejected = 0;
  double seconds = 0;
  bool ok = false;
};

// Cash-Karp 4(5) tableau (Cash & Karp 1990, ACM TOMS 16:201). The right-hand side is
// autonomous, so the nodes c_i are not needed.
constexpr double a21 = 1.0 / 5;
constexpr double a31 = 3.0 / 40, a32 = 9.0 / 40;
constexpr double a41 = 3.0 / 10, a42 = -9.0 / 10, a43 = 6.0 / 5;
constexpr double a51 = -11.0 / 54, a52 = 5.0 / 2, a53 = -70.0 / 27, a54 = 35.0 / 27;
constexpr double a61 = 1631.0 / 55296, a62 = 175.0 / 512, a63 = 575.0 / 13824,
                 a64 = 44275.0 / 110592, a65 = 253.0 / 4096;
constexpr double b1 = 37.0 / 378, b3 = 250.0 / 621, b4 = 125.0 / 594, b6 = 512.0 / 1771;  // 5th
constexpr double e1 = b1 - 2825.0 / 27648, e3 = b3 - 18575.0 / 48384, e4 = b4 - 13525.0 / 55296,
                 e5 = -277.0 / 14336, e6 = b6 - 1.0 / 4;  // 5th minus 4th order weights

constexpr long kChunkUnits = 2048;  // about this many units (whole rows) per summation chunk
constexpr int kLanes = 8;

// Local force Delta phi^D - phi^(2D+1) - gamma phi + sigma (m - phi), D fixed at compile time.
template <int D>
inline double force(double phi, double delta, double gamma, double sigma, double m) {
  double p = 1;
  for (int k = 0; k < D; ++k) p *= phi;
  return p * (delta - p * phi) - gamma * phi + sigma * (m - phi);
}

// The population state and its work arrays (contiguous, one entry per unit). Unit index
// j * n_init + k (row j = disorder node, column k = initial-state node): a fixed order. The
// disorder is stored once per row, which saves one array of memory traffic per stage. Rows of
// unequal weight (bimodal atoms) are summed row by row and weighted; equal weights are one plain
// sum over the chunk's units.
class Population {
 public:
  Population(const Problem& pr, int n_disorder, int n_init)
      : pr_(pr),
        rows_(n_disorder),
        cols_(n_init),
        n_(static_cast<long>(n_disorder) * n_init),
        delta_(pr.disorder.nodes(n_disorder)),
        row_weight_(pr.disorder.weights()) {
    y_.resize(n_);
    for (auto* k : {&k1_, &k2_, &k3_, &k4_, &k5_, &stage_, &ynew_}) k->resize(n_);
    const std::vector<double> normal_starts =
        pr.normal_init ? pr.init_law.nodes(n_init) : std::vector<double>{};
    for (long j = 0; j < rows_; ++j)
      for (long k = 0; k < cols_; ++k)
        y_[j * cols_ + k] = pr.normal_init
                                ? normal_starts[static_cast<std::size_t>(k)]
                                : pr.init_lo + (pr.init_hi - pr.init_lo) * ((k + 0.5) / n_init);
    rows_per_chunk_ = std::max(1L, kChunkUnits / cols_);
    n_chunks_ = (rows_ + rows_per_chunk_ - 1) / rows_per_chunk_;
    partial_.resize(n_chunks_);
    partial_err_.resize(n_chunks_);
  }

  // Mean of an array in the fixed order.
  double mean(const std::vector<double>& v) {
    const double* x = v.data();
    PARALLEL_FOR
    for (long c = 0; c < n_chunks_; ++c) partial_[c] = chunk_part(x, c);
    return total_mean();
  }

  RunResult integrate() {
    switch (pr_.depth) {
      case 0:
        return integrate_depth<0>();
      case 1:
        return integrate_depth<1>();
      case 2:
        return integrate_depth<2>();
      case 3:
        return integrate_depth<3>();
      case 4:
        return integrate_depth<4>();
      case 5:
        return integrate_depth<5>();
      case 6:
        return integrate_depth<6>();
      default:
        throw std::invalid_argument("depth must be 0..6");
    }
  }

 private:
  long row_lo(long c) const { return c * rows_per_chunk_; }
  long row_hi(long c) const { return std::min(rows_, (c + 1) * rows_per_chunk_); }
  long unit_lo(long c) const { return row_lo(c) * cols_; }
  long unit_hi(long c) const { return row_hi(c) * cols_; }

  static double chunk_sum(const double* x, long lo, long hi) {
    double acc[kLanes] = {0, 0, 0, 0, 0, 0, 0, 0};
    long i = lo;
    for (; i + kLanes <= hi; i += kLanes)
      for (int l = 0; l < kLanes; ++l) acc[l] += x[i + l];
    for (int l = 0; i < hi; ++i, ++l) acc[l] += x[i];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  }
  double ordered_total() const {
    double s = 0;
    for (long c = 0; c < n_chunks_; ++c) s += partial_[c];
    return s;
  }
  // Chunk c's part of the mean of x: the plain sum of its units (equal weights), or the sums of
  // its rows times their weights (divided by the row length in total_mean).
  double chunk_part(const double* x, long c) const {
    if (row_weight_.empty()) return chunk_sum(x, unit_lo(c), unit_hi(c));
    double s = 0;
    for (long r = row_lo(c); r < row_hi(c); ++r)
      s += row_weight_[r] * chunk_sum(x, r * cols_, (r + 1) * cols_);
    return s;
  }
  // The mean from the chunk parts in partial_.
  double total_mean() const {
    return ordered_total() / static_cast<double>(row_weight_.empty() ? n_ : cols_);
  }

  // One stage: k_out = f(stage, m_stage), then stage <- y + h * sum_j coef_j k_j (next stage
  // state, with k_out included via coef of the last argument), returning the mean of the new
  // stage state. Fusing the two passes halves the memory traffic of the stage state.
  template <int D, int NK>
  double stage(double m_stage, double* kout, const double* const* ks, const double* coef,
               double h) {
    const double g = pr_.gamma, s = pr_.sigma;
    const double* __restrict delta = delta_.data();
    const double* __restrict y = y_.data();
    double* __restrict st = stage_.data();
    double* __restrict ko = kout;
    const double* __restrict q[NK > 0 ? NK : 1];
    for (int j = 0; j < NK; ++j) q[j] = ks[j];
    PARALLEL_FOR
    for (long c = 0; c < n_chunks_; ++c) {
      for (long r = row_lo(c); r < row_hi(c); ++r) {
        const double d = delta[r];
        const long lo = r * cols_, hi = lo + cols_;
        for (long i = lo; i < hi; ++i) {
          // The first stage reads the state itself (no copy into the stage array).
          const double x = NK == 0 ? y[i] : st[i];
          const double f = force<D>(x, d, g, s, m_stage);
          ko[i] = f;
          double incr = coef[NK] * f;  // contribution of the new slope
          for (int j = 0; j < NK; ++j) incr += coef[j] * q[j][i];
          st[i] = y[i] + h * incr;
        }
      }
      partial_[c] = chunk_part(st, c);
    }
    return total_mean();
  }

  // Last stage: k6 = f(stage, m6), then the 5th-order solution into ynew, the error norm
  // (returned) and the mean of ynew (into *m_new).
  template <int D>
  double last_stage(double m_stage, double h, double* m_new) {
    const double g = pr_.gamma, s = pr_.sigma, rtol = pr_.rtol, atol = pr_.atol;
    const double* delta = delta_.data();
    const double* y = y_.data();
    const double* st = stage_.data();
    const double *p1 = k1_.data(), *p3 = k3_.data(), *p4 = k4_.data(), *p5 = k5_.data();
    double* yn = ynew_.data();
    PARALLEL_FOR
    for (long c = 0; c < n_chunks_; ++c) {
      double emax = 0;
      for (long r = row_lo(c); r < row_hi(c); ++r) {
        const double d = delta[r];
        const long lo = r * cols_, hi = lo + cols_;
        for (long i = lo; i < hi; ++i) {
          const double f = force<D>(st[i], d, g, s, m_stage);  // k6, not stored
          const double yi = y[i];
          const double ynew = yi + h * (b1 * p1[i] + b3 * p3[i] + b4 * p4[i] + b6 * f);
          const double err = h * (e1 * p1[i] + e3 * p3[i] + e4 * p4[i] + e5 * p5[i] + e6 * f);
          yn[i] = ynew;
          const double scale = atol + rtol * std::max(std::abs(yi), std::abs(ynew));
          emax = std::max(emax, std::abs(err) / scale);
        }
      }
      partial_err_[c] = emax;
      partial_[c] = chunk_part(yn, c);
    }
    double emax = 0;
    for (long c = 0; c < n_chunks_; ++c) emax = std::max(emax, partial_err_[c]);
    *m_new = total_mean();
    return emax;
  }

  // k1 = f(y, m) and stage <- y + h a21 k1; returns the mean of the stage state.
  template <int D>
  double first_stage(double m, double h) {
    const double coef[] = {a21};
    return stage<D, 0>(m, k1_.data(), nullptr, coef, h);
  }

  template <int D>
  RunResult integrate_depth() {
    RunResult r;
    const auto t0 = std::chrono::steady_clock::now();
    const int ns = pr_.samples;
    std::vector<double> times(ns);
    for (int k = 0; k < ns; ++k) times[k] = pr_.t_end * k / (ns - 1);
    times[ns - 1] = pr_.t_end;
    r.m.assign(ns, std::numeric_limits<double>::quiet_NaN());

    double t = 0, m = mean(y_);
    r.m[0] = m;
    int next = 1;
    double h = pr_.first_step, err_prev = 1e-4;
    // PI controller (Gustafsson): factor = safety * err^-alpha * err_prev^beta, order 4 + 1.
    constexpr double safety = 0.9, beta = 0.04, alpha = 0.2 - 0.75 * beta;
    constexpr double fac_min = 0.2, fac_max = 5.0;
    bool last_rejected = false;
    while (next < ns) {
      if (r.accepted + r.rejected >= pr_.max_steps) return finish(r, t0);
      const double target = times[next];
      double h_try = h;
      bool lands = false;
      if (t + h_try * 1.0001 >= target) {  // clip to land exactly on the sample time
        h_try = target - t;
        lands = true;
      }
      const double* kk1[] = {k1_.data()};
      const double* kk2[] = {k1_.data(), k2_.data()};
      const double* kk3[] = {k1_.data(), k2_.data(), k3_.data()};
      const double* kk4[] = {k1_.data(), k2_.data(), k3_.data(), k4_.data()};
      const double c3[] = {a31, a32};
      const double c4[] = {a41, a42, a43};
      const double c5[] = {a51, a52, a53, a54};
      const double c6[] = {a61, a62, a63, a64, a65};
      // Stage states are written into stage_; each call evaluates the slope of the current
      // stage state and forms the next one.
      double ms = first_stage<D>(m, h_try);
      ms = stage<D, 1>(ms, k2_.data(), kk1, c3, h_try);
      ms = stage<D, 2>(ms, k3_.data(), kk2, c4, h_try);
      ms = stage<D, 3>(ms, k4_.data(), kk3, c5, h_try);
      ms = stage<D, 4>(ms, k5_.data(), kk4, c6, h_try);
      double m_new = 0;
      const double err = last_stage<D>(ms, h_try, &m_new);
      if (!std::isfinite(err)) {
        ++r.rejected;
        h = h_try * fac_min;
        last_rejected = true;
        continue;
      }
      if (err <= 1) {
        ++r.accepted;
        t = lands ? target : t + h_try;
        y_.swap(ynew_);
        m = m_new;
        if (lands) r.m[next++] = m;
        double fac = safety * std::pow(err, -alpha) * std::pow(err_prev, beta);
        fac = std::clamp(fac, fac_min, last_rejected ? 1.0 : fac_max);
        // A clipped step says nothing about the natural step: keep the larger proposal.
        h = lands ? std::max(h, h_try * fac) : h_try * fac;
        err_prev = std::max(err, 1e-4);
        last_rejected = false;
      } else {
        ++r.rejected;
        h = h_try * std::max(fac_min, safety * std::pow(err, -alpha));
        last_rejected = true;
      }
      if (h < 1e-14) return finish(r, t0);
    }
    double s = 0;
    const int first = ns / 2;
    for (int k = first; k < ns; ++k) s += r.m[k];
    r.order = std::abs(s / (ns - first));
    r.ok = true;
    return finish(r, t0);
  }

  static RunResult& finish(RunResult& r, std::chrono::steady_clock::time_point t0) {
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
  }

  const Problem& pr_;
  long rows_, cols_, n_;
  long rows_per_chunk_ = 1, n_chunks_ = 0;
  std::vector<double> delta_;       // per row
  std::vector<double> row_weight_;  // per row; empty for equal weights
  std::vector<double> y_, k1_, k2_, k3_, k4_, k5_, stage_, ynew_;
  std::vector<double> partial_, partial_err_;
};

RunResult run(const Problem& pr, int n_disorder, int n_init) {
  const auto t0 = std::chrono::steady_clock::now();
  Population pop(pr, n_disorder, n_init);
  RunResult r = pop.integrate();
  r.n_disorder = n_disorder;
  r.n_init = n_init;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

// ---------------------------------------------------------------------------------------------
// Command line.

std::vector<int> parse_int_list(const std::string& s) {
  std::vector<int> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const int v = std::stoi(item);
    if (v < 1) throw std::invalid_argument("resolutions must be >= 1: " + s);
    out.push_back(v);
  }
  if (out.empty()) throw std::invalid_argument("empty list: " + s);
  return out;
}

void usage() {
  std::cout
      << "usage:\n"
         "  population_reference --depth D --gamma G (--sigma S | --sigma-log10 X)\n"
         "      --disorder normal:MU:STD|uniform:LO:HI|bimodal:A:P --n-disorder N1[,N2..]\n"
         "      --n-init M1[,M2..]   (bimodal: 2 atoms, --n-init only)\n"
         "      [--rtol R] [--atol A] [--trace]\n"
         "  population_reference --points FILE --output CSV [--runs-log LOG] [--target 3e-4]\n"
         "      [--budget 240] [--rtol R] [--atol A]\n"
         "common: --init LO:HI (default -1.7:2.3) or normal:MU:STD, --t-end 10, --samples 100, "
         "--threads T\n"
         "Prints <m> = |mean of m(t_k), k >= samples/2| and the wall time per resolution.\n";
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

void print_run(const RunResult& r) {
  std::printf(
      "  n_disorder %6d  n_init %5d  units %9ld  <m> %.10f  steps %6ld (+%ld rej)  %.2f s\n",
      r.n_disorder, r.n_init, static_cast<long>(r.n_disorder) * r.n_init, r.order, r.accepted,
      r.rejected, r.seconds);
  std::fflush(stdout);
}

struct Point {
  int depth;
  double gamma;
  std::string disorder;
  std::string sigma_log10;
  std::string sigma;
  int n_init = 200;
  int max_n_disorder = 1 << 20;
  int min_n_disorder = 0;  // refine at least to this, whatever the estimate says
};

// The key of one integration in the runs log: everything the result depends on.
std::string run_key(const Problem& pr, int n_disorder, int n_init) {
  char buf[512];
  std::snprintf(buf, sizeof buf, "%d,%.17g,%s,%.17g,%.17g:%.17g,%.17g,%d,%.17g,%.17g,%d,%d",
                pr.depth, pr.gamma, pr.disorder.text.c_str(), pr.sigma, pr.init_lo, pr.init_hi,
                pr.t_end, pr.samples, pr.rtol, pr.atol, n_disorder, n_init);
  return buf;
}

// The runs log records every integration (one line each) and doubles as a cache: a run whose key
// is already in the log is not repeated, so an interrupted list resumes, and the CSV can be
// rebuilt (e.g. after a change of the uncertainty rule) without integrating again.
class RunsLog {
 public:
  explicit RunsLog(const std::string& path) {
    if (path.empty()) return;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      // label, the 11 key fields, order, accepted, rejected, seconds.
      std::vector<std::string> f;
      std::stringstream ss(line);
      std::string item;
      while (std::getline(ss, item, ',')) f.push_back(item);
      if (f.size() != 16) continue;
      std::string key = f[1];
      for (int i = 2; i <= 11; ++i) key += ',' + f[i];
      RunResult r;
      r.n_disorder = std::stoi(f[10]);
      r.n_init = std::stoi(f[11]);
      r.order = std::stod(f[12]);
      r.accepted = std::stol(f[13]);
      r.rejected = std::stol(f[14]);
      r.seconds = std::stod(f[15]);
      r.ok = std::isfinite(r.order);
      cache_.emplace_back(key, r);
    }
    out_.open(path, std::ios::app);
    if (!out_) throw std::runtime_error("cannot write " + path);
    if (cache_.empty())
      out_ << "# sigma_log10,depth,gamma,disorder,sigma,init,t_end,samples,rtol,atol,n_disorder,"
              "n_init,order,accepted,rejected,seconds\n";
  }

  // The cached result, or a new integration (appended to the log).
  RunResult run_or_reuse(const Problem& pr, const std::string& label, int n_disorder, int n_init,
                         bool* reused) {
    const std::string key = run_key(pr, n_disorder, n_init);
    for (const auto& [k, r] : cache_)
      if (k == key) {
        *reused = true;
        return r;
      }
    *reused = false;
    RunResult r = run(pr, n_disorder, n_init);
    if (out_.is_open()) {
      out_ << label << ',' << key << ',' << fmt("%.12f", r.order) << ',' << r.accepted << ','
           << r.rejected << ',' << fmt("%.3f", r.seconds) << '\n';
      out_.flush();
    }
    cache_.emplace_back(key, r);
    return r;
  }

 private:
  std::vector<std::pair<std::string, RunResult>> cache_;
  std::ofstream out_;
};

int run_points(const Problem& base, const std::string& file, const std::string& output,
               const std::string& runs_log, double target, double budget) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error("cannot read " + file);
  std::vector<Point> points;
  std::string line;
  while (std::getline(in, line)) {
    if (const auto h = line.find('#'); h != std::string::npos) line.resize(h);
    std::stringstream ss(line);
    Point p;
    if (!(ss >> p.depth >> p.gamma >> p.disorder >> p.sigma_log10 >> p.sigma)) continue;
    ss >> p.n_init >> p.max_n_disorder >> p.min_n_disorder;
    points.push_back(p);
  }
  std::ofstream csv(output);
  if (!csv) throw std::runtime_error("cannot write " + output);
  csv << "depth,gamma,disorder,sigma_log10,sigma,reference,uncertainty,n_disorder,n_init,"
         "seconds\n";
  RunsLog log(runs_log);
  double total = 0;
  for (const Point& p : points) {
    Problem pr = base;
    pr.depth = p.depth;
    pr.gamma = p.gamma;
    pr.disorder = Disorder::parse(p.disorder);
    pr.sigma = p.sigma == "-" ? std::pow(10.0, std::stod(p.sigma_log10)) : std::stod(p.sigma);
    std::printf("point D=%d gamma=%g %s sigma=10^%s=%.17g\n", p.depth, p.gamma, p.disorder.c_str(),
                p.sigma_log10.c_str(), pr.sigma);
    std::fflush(stdout);
    double spent = 0;  // CPU seconds of this point's integrations (also when taken from the log)
    const auto compute = [&](int nd, int ni) {
      bool reused = false;
      const RunResult r = log.run_or_reuse(pr, p.sigma_log10, nd, ni, &reused);
      print_run(r);
      if (reused) std::printf("    (from the runs log)\n");
      spent += r.seconds;
      return r;
    };
    // Uncertainty. The quadrature error is O(1/n), not O(1/n^2): for normal disorder the
    // midpoint quantile rule misses tail mass (its variance is low by about 1.3/n, an
    // O(log(n)/n) bias), and for both laws the jumps at the separatrix give O(1/n) terms of
    // varying sign. For a clean 1/n sequence the last difference |v(n) - v(n/2)| equals the
    // error of v(n) (bench/validation_points.md: 3.4e-5 stated, 3.5e-5 actual), so it is no
    // bound by itself. Hence: the last difference in Delta, half of the one before it (guards
    // against a lucky crossing of an oscillating sequence), the difference to n_init / 2, and
    // a factor 1.5, which covers local orders down to 0.74 (the tail bias has about 0.9).
    constexpr double kSafety = 1.5;
    const auto ladder_uncertainty = [&](const std::vector<RunResult>& l) {
      const std::size_t n = l.size();
      double u = 0;
      if (n >= 2) u = std::abs(l[n - 1].order - l[n - 2].order);
      if (n >= 3) u = std::max(u, 0.5 * std::abs(l[n - 2].order - l[n - 3].order));
      return kSafety * u;
    };
    // The ladder doubles n_disorder at n_init; bimodal disorder (two atoms, no Delta
    // resolution) doubles n_init instead, from the point's n_init, and max_n_disorder /
    // min_n_disorder bound n_init.
    const bool atomic = pr.disorder.atomic();
    const auto level = [&](int n) { return atomic ? compute(2, n) : compute(n, p.n_init); };
    const auto resolution = [&](const RunResult& r) { return atomic ? r.n_init : r.n_disorder; };
    std::vector<RunResult> ladder;
    const std::vector<int> first_levels =
        atomic ? std::vector<int>{p.n_init, 2 * p.n_init, 4 * p.n_init}
               : std::vector<int>{1600, 3200, 6400};
    for (int n : first_levels) {
      if (n > p.max_n_disorder && !ladder.empty()) break;
      ladder.push_back(level(n));
    }
    // Refine while not converged and the budget allows (the next level costs about twice the
    // last one, and the final n_init / 2 check about as much as the last one).
    while (ladder.size() >= 2) {
      const int n = 2 * resolution(ladder.back());
      const double projected = 3 * ladder.back().seconds;
      if (n > p.max_n_disorder) break;
      if (n > p.min_n_disorder &&
          (ladder_uncertainty(ladder) <= target || spent + projected > budget))
        break;
      ladder.push_back(level(n));
    }
    const RunResult fine = ladder.back();
    double unc = ladder_uncertainty(ladder);
    bool ok = fine.ok;
    if (!atomic) {  // the cross check in phi(0); for atoms the ladder is already in phi(0)
      const RunResult half_init = compute(fine.n_disorder, std::max(1, p.n_init / 2));
      unc = std::max(unc, kSafety * std::abs(fine.order - half_init.order));
      ok = ok && half_init.ok;
    }
    std::printf("  -> reference %.8f +- %.2e (%.1f s for this point)\n", fine.order,
                ok ? unc : std::numeric_limits<double>::quiet_NaN(), spent);
    total += spent;
    csv << p.depth << ',' << p.gamma << ',' << p.disorder << ',' << p.sigma_log10 << ','
        << fmt("%.17g", pr.sigma) << ',' << fmt("%.8f", fine.order) << ','
        << (ok ? fmt("%.2e", unc) : std::string("nan")) << ',' << fine.n_disorder << ','
        << fine.n_init << ',' << fmt("%.1f", spent) << '\n';
    csv.flush();
  }
  std::printf("total %.1f s\n", total);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Problem pr;
    std::vector<int> nds = {1600}, nis = {100};
    std::string points, output, runs_log;
    double target = 3e-4, budget = 240;
    bool trace = false, have_sigma = false, have_nds = false;
    int threads = 1;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      const auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
        return argv[++i];
      };
      if (a == "-h" || a == "--help") {
        usage();
        return 0;
      } else if (a == "--depth") {
        pr.depth = std::stoi(value());
      } else if (a == "--gamma") {
        pr.gamma = std::stod(value());
      } else if (a == "--sigma") {
        pr.sigma = std::stod(value());
        have_sigma = true;
      } else if (a == "--sigma-log10") {
        pr.sigma = std::pow(10.0, std::stod(value()));
        have_sigma = true;
      } else if (a == "--disorder") {
        pr.disorder = Disorder::parse(value());
      } else if (a == "--init") {
        const std::string v = value();
        if (v.rfind("normal:", 0) == 0) {
          pr.init_law = Disorder::parse(v);
          pr.normal_init = true;
          continue;
        }
        const auto c = v.find(':');
        if (c == std::string::npos) throw std::invalid_argument("--init LO:HI");
        pr.init_lo = std::stod(v.substr(0, c));
        pr.init_hi = std::stod(v.substr(c + 1));
      } else if (a == "--n-disorder") {
        nds = parse_int_list(value());
        have_nds = true;
      } else if (a == "--n-init") {
        nis = parse_int_list(value());
      } else if (a == "--rtol") {
        pr.rtol = std::stod(value());
      } else if (a == "--atol") {
        pr.atol = std::stod(value());
      } else if (a == "--t-end") {
        pr.t_end = std::stod(value());
      } else if (a == "--samples") {
        pr.samples = std::stoi(value());
      } else if (a == "--points") {
        points = value();
      } else if (a == "--output") {
        output = value();
      } else if (a == "--runs-log") {
        runs_log = value();
      } else if (a == "--target") {
        target = std::stod(value());
      } else if (a == "--budget") {
        budget = std::stod(value());
      } else if (a == "--threads") {
        threads = std::stoi(value());
      } else if (a == "--trace") {
        trace = true;
      } else {
        throw std::invalid_argument("unknown option " + a + " (see --help)");
      }
    }
    if (pr.samples < 2) throw std::invalid_argument("--samples must be >= 2");
#ifdef _OPENMP
    omp_set_num_threads(std::max(1, threads));
#else
    (void)threads;
#endif
    if (!points.empty()) {
      if (output.empty()) throw std::invalid_argument("--points needs --output");
      return run_points(pr, points, output, runs_log, target, budget);
    }
    if (!have_sigma) throw std::invalid_argument("give --sigma or --sigma-log10 (see --help)");
    if (pr.disorder.atomic()) {  // two atoms: the only resolution is n_init
      if (have_nds && nds != std::vector<int>{2})
        throw std::invalid_argument("bimodal disorder is 2 atoms: give --n-init only");
      nds = {2};
    }
    std::printf("D=%d gamma=%g sigma=%.17g disorder=%s rtol=%g atol=%g\n", pr.depth, pr.gamma,
                pr.sigma, pr.disorder.text.c_str(), pr.rtol, pr.atol);
    for (int nd : nds)
      for (int ni : nis) {
        const RunResult r = run(pr, nd, ni);
        print_run(r);
        if (trace)
          for (std::size_t k = 0; k < r.m.size(); ++k)
            std::printf("    t=%.6f m=%.12f\n", pr.t_end * k / (pr.samples - 1), r.m[k]);
      }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "population_reference: %s\n", e.what());
    return 2;
  }
}
