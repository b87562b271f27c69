#include "run_time_estimate.hpp"

#include <omp.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <functional>
#include <limits>
#include <numeric>

#include "base/fixed_order_sum.hpp"
#include "base/random.hpp"
#include "base/stop_request.hpp"
#include "sweep/driver.hpp"
#include "sweep/grid.hpp"
#include "sweep/work.hpp"
#include "theory/dopri5.hpp"
#include "theory/effective_dynamics.hpp"

namespace cdl::sim {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// CPU seconds of this thread (clock CLOCK_THREAD_CPUTIME_ID). The probes are timed in CPU time
// where they can: on a shared machine wall time also counts the other programs' turns, and a
// cluster task has its cores to itself.
double cpu_seconds(clockid_t clock) {
  timespec t{};
  clock_gettime(clock, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// ----------------------------------------------------------------------------- files and shards

// What the probes do not measure, fitted on the reference machine (bench/RESULTS.md) with runs
// of 20 units, where it is most of the time: the process (start, options, creating the file's
// layout, the summary read back) and each work item's writes and flush.
constexpr double process_seconds = 0.05;
constexpr double item_write_seconds = 1.2e-4;
constexpr double write_bytes_per_second = 1e9;

// Seconds per byte of touching fresh memory (page faults), measured on 4 MiB: a run touches its
// whole footprint once, each thread its own part. About 0.1 ms per MiB on bare metal, but 2.7 ms
// in the virtual machine of the reference measurements, where at large N it is a good part of
// a short run.
double touch_seconds_per_byte() {
  constexpr std::size_t bytes = std::size_t{4} << 20;
  double best = std::numeric_limits<double>::infinity();
  for (int k = 0; k < 2; ++k) {
    void* region = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED) return 0;
    volatile char* c = static_cast<char*>(region);
    const double start = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
    for (std::size_t i = 0; i < bytes; i += 4096) c[i] = 1;
    best = std::min(best, cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - start);
    munmap(region, bytes);
  }
  return best / static_cast<double>(bytes);
}

// The wall time of one shard: its items handed out largest estimated cost first (the items'
// own `cost`, as sweep::run_items orders them) to whichever of the threads is free first, each
// item then written under the writer's lock. `compute(item, inner_threads)` and `write(item)`
// are seconds.
double shard_seconds(const std::vector<sweep::WorkItem>& items, int threads,
                     const std::function<double(const sweep::WorkItem&, int)>& compute,
                     const std::function<double(const sweep::WorkItem&)>& write) {
  if (items.empty()) return 0;
  const int outer = static_cast<int>(std::clamp<long>(static_cast<long>(items.size()), 1, threads));
  const int inner = std::max(1, threads / outer);
  std::vector<double> busy(static_cast<std::size_t>(outer), 0.0);
  double writes = 0;
  for (const std::size_t k : sweep::largest_cost_first(items)) {
    const auto free = std::min_element(busy.begin(), busy.end());
    const double w = write(items[k]);
    *free += compute(items[k], inner) + w;
    writes += w;
  }
  // The writes are serialised: with cheap items the writer is the bottleneck.
  return std::max(*std::max_element(busy.begin(), busy.end()), writes);
}

// Every shard's line of the estimate: `fixed_seconds` (the process, the file's layout and
// memory) plus its items as shard_seconds runs them.
void add_shards(RunTimeEstimate& estimate, const std::vector<std::vector<sweep::WorkItem>>& shards,
                double fixed_seconds, int threads,
                const std::function<double(const sweep::WorkItem&, int)>& compute,
                const std::function<double(const sweep::WorkItem&)>& write) {
  for (const auto& shard : shards) {
    RunTimeEstimate::Shard s;
    s.items = static_cast<long>(shard.size());
    for (const auto& item : shard) s.points += static_cast<long>(item.sigma.size());
    s.seconds = fixed_seconds + shard_seconds(shard, threads, compute, write);
    estimate.shards.push_back(s);
  }
}

// What every shard does whatever its items: the process, laying out the whole file (the
// points' datasets and each realization's quenched data) and touching its memory once, each
// thread its part.
double fixed_seconds(double file_bytes, double memory_bytes, int threads) {
  return process_seconds + file_bytes / write_bytes_per_second +
         memory_bytes / threads * touch_seconds_per_byte();
}

// The items of every shard, as sweep::assign_shards assigns them (the same items and costs the
// shards will compute).
std::vector<std::vector<sweep::WorkItem>> items_by_shard(const std::vector<sweep::WorkItem>& items,
                                                         int shard_count) {
  const std::vector<int> shard_of = sweep::assign_shards(items, shard_count);
  std::vector<std::vector<sweep::WorkItem>> shards(static_cast<std::size_t>(shard_count));
  for (std::size_t i = 0; i < items.size(); ++i)
    shards[static_cast<std::size_t>(shard_of[i])].push_back(items[i]);
  return shards;
}

// The (outer, inner) thread split sweep::run_items uses for `items` items.
std::pair<int, int> thread_split(long items, int threads) {
  const int outer = static_cast<int>(std::clamp<long>(items, 1, threads));
  return {outer, std::max(1, threads / outer)};
}

// Runs body(thread) on `outer` threads at once, as sweep::run_items runs items (nested
// regions enabled when every item has threads of its own).
void run_concurrently(int outer, int inner, const std::function<void(int)>& body) {
  if (outer == 1) return body(0);
  omp_set_max_active_levels(inner > 1 ? 2 : 1);
#pragma omp parallel num_threads(outer)
  body(omp_get_thread_num());
}

// ----------------------------------------------------------------------------- theory: steps

// The DOPRI5 step-size controller of theory::Dopri5::integrate, step for step (the same
// tableau, starting step, PI controller, step budget and failure checks), counting trial steps
// only and with a weighted RMS error norm: a probe population of a few hundred nodes, each
// weighted by the units it stands for, then takes the steps the whole population of N units
// would. The units that limit the step (the extremes of the disorder) are nodes of their own
// with weight 1/N; an unweighted norm over a plain subsample misses them, and a subsample of
// 512 units of 100 000 takes half the steps.
class TrialCounter {
 public:
  using Array = Eigen::ArrayXd;
  struct Count {
    double trials = 0;  // accepted and rejected trial steps over [0, t_end]
    bool failed = false;
  };

  // Integrations of more than `cap` trials stop there and are extrapolated to t_end at the
  // rate of their second half.
  TrialCounter(const theory::Dopri5Settings& settings, long cap) : settings_(settings), cap_(cap) {}

  template <class System>
  Count integrate(System& f, Array& y, const Array& weight, double t_end) {
    using namespace theory::dopri5_coefficients;
    constexpr double safety = 0.9, fac_min = 0.2, fac_max = 10.0, beta = 0.04;
    constexpr double expo = 0.2 - beta * 0.75;
    const Eigen::Index n = y.size();
    for (Array* a : {&k1_, &k2_, &k3_, &k4_, &k5_, &k6_, &k7_, &stage_, &next_}) a->resize(n);
    const auto rms = [&](const auto& x) { return std::sqrt((weight * x.square()).sum()); };
    f(y, k1_);
    if (!theory::all_finite(y) || !theory::all_finite(k1_)) return {0, true};
    // The starting step (theory::Dopri5::initial_step).
    const double rtol = settings_.rtol, atol = settings_.atol;
    const Array scale = atol + rtol * y.abs();
    const double d0 = rms(y / scale), d1 = rms(k1_ / scale);
    double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
    h0 = std::min(h0, t_end);
    stage_ = y + h0 * k1_;
    f(stage_, k2_);
    const double d2 = rms((k2_ - k1_) / scale) / h0;
    const double dmax = std::max(d1, d2);
    const double h1 = dmax <= 1e-15 ? std::max(1e-6, h0 * 1e-3) : std::pow(0.01 / dmax, 1.0 / 5);
    double h = std::min({100 * h0, h1, t_end});
    double t = 0, err_old = 1e-4;
    bool last_rejected = false;
    long trials = 0;
    history_.clear();
    while (t < t_end) {
      if (trials >= settings_.max_steps) return {static_cast<double>(trials), true};
      if (trials >= cap_) return extrapolate(trials, t, t_end);
      if (h < 16 * std::numeric_limits<double>::epsilon() * std::max(std::abs(t), 1.0))
        return {static_cast<double>(trials), true};
      const bool last_step = t + 1.01 * h >= t_end;
      if (last_step) h = t_end - t;
      stage_ = y + h * a21 * k1_;
      f(stage_, k2_);
      stage_ = y + h * (a31 * k1_ + a32 * k2_);
      f(stage_, k3_);
      stage_ = y + h * (a41 * k1_ + a42 * k2_ + a43 * k3_);
      f(stage_, k4_);
      stage_ = y + h * (a51 * k1_ + a52 * k2_ + a53 * k3_ + a54 * k4_);
      f(stage_, k5_);
      stage_ = y + h * (a61 * k1_ + a62 * k2_ + a63 * k3_ + a64 * k4_ + a65 * k5_);
      f(stage_, k6_);
      next_ = y + h * (a71 * k1_ + a73 * k3_ + a74 * k4_ + a75 * k5_ + a76 * k6_);
      f(next_, k7_);
      ++trials;
      double sum = 0;
      for (Eigen::Index i = 0; i < n; ++i) {
        const double scale = atol + rtol * std::max(std::abs(y[i]), std::abs(next_[i]));
        const double local_error =
            h * (e1 * k1_[i] + e3 * k3_[i] + e4 * k4_[i] + e5 * k5_[i] + e6 * k6_[i] + e7 * k7_[i]);
        sum += weight[i] * (local_error / scale) * (local_error / scale);
      }
      const double err = std::sqrt(sum);
      if (!(err <= 1.0)) {
        h /= std::isfinite(err) ? std::min(1 / fac_min, std::pow(err, expo) / safety) : 1 / fac_min;
        last_rejected = true;
        continue;
      }
      t = last_step ? t_end : t + h;
      y.swap(next_);
      k1_.swap(k7_);
      if (!theory::all_finite(y)) return {static_cast<double>(trials), true};
      history_.push_back({t, trials});
      double fac = std::pow(err, expo) / std::pow(err_old, beta);
      fac = std::clamp(fac / safety, 1 / fac_max, 1 / fac_min);
      double h_new = h / fac;
      if (last_rejected) h_new = std::min(h_new, h);
      err_old = std::max(err, 1e-4);
      last_rejected = false;
      h = h_new;
    }
    return {static_cast<double>(trials), false};
  }

 private:
  struct Mark {
    double t;
    long trials;
  };
  // The trials to t_end at the rate of the second half of [0, t], capped by the step budget.
  Count extrapolate(long trials, double t, double t_end) const {
    if (history_.empty() || t <= 0) return {static_cast<double>(settings_.max_steps), true};
    const auto half = std::lower_bound(history_.begin(), history_.end(), t / 2,
                                       [](const Mark& m, double time) { return m.t < time; });
    const double rate =
        half->t < t ? (trials - half->trials) / (t - half->t) : trials / std::max(t, 1e-300);
    const double total = trials + rate * (t_end - t);
    if (total >= static_cast<double>(settings_.max_steps))
      return {static_cast<double>(settings_.max_steps), true};
    return {total, false};
  }

  theory::Dopri5Settings settings_;
  long cap_;
  Array k1_, k2_, k3_, k4_, k5_, k6_, k7_, stage_, next_;
  std::vector<Mark> history_;
};

// The disorder and initial states of realization `run`, as experiments::draw_realization draws
// them, without its graph.
void draw_quenched(const experiments::TheorySweep& sweep, int run, Eigen::ArrayXd& disorder,
                   Eigen::ArrayXd& initial_state) {
  const auto r = static_cast<std::uint64_t>(run);
  disorder.resize(sweep.units);
  initial_state.resize(sweep.units);
  sweep.disorder.draw(base::CounterRng(sweep.seed, base::Purpose::disorder, r), run, disorder);
  sweep.initial_state.draw(base::CounterRng(sweep.seed, base::Purpose::initial_state, r), run,
                           initial_state);
}

// Up to this many units the probe integrates the realization itself, unweighted; above, 512
// units standing for strata of the population and the 32 most extreme disorders and initial
// states, each for itself.
constexpr int whole_population_limit = 640;
constexpr int probe_draw_limit = 1000000;
constexpr int bulk_nodes = 512;
constexpr int disorder_strata_count = 32;
constexpr int rider_nodes = 32;

// Splits [first, last) into `count` strata of equal size (±1) by `less`, in linear time: the
// returned count + 1 boundaries, every element of a stratum not above any of the next.
template <class It, class Less>
std::vector<It> strata(It first, It last, int count, Less less) {
  const auto size = last - first;
  std::vector<It> bounds;
  for (int g = 0; g <= count; ++g) bounds.push_back(first + size * g / count);
  // Selects the middle boundary of [lo, hi], then each half.
  const std::function<void(int, int)> select = [&](int lo, int hi) {
    if (hi - lo < 2) return;
    const int mid = (lo + hi) / 2;
    std::nth_element(bounds[static_cast<std::size_t>(lo)], bounds[static_cast<std::size_t>(mid)],
                     bounds[static_cast<std::size_t>(hi)], less);
    select(lo, mid);
    select(mid, hi);
  };
  select(0, count);
  return bounds;
}

struct ProbePopulation {
  Eigen::ArrayXd disorder, initial_state, weight;
  coupling::CouplingGraph graph;
  double sigma_scale = 1;  // a sparse graph's coupling, as a mean field: σ × mean degree / N
};

// Expected mean degree of the topology's graph on n units.
double mean_degree(const coupling::Topology& topology, double n) {
  switch (topology.kind) {
    case coupling::TopologyKind::complete:
      return n - 1;
    case coupling::TopologyKind::erdos_renyi:
      return topology.probability * (n - 1);
    case coupling::TopologyKind::watts_strogatz:
    case coupling::TopologyKind::ring:
      return topology.neighbours;
    case coupling::TopologyKind::star:
      return 2 * (n - 1) / n;
  }
  return n - 1;
}

ProbePopulation probe_population(const experiments::TheorySweep& sweep, int run) {
  ProbePopulation p;
  const int n = sweep.units;
  if (n <= whole_population_limit) {
    experiments::Realization r = experiments::draw_realization(sweep, run);
    p.disorder = r.disorder;
    p.initial_state = r.initial_state;
    p.weight = Eigen::ArrayXd::Constant(n, 1.0 / n);
    p.graph = std::move(r.graph);
    return p;
  }
  // Beyond a few million units the population is represented by its first ones (the draws are
  // per unit, so they are the realization's own).
  experiments::TheorySweep prefix = sweep;
  prefix.units = std::min(n, probe_draw_limit);
  const int drawn = prefix.units;
  Eigen::ArrayXd disorder, initial_state;
  draw_quenched(prefix, run, disorder, initial_state);
  std::vector<char> rider(static_cast<std::size_t>(drawn), 0);
  std::vector<int> order(static_cast<std::size_t>(drawn));
  for (const Eigen::ArrayXd* x : {&disorder, &initial_state}) {
    const double mean = base::fixed_order_mean(*x);
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + rider_nodes, order.end(), [&](int a, int b) {
      return std::abs((*x)[a] - mean) > std::abs((*x)[b] - mean);
    });
    for (int k = 0; k < rider_nodes; ++k) rider[static_cast<std::size_t>(order[k])] = 1;
  }
  std::vector<int> riders, rest;
  for (int i = 0; i < drawn; ++i) (rider[static_cast<std::size_t>(i)] ? riders : rest).push_back(i);
  // A stratum's weight: its share of the drawn units that are not riders, of the N − riders.
  const double share =
      (1 - static_cast<double>(riders.size()) / n) / static_cast<double>(rest.size());
  // The other units in strata of equal count: by disorder, then each by initial state; a
  // stratum's median unit stands for it. Unlike a random subsample, this keeps the collective
  // state (⟨m⟩(t), which an adiabatic chain carries on) with the population's.
  std::vector<int> bulk;
  std::vector<double> bulk_weight;
  const auto by = [](const Eigen::ArrayXd& x) {
    return [&x](int a, int b) { return x[a] < x[b]; };
  };
  const auto disorder_strata =
      strata(rest.begin(), rest.end(), disorder_strata_count, by(disorder));
  for (std::size_t g = 0; g + 1 < disorder_strata.size(); ++g) {
    const auto cells = strata(disorder_strata[g], disorder_strata[g + 1],
                              bulk_nodes / disorder_strata_count, by(initial_state));
    for (std::size_t c = 0; c + 1 < cells.size(); ++c) {
      if (cells[c] == cells[c + 1]) continue;
      const auto median = cells[c] + (cells[c + 1] - cells[c]) / 2;
      std::nth_element(cells[c], median, cells[c + 1], by(initial_state));
      bulk.push_back(*median);
      bulk_weight.push_back(static_cast<double>(cells[c + 1] - cells[c]) * share);
    }
  }
  const auto nodes = static_cast<Eigen::Index>(bulk.size() + riders.size());
  p.disorder.resize(nodes);
  p.initial_state.resize(nodes);
  p.weight.resize(nodes);
  Eigen::Index k = 0;
  for (std::size_t j = 0; j < bulk.size(); ++j, ++k) {
    p.disorder[k] = disorder[bulk[j]];
    p.initial_state[k] = initial_state[bulk[j]];
    p.weight[k] = bulk_weight[j];
  }
  for (const int i : riders) {
    p.disorder[k] = disorder[i];
    p.initial_state[k] = initial_state[i];
    p.weight[k++] = 1.0 / n;
  }
  p.graph = coupling::CouplingGraph::weighted_complete(p.weight);
  if (sweep.topology.kind != coupling::TopologyKind::complete)
    p.sigma_scale = mean_degree(sweep.topology, n) / n;
  return p;
}

// Trial steps of every point, [protocol][depth][sigma] flattened, with the points that fail
// (their chain then breaks: the rest of an adiabatic chain costs nothing).
struct StepTable {
  std::vector<double> trials;
  std::vector<char> failed;
  int realizations = 0;
  int stride = 1;  // every stride-th coupling of a chain probed, the others interpolated
};

// Probes the positions `positions` (indices into the protocol's visiting order) of one chain.
void probe_chain(const experiments::TheorySweep& sweep, const ProbePopulation& population,
                 int protocol_index, int depth_index, const std::vector<int>& positions,
                 TrialCounter& counter, std::vector<double>& trials, std::vector<char>& failed) {
  const sweep::Protocol protocol = sweep.protocols[static_cast<std::size_t>(protocol_index)];
  const std::vector<int> order = sweep::visiting_order(protocol, sweep.sigma);
  theory::EffectiveDynamics dynamics(sweep.depths[static_cast<std::size_t>(depth_index)],
                                     sweep.gamma, population.disorder, population.graph);
  Eigen::ArrayXd phi = population.initial_state;
  bool broken = false;
  for (const int position : positions) {
    const int s = order[static_cast<std::size_t>(position)];
    if (broken) {
      trials[static_cast<std::size_t>(s)] = 0;
      failed[static_cast<std::size_t>(s)] = 1;
      continue;
    }
    if (protocol == sweep::Protocol::nonadiabatic) phi = population.initial_state;
    dynamics.set_sigma(sweep.sigma[static_cast<std::size_t>(s)] * population.sigma_scale);
    const TrialCounter::Count c = counter.integrate(dynamics, phi, population.weight, sweep.t_end);
    trials[static_cast<std::size_t>(s)] = c.trials;
    failed[static_cast<std::size_t>(s)] = c.failed;
    broken = protocol != sweep::Protocol::nonadiabatic && c.failed;
  }
}

// Fills the couplings between probed positions of a chain by linear interpolation along the
// visiting order; after a probed failure of an adiabatic chain, the rest is broken.
void interpolate_chain(sweep::Protocol protocol, const std::vector<double>& sigma,
                       const std::vector<int>& positions, std::vector<double>& trials,
                       std::vector<char>& failed) {
  const std::vector<int> order = sweep::visiting_order(protocol, sigma);
  for (std::size_t k = 0; k + 1 < positions.size(); ++k) {
    const int a = positions[k], b = positions[k + 1];
    const auto sa = static_cast<std::size_t>(order[static_cast<std::size_t>(a)]);
    const auto sb = static_cast<std::size_t>(order[static_cast<std::size_t>(b)]);
    const bool broken = protocol != sweep::Protocol::nonadiabatic && failed[sa];
    for (int q = a + 1; q < b; ++q) {
      const auto s = static_cast<std::size_t>(order[static_cast<std::size_t>(q)]);
      const double x = static_cast<double>(q - a) / (b - a);
      trials[s] = broken ? 0 : (1 - x) * trials[sa] + x * trials[sb];
      failed[s] = broken;
    }
  }
}

// The positions of a chain of n couplings probed at `stride`: 0, stride, 2·stride, … and the last.
std::vector<int> strided_positions(int n, int stride) {
  std::vector<int> positions;
  for (int q = 0; q < n; q += stride) positions.push_back(q);
  if (positions.back() != n - 1) positions.push_back(n - 1);
  return positions;
}

// Integrator trial steps of every point, from probe populations of the first realizations,
// within about `budget` seconds: every coupling of every chain when it fits, else every
// stride-th coupling (at least 8 per chain), the rest interpolated; then more realizations
// (up to 4), averaged, while the budget lasts.
StepTable probe_steps(const experiments::TheorySweep& sweep, double budget) {
  const auto start = Clock::now();
  const int n_sigma = static_cast<int>(sweep.sigma.size());
  const int n_depth = static_cast<int>(sweep.depths.size());
  const int n_protocol = static_cast<int>(sweep.protocols.size());
  const auto size = static_cast<std::size_t>(n_protocol * n_depth * n_sigma);
  StepTable table;
  table.trials.assign(size, 0.0);
  table.failed.assign(size, 0);
  TrialCounter counter(sweep.integrator, 4000);
  std::vector<double> trials(static_cast<std::size_t>(n_sigma));
  std::vector<char> failed(static_cast<std::size_t>(n_sigma));
  // One realization at `stride`, added to the table.
  const auto probe_realization = [&](const ProbePopulation& population, int stride) {
    for (int p = 0; p < n_protocol; ++p)
      for (int d = 0; d < n_depth; ++d) {
        const std::vector<int> positions = strided_positions(n_sigma, stride);
        probe_chain(sweep, population, p, d, positions, counter, trials, failed);
        interpolate_chain(sweep.protocols[static_cast<std::size_t>(p)], sweep.sigma, positions,
                          trials, failed);
        for (int s = 0; s < n_sigma; ++s) {
          const auto at = static_cast<std::size_t>((p * n_depth + d) * n_sigma + s);
          table.trials[at] += trials[static_cast<std::size_t>(s)];
          table.failed[at] = table.failed[at] || failed[static_cast<std::size_t>(s)];
        }
      }
  };
  const ProbePopulation first = probe_population(sweep, 0);
  // A coarse pass first (at most 8 couplings per chain) tells what the full one would cost.
  const int coarse = std::max(1, (n_sigma + 6) / 7);
  const auto coarse_start = Clock::now();
  probe_realization(first, coarse);
  double pass_seconds = seconds_since(coarse_start);
  table.stride = coarse;
  if (coarse > 1) {
    const double probed = static_cast<double>(strided_positions(n_sigma, coarse).size());
    const double per_point = pass_seconds / probed;
    const double left = budget - seconds_since(start);
    const int stride = std::max(1, static_cast<int>(std::ceil(per_point * n_sigma / left)));
    if (left > 0 && stride < coarse) {
      std::fill(table.trials.begin(), table.trials.end(), 0.0);
      std::fill(table.failed.begin(), table.failed.end(), 0);
      const auto again = Clock::now();
      probe_realization(first, stride);
      pass_seconds = seconds_since(again);
      table.stride = stride;
    }
  }
  table.realizations = 1;
  for (int run = 1; run < std::min(sweep.runs, 4); ++run) {
    if (seconds_since(start) + 1.2 * pass_seconds > budget) break;
    probe_realization(probe_population(sweep, run), table.stride);
    ++table.realizations;
  }
  for (double& t : table.trials) t /= table.realizations;
  return table;
}

// ----------------------------------------------------------------------------- theory: costs

// Seconds per right-hand-side evaluation of the integrator at N units (with its share of the
// stages and the error norm) and per recorded sample (dense output, ⟨m⟩ and the loss).
struct IntegratorCost {
  double rhs = 0;
  double sample = 0;
};

// What the recorder of experiments::run_theory_sweep computes at every sample, and the time
// of every accepted step (to place the samples).
struct ProbeRecorder {
  int depth = 0;
  double mean_disorder = 0;
  double sink = 0;
  double t = 0;
  void sample(int, const Eigen::ArrayXd& phi) {
    sink += base::fixed_order_mean(phi) + theory::mean_effective_loss(phi, depth, mean_disorder);
  }
  void step(double time, const Eigen::ArrayXd&) { t = time; }
};

// Times the real integrator on realization `r` at depth `depth` with `outer` copies running at
// once on `inner` threads each (as the driver runs items), about `target` seconds per pass:
// trial steps without samples, then the same steps with samples, twice each (the least of each
// kept, the machine being shared).
IntegratorCost time_integrator(const experiments::TheorySweep& sweep, int depth,
                               const experiments::Realization& r, double sigma, int outer,
                               int inner, double target) {
  std::vector<IntegratorCost> cost(static_cast<std::size_t>(outer));
  const double units = static_cast<double>(r.disorder.size());
  const double mean_disorder = base::fixed_order_mean(r.disorder);
  run_concurrently(outer, inner, [&](int thread) {
    theory::EffectiveDynamics dynamics(depth, sweep.gamma, r.disorder, r.graph);
    dynamics.set_sigma(sigma);
    dynamics.set_threads(inner);
    theory::Dopri5Settings settings = sweep.integrator;
    // About 1.5 ns per unit and evaluation a priori; at least 3 trial steps.
    settings.max_steps = std::clamp<std::int64_t>(std::llround(target / (units * 7 * 1.5e-9)), 3,
                                                  std::min<std::int64_t>(settings.max_steps, 5000));
    theory::Dopri5 integrator(settings);
    integrator.set_threads(inner);
    Eigen::ArrayXd phi = r.initial_state;
    ProbeRecorder recorder{depth, mean_disorder};
    const std::vector<double> none;
    // Allocates and touches the integrator's arrays.
    integrator.integrate(dynamics, phi, 0.0, sweep.t_end * 1e-9, none, recorder);
    // Passes of whole calls until `target` seconds; returns seconds per call.
    std::int64_t rhs_per_call = 0;
    double reached = sweep.t_end;
    // This thread's CPU time; wall time when the item's steps are shared among threads.
    const auto now = [&] {
      return inner == 1 ? cpu_seconds(CLOCK_THREAD_CPUTIME_ID)
                        : std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
    };
    const auto pass = [&](const std::vector<double>& times, int calls) {
      const double start = now();
      int done = 0;
      while (done < calls || (calls == 0 && (done == 0 || now() - start < target))) {
        phi = r.initial_state;
        const auto result = integrator.integrate(dynamics, phi, 0.0, sweep.t_end, times, recorder);
        rhs_per_call = result.rhs_evaluations;
        reached = result.status == theory::IntegrationStatus::done ? sweep.t_end : recorder.t;
        ++done;
      }
      return std::pair{(now() - start) / done, done};
    };
    const auto [plain, calls] = pass(none, 0);
    // About as much time in samples as in steps, spread over the stretch the steps cover.
    const int count = std::max(8, static_cast<int>(rhs_per_call / 2));
    std::vector<double> times(static_cast<std::size_t>(count));
    for (int k = 0; k < count; ++k) times[static_cast<std::size_t>(k)] = reached * k / count;
    const double sampled = pass(times, calls).first;
    const double plain_again = pass(none, calls).first;
    const double sampled_again = pass(times, calls).first;
    const double steps_only = std::min(plain, plain_again);
    const double with_samples = std::min(sampled, sampled_again);
    auto& c = cost[static_cast<std::size_t>(thread)];
    c.rhs = steps_only / static_cast<double>(std::max<std::int64_t>(rhs_per_call, 1));
    c.sample = std::max(0.0, (with_samples - steps_only) / count);
  });
  IntegratorCost mean;
  for (const auto& c : cost) {
    mean.rhs += c.rhs / outer;
    mean.sample += c.sample / outer;
  }
  return mean;
}

// Bytes of the written file and of one item's writes (8 bytes per value): every point's scalars,
// horizons and traces, the quenched inputs per (depth, realization), the final states.
double theory_point_bytes(const experiments::TheorySweep& sweep) {
  const double horizons = static_cast<double>(sweep.horizon_windows().size());
  return 8 * (2.0 * sweep.samples + 2 * horizons + 6 +
              (sweep.save_final_states ? static_cast<double>(sweep.units) : 0.0));
}

}  // namespace

RunTimeEstimate estimate_theory_run_time(const experiments::TheorySweep& sweep, int threads,
                                         int shard_count, bool split, double memory_bytes) {
  const auto start = Clock::now();
  RunTimeEstimate estimate;
  estimate.threads = threads;
  const std::vector<sweep::WorkItem> items = experiments::theory_work_items(sweep, split);
  const auto shards = items_by_shard(items, shard_count);
  const double n_points =
      static_cast<double>(sweep.sigma.size() * sweep.depths.size() * sweep.protocols.size()) *
      sweep.runs;
  if (sweep.infinite_population) {
    // Rough: one point of the default rule over t_end = 10, inside the ordered window, took
    // 0.06–0.3 s for D = 1…7 and 0.8 s at D = 8 on the reference machine (bench/RESULTS.md,
    // "Every depth"), about 40 ms × (D + 1), scaled by t_end and the rule's size; points at
    // the onset of order are refined over several levels and cost far more (0.5–1.3 s for D ≥ 3
    // on an AMD EPYC core at 6c5203c, 1.5–3.1 s on the Intel Xeon before it).
    const double rule = (static_cast<double>(sweep.units) / 104) *
                        (sweep.population.init_panels * sweep.population.init_order / 24.0);
    const auto point_seconds = [&](int depth_index) {
      return 0.04 * (sweep.depths[static_cast<std::size_t>(depth_index)] + 1) * (sweep.t_end / 10) *
             rule;
    };
    const auto compute = [&](const sweep::WorkItem& item, int inner) {
      return point_seconds(item.chain.depth_index) * static_cast<double>(item.sigma.size()) / inner;
    };
    const auto write = [&](const sweep::WorkItem&) { return item_write_seconds; };
    add_shards(estimate, shards, process_seconds, threads, compute, write);
    double steps = 0;  // the old work model's steps, for the work line
    for (double s : sweep.sigma) steps += experiments::estimated_steps(sweep.t_end, s);
    estimate.trials =
        steps * static_cast<double>(sweep.depths.size() * sweep.protocols.size()) * sweep.runs;
    estimate.basis =
        "rough, not measured: about 40 ms x (D + 1) per point of the default rule, up to "
        "~30 times more for points refined at the onset of order";
    return estimate;
  }

  // Steps of every point, from probe populations (about half a second at most).
  const StepTable steps = probe_steps(sweep, 0.5);
  const int n_sigma = static_cast<int>(sweep.sigma.size());
  const int n_depth = static_cast<int>(sweep.depths.size());
  const auto trials_of = [&](int protocol, int depth_index, int s) {
    return steps.trials[static_cast<std::size_t>((protocol * n_depth + depth_index) * n_sigma + s)];
  };
  for (double t : steps.trials) estimate.trials += t * sweep.runs;

  // The cost of a step at N units, with the threads as the largest shard will use them. Beyond
  // a million units it is timed at a million (memory-bound by then) and scaled. A sparse graph
  // of many units is timed at 20 000 units (Erdős–Rényi: 5 000, its draw grows with N²) and
  // scaled by the work per evaluation (units and edges).
  std::size_t largest = 0;
  for (std::size_t k = 0; k < shards.size(); ++k)
    if (shards[k].size() > shards[largest].size()) largest = k;
  const auto [outer, inner] = thread_split(static_cast<long>(shards[largest].size()), threads);
  const bool sparse = sweep.topology.kind != coupling::TopologyKind::complete;
  experiments::TheorySweep timed = sweep;
  double work_scale = 1, draw_scale = 1;
  const int sparse_limit =
      sweep.topology.kind == coupling::TopologyKind::erdos_renyi ? 5000 : 20000;
  if (sparse && sweep.units > sparse_limit) {
    timed.units = sparse_limit;
    const auto work = [&](double n) { return n + n * mean_degree(sweep.topology, n); };
    work_scale = work(sweep.units) / work(timed.units);
    const double ratio = static_cast<double>(sweep.units) / timed.units;
    draw_scale = sweep.topology.kind == coupling::TopologyKind::erdos_renyi ? ratio * ratio : ratio;
  } else if (sweep.units > probe_draw_limit) {
    timed.units = probe_draw_limit;
    work_scale = draw_scale = static_cast<double>(sweep.units) / timed.units;
  }
  // An item draws its realization, in memory it reuses: timed at a second draw (but a sparse
  // graph's draw is its own cost).
  auto draw_start = Clock::now();
  const experiments::Realization realization = experiments::draw_realization(timed, 0);
  if (!sparse) {
    draw_start = Clock::now();
    experiments::draw_realization(timed, 0);
  }
  const double setup_seconds = seconds_since(draw_start) * draw_scale;
  const double sigma_max = *std::max_element(sweep.sigma.begin(), sweep.sigma.end());
  std::vector<IntegratorCost> cost(static_cast<std::size_t>(n_depth));
  // From half a million units one depth is timed (memory-bound: the depth hardly matters).
  const bool one_depth = timed.units >= 500000;
  for (int d = 0; d < n_depth; ++d) {
    if (one_depth && d > 0) {
      cost[static_cast<std::size_t>(d)] = cost[0];
      continue;
    }
    IntegratorCost c = time_integrator(timed, sweep.depths[static_cast<std::size_t>(d)],
                                       realization, sigma_max, outer, inner, 0.012);
    c.rhs *= work_scale;
    c.sample *= work_scale;
    cost[static_cast<std::size_t>(d)] = c;
  }

  const double point_bytes = theory_point_bytes(sweep);
  const double quenched_bytes = 2.0 * 8 * sweep.units;
  const auto compute = [&](const sweep::WorkItem& item, int) {
    const auto& c = cost[static_cast<std::size_t>(item.chain.depth_index)];
    double seconds = setup_seconds;
    for (const int s : item.sigma)
      seconds += (2 + 6 * trials_of(item.chain.protocol, item.chain.depth_index, s)) * c.rhs +
                 sweep.samples * c.sample;
    return seconds;
  };
  const auto write = [&](const sweep::WorkItem& item) {
    return item_write_seconds +
           (quenched_bytes + point_bytes * static_cast<double>(item.sigma.size())) /
               write_bytes_per_second;
  };
  add_shards(estimate, shards,
             fixed_seconds(point_bytes * n_points + quenched_bytes * n_depth * sweep.runs,
                           memory_bytes, threads),
             threads, compute, write);
  estimate.measured = true;
  estimate.probe_seconds = seconds_since(start);
  std::string basis = "measured on this machine: the integrator's time per step at N = " +
                      std::to_string(sweep.units);
  if (timed.units < sweep.units)
    basis += " (timed at " + std::to_string(timed.units) + " units and scaled)";
  basis += ", and its steps at " +
           (steps.stride == 1 ? std::string("every point")
                              : "1 in " + std::to_string(steps.stride) + " couplings") +
           " of " + std::to_string(steps.realizations) + " realization" +
           (steps.realizations == 1 ? "" : "s") +
           (sweep.units <= whole_population_limit
                ? ""
                : " (a weighted probe population of " + std::to_string(bulk_nodes) +
                      " strata and the extreme units)");
  estimate.basis = basis;
  return estimate;
}

// ----------------------------------------------------------------------------- micro

namespace {

// A work item's writes hold ~35 datasets (theory: 12), each a call and a hyperslab.
constexpr double micro_item_write_seconds = 3 * item_write_seconds;

// Seconds of one depth's points, measured: an item's set-up (its data, graph, ensemble and
// evaluator), a point's fixed part (the last record with its cross-accuracies), a coupled step,
// a recorded sample, and a step of the all-data reference network.
struct MicroCost {
  double setup = 0, point = 0, step = 0, record = 0, reference_step = 0;
};

// Seconds of an item of `points` points of `steps` coupled steps, recorded every
// `record_every`, at coupling `sigma`, with the all-data reference when `reference`: the real
// experiments::run_micro_sweep on a shortened copy of the sweep, its results dropped. Items
// that have a thread each (inner = 1) are timed on this thread, in its CPU time (their threads
// share nothing but the memory bus); an item whose steps `inner` threads share, in wall time.
double time_micro_item(const experiments::MicroSweep& sweep, int depth_index, double sigma,
                       long steps, long record_every, int points, bool reference, int inner,
                       const experiments::IdxTaskData& images) {
  experiments::MicroSweep probe = sweep;
  probe.runs = 1;
  probe.depths = {sweep.depths[static_cast<std::size_t>(depth_index)]};
  probe.protocols = {sweep::Protocol::nonadiabatic};
  probe.transient_steps = 0;
  probe.measure_steps = steps;
  probe.record_every = record_every;
  probe.horizon_samples.clear();
  // Coupling index 0 of protocol 0 trains the reference; without it, index 0 is left out.
  probe.sigma.assign(static_cast<std::size_t>(points + 1), sigma);
  std::vector<int> covered;
  for (int k = reference ? 0 : 1; static_cast<int>(covered.size()) < points; ++k)
    covered.push_back(k);
  const std::vector<sweep::WorkItem> items{sweep::WorkItem{sweep::Chain{0, 0, 0}, covered, 1.0}};
  base::StopRequest stop;
  const auto now = [&] {
    return inner == 1 ? cpu_seconds(CLOCK_THREAD_CPUTIME_ID)
                      : std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
  };
  const double start = now();
  experiments::run_micro_sweep(
      probe, items, inner, stop,
      [](const experiments::MicroChainResult&, const sweep::WorkItem&) {}, &images);
  return now() - start;
}

// How one depth is probed: items of a and 3a coupled steps recorded at their ends, and of 3a
// steps recorded every `every`; the differences are 2a steps and the extra records.
struct MicroPlan {
  long a = 1, every = 1;
  double one = 0;  // an item of one step
};

// Items of 1 and of a0 steps give the scale: the item's fixed part and a guess of a step. Then
// a steps take about half as long as the fixed part (at least 10 ms), bounded by the point's own
// steps and by `budget`.
MicroPlan plan_micro_depth(const experiments::MicroSweep& sweep, int depth_index, double sigma,
                           int inner, const experiments::IdxTaskData& images, double budget) {
  const long total_steps = sweep.transient_steps + sweep.measure_steps;
  const auto time = [&](long steps, long every) {
    return time_micro_item(sweep, depth_index, sigma, steps, every, 1, false, inner, images);
  };
  MicroPlan plan;
  time(1, 1);  // warm-up (first touches of the data and the allocator)
  plan.one = time(1, 1);
  const long a0 = std::clamp<long>(16, 1, std::max(1L, total_steps / 3));
  const double t_a0 = a0 > 1 ? time(a0, a0) : plan.one;
  double step_guess = std::max((t_a0 - plan.one) / std::max(1L, a0 - 1), 1e-7);
  for (int attempt = 0; attempt < 4; ++attempt) {
    long a = std::lround(std::max(plan.one / 2, 0.01) / step_guess);
    a = std::min(a, std::lround(budget / 8 / (3 * step_guess)));
    a = std::clamp(a, 1L, std::max(1L, total_steps / 3));
    if (a >= 2) a -= a % 2;
    plan.a = a;
    // A guess spoilt by noise shows in an item far longer than foreseen: guess again from it.
    const double t = time(a, a);
    if (t < 2 * (plan.one + a * step_guess) || a == 1) break;
    step_guess = std::max((t - plan.one) / a, step_guess);
  }
  plan.every = std::max(1L, plan.a / 2);
  return plan;
}

// Every depth's costs: its plan's items in rounds over the depths, the least time of each item
// kept (a shared machine slows some runs, rarely all of them), while `budget` seconds last (at
// least one round, at most four).
std::vector<MicroCost> time_micro_depths(const experiments::MicroSweep& sweep, double sigma,
                                         int inner, const experiments::IdxTaskData& images,
                                         bool adiabatic, double budget) {
  const auto start = Clock::now();
  const int n_depth = static_cast<int>(sweep.depths.size());
  const bool classes = sweep.task.kind == micro::TaskKind::classes;
  std::vector<MicroPlan> plans;
  for (int d = 0; d < n_depth; ++d)
    plans.push_back(plan_micro_depth(sweep, d, sigma, inner, images, budget / 2 / n_depth));
  constexpr double inf = std::numeric_limits<double>::infinity();
  struct Least {
    double t1 = inf, t3 = inf, t3_recorded = inf, two = inf, reference = inf;
  };
  std::vector<Least> least(static_cast<std::size_t>(n_depth));
  for (int round = 0; round < 4; ++round) {
    const auto round_start = Clock::now();
    for (int d = 0; d < n_depth; ++d) {
      const MicroPlan& p = plans[static_cast<std::size_t>(d)];
      Least& m = least[static_cast<std::size_t>(d)];
      const auto time = [&](long steps, long every, int points, bool reference) {
        return time_micro_item(sweep, d, sigma, steps, every, points, reference, inner, images);
      };
      m.t1 = std::min(m.t1, time(p.a, p.a, 1, false));
      m.t3 = std::min(m.t3, time(3 * p.a, 3 * p.a, 1, false));
      m.t3_recorded = std::min(m.t3_recorded, time(3 * p.a, p.every, 1, false));
      // A second point in the same item tells the set-up from the point.
      if (adiabatic) m.two = std::min(m.two, time(p.a, p.a, 2, false));
      if (classes) m.reference = std::min(m.reference, time(p.a, p.a, 1, true));
    }
    const double round_seconds = seconds_since(round_start);
    if (seconds_since(start) + round_seconds > budget) break;
  }
  std::vector<MicroCost> costs;
  for (int d = 0; d < n_depth; ++d) {
    const MicroPlan& p = plans[static_cast<std::size_t>(d)];
    const Least& m = least[static_cast<std::size_t>(d)];
    MicroCost c;
    c.step = std::max(0.0, (m.t3 - m.t1) / (2.0 * p.a));
    c.record = std::max(0.0, (m.t3_recorded - m.t3) / static_cast<double>(3 * p.a / p.every - 1));
    const double item = std::max(0.0, m.t1 - p.a * c.step - c.record);  // set-up, a point's rest
    if (adiabatic) {
      c.point = std::clamp(m.two - m.t1 - p.a * c.step - c.record, 0.0, item);
      c.setup = item - c.point;
    } else {
      c.setup = item;  // every item is one point
    }
    if (classes) c.reference_step = std::max(0.0, (m.reference - m.t1) / p.a);
    costs.push_back(c);
  }
  return costs;
}

// The steps a point runs: all of them, or for the diffusion schemes with τσ > 2 (the explicit
// coupling overshoots) until the first record after the parameters overflow, |1 − τσ| growing
// per step.
long micro_point_steps(const experiments::MicroSweep& sweep, double sigma) {
  const long total = sweep.transient_steps + sweep.measure_steps;
  const double factor = std::abs(1 - sweep.learning_rate * sigma);
  const bool diffusive = sweep.scheme.kind == micro::Scheme::Kind::diffusion ||
                         sweep.scheme.kind == micro::Scheme::Kind::dsgd;
  if (!diffusive || factor <= 1.05) return total;
  const double overflow = sweep.precision == experiments::Precision::float32 ? 88.7 : 709.8;
  const long steps = static_cast<long>(std::ceil(overflow / std::log(factor)));
  const long recorded = (steps + sweep.record_every - 1) / sweep.record_every * sweep.record_every;
  return std::min(total, recorded);
}

}  // namespace

RunTimeEstimate estimate_micro_run_time(const experiments::MicroSweep& sweep, int threads,
                                        int shard_count, const experiments::IdxTaskData& images,
                                        double memory_bytes) {
  const auto start = Clock::now();
  RunTimeEstimate estimate;
  estimate.threads = threads;
  const std::vector<sweep::WorkItem> items =
      experiments::micro_work_items(sweep, /*split_nonadiabatic=*/true);
  const auto shards = items_by_shard(items, shard_count);
  std::size_t largest = 0;
  for (std::size_t k = 0; k < shards.size(); ++k)
    if (shards[k].size() > shards[largest].size()) largest = k;
  const int inner = thread_split(static_cast<long>(shards[largest].size()), threads).second;
  bool adiabatic = false;
  for (const auto p : sweep.protocols) adiabatic = adiabatic || p != sweep::Protocol::nonadiabatic;
  // Timed at the grid's middle coupling among those that do not overshoot.
  std::vector<double> stable;
  for (const double s : sweep.sigma)
    if (micro_point_steps(sweep, s) == sweep.transient_steps + sweep.measure_steps)
      stable.push_back(s);
  if (stable.empty()) stable = sweep.sigma;
  std::sort(stable.begin(), stable.end());
  const double sigma = stable[stable.size() / 2];
  const int n_depth = static_cast<int>(sweep.depths.size());
  const std::vector<MicroCost> cost =
      time_micro_depths(sweep, sigma, inner, images, adiabatic, 1.0);

  const long records = (sweep.transient_steps + sweep.measure_steps) / sweep.record_every + 1;
  const double units = sweep.units();
  const double horizons = static_cast<double>(sweep.horizon_windows().size());
  const double classes = sweep.task.kind == micro::TaskKind::classes ? sweep.task.data.modes : 0;
  // Every observable's trace, average and horizons, the per-unit and unit-pair accuracies.
  const double point_bytes = 8 * (10.0 * (records + 1 + horizons) + units + units * units + 20);
  const double quenched_bytes = 8 * units * (2 + classes);
  const auto compute = [&](const sweep::WorkItem& item, int) {
    const MicroCost& c = cost[static_cast<std::size_t>(item.chain.depth_index)];
    double seconds = c.setup;
    for (const int s : item.sigma) {
      const long steps = micro_point_steps(sweep, sweep.sigma[static_cast<std::size_t>(s)]);
      seconds +=
          c.point + steps * c.step + static_cast<double>(steps / sweep.record_every) * c.record;
      if (item.chain.protocol == 0 && s == 0)
        seconds += (sweep.transient_steps + sweep.measure_steps) * c.reference_step;
    }
    return seconds;
  };
  const auto write = [&](const sweep::WorkItem& item) {
    return micro_item_write_seconds +
           (quenched_bytes + point_bytes * static_cast<double>(item.sigma.size())) /
               write_bytes_per_second;
  };
  const double n_points =
      static_cast<double>(sweep.sigma.size() * sweep.depths.size() * sweep.protocols.size()) *
      sweep.runs;
  add_shards(estimate, shards,
             fixed_seconds(point_bytes * n_points + quenched_bytes * n_depth * sweep.runs,
                           memory_bytes, threads),
             threads, compute, write);
  estimate.measured = true;
  estimate.probe_seconds = seconds_since(start);
  char text[300];
  std::snprintf(text, sizeof text,
                "measured on this machine: shortened points of every depth run at N = %d, "
                "sigma = %.3g, scaled to %ld steps and %ld records per point",
                sweep.units(), sigma, sweep.transient_steps + sweep.measure_steps, records);
  estimate.basis = text;
  return estimate;
}

// ----------------------------------------------------------------------------- output

double suggested_time_limit(double seconds) { return 1.5 * seconds + 300; }

std::string slurm_time(double seconds) {
  const long minutes = std::max(1L, static_cast<long>(std::ceil(seconds / 60 - 1e-9)));
  const long days = minutes / 1440, hours = minutes % 1440 / 60, rest = minutes % 60;
  char text[64];
  if (days > 0)
    std::snprintf(text, sizeof text, "%ld-%02ld:%02ld:00", days, hours, rest);
  else
    std::snprintf(text, sizeof text, "%02ld:%02ld:00", hours, rest);
  return text;
}

namespace {

std::string duration_text(double seconds) {
  char text[64];
  if (seconds < 120)
    std::snprintf(text, sizeof text, "%.3g s", seconds);
  else if (seconds < 7200)
    std::snprintf(text, sizeof text, "%.0f s (%.1f min)", seconds, seconds / 60);
  else
    std::snprintf(text, sizeof text, "%.0f s (%.1f h)", seconds, seconds / 3600);
  return text;
}

}  // namespace

void print_run_time(const RunTimeEstimate& estimate) {
  const char* plural = estimate.threads == 1 ? "" : "s";
  const auto& shards = estimate.shards;
  std::size_t largest = 0;
  for (std::size_t k = 0; k < shards.size(); ++k)
    if (shards[k].seconds > shards[largest].seconds) largest = k;
  const double seconds = shards[largest].seconds;
  if (shards.size() == 1) {
    std::printf("time: %s %s on %d thread%s\n", estimate.measured ? "about" : "roughly",
                duration_text(seconds).c_str(), estimate.threads, plural);
  } else {
    std::printf(
        "time per shard (%zu shards, %d thread%s each; items assigned as the shards "
        "will run them):\n",
        shards.size(), estimate.threads, plural);
    for (std::size_t k = 0; k < shards.size(); ++k)
      std::printf("  shard %zu: %ld items, %ld points, about %s\n", k, shards[k].items,
                  shards[k].points, duration_text(shards[k].seconds).c_str());
    std::printf("largest shard: about %s (shard %zu)\n", duration_text(seconds).c_str(), largest);
  }
  if (estimate.measured)
    std::printf("estimate: %s; the probe took %.2f s\n", estimate.basis.c_str(),
                estimate.probe_seconds);
  else
    std::printf("estimate: %s\n", estimate.basis.c_str());
  std::printf("slurm: --time=%s (%s x 1.5 + 5 min for start-up and writes, whole minutes)\n",
              slurm_time(suggested_time_limit(seconds)).c_str(),
              shards.size() == 1 ? "the estimate" : "the largest shard");
}

}  // namespace cdl::sim
