#include "micro/partition.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "base/errors.hpp"
#include "base/parse.hpp"
#include "base/random.hpp"

namespace cdl::micro {

namespace {

using base::CounterRng;

// Streams of the partition's draws within Purpose::partition.
enum class Draw : std::uint64_t { shuffle = 0, proportions = 1, pick = 2, shards = 3 };

std::uint64_t stream(Draw draw, std::uint64_t index) {
  return (static_cast<std::uint64_t>(draw) << 40) | index;
}

// Fisher–Yates with counter-based draws: a uniform permutation of `values`.
template <class T>
void shuffle(std::vector<T>& values, const CounterRng& rng, std::uint64_t unit) {
  for (std::size_t k = values.size(); k-- > 1;) {
    const double u = rng.uniform(unit, k);
    std::swap(values[k], values[static_cast<std::size_t>(u * static_cast<double>(k + 1))]);
  }
}

// A Gamma(shape, 1) variate g · b^{1/shape} in two parts: g ~ Gamma(max(shape, shape + 1)) by
// Marsaglia & Tsang (2000), and for shape < 1 the boost b = 1 − U (b = 1 otherwise). The
// attempts use consecutive indices of (unit, 4 × attempt + j).
struct GammaParts {
  double g, boost;
};

GammaParts gamma_parts(const CounterRng& rng, std::uint64_t unit, std::uint64_t index,
                       double shape) {
  const bool boost = shape < 1;
  const double a = boost ? shape + 1 : shape;
  const double d = a - 1.0 / 3, c = 1 / std::sqrt(9 * d);
  for (std::uint64_t attempt = 0;; ++attempt) {
    const std::uint64_t base = (index << 20) + 4 * attempt;
    const double x = rng.normal(unit, base), v = std::pow(1 + c * x, 3);
    if (v <= 0) continue;
    const double u = rng.uniform(unit, base + 2);
    if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v))
      return {d * v, boost ? 1 - rng.uniform(unit, base + 3) : 1.0};
  }
}

// Dirichlet(α, …, α) proportions from the parts of K Gamma(α) variates. For small α the
// variates g b^{1/α} underflow (α = 1e-3: b^{1000}), all of them at once for α ≲ 1e-3, so
// then the proportions are formed from α log(variate) = α log g + log b, which stays finite:
// q_k = exp((key_k − max key)/α) / Σ. Where the direct sum is a positive number the direct
// quotients are kept (the same bits as before the fallback existed).
std::vector<double> dirichlet_proportions(const std::vector<GammaParts>& parts, double alpha) {
  std::vector<double> q(parts.size());
  for (std::size_t k = 0; k < parts.size(); ++k)
    q[k] = alpha < 1 ? parts[k].g * std::pow(parts[k].boost, 1 / alpha) : parts[k].g;
  const double sum = std::accumulate(q.begin(), q.end(), 0.0);
  if (sum > 0 && std::isfinite(sum)) {
    for (double& x : q) x /= sum;
    return q;
  }
  std::vector<double> key(parts.size());
  for (std::size_t k = 0; k < parts.size(); ++k)
    key[k] = alpha * std::log(parts[k].g) + std::log(parts[k].boost);
  const double largest = *std::max_element(key.begin(), key.end());
  for (std::size_t k = 0; k < parts.size(); ++k) q[k] = std::exp((key[k] - largest) / alpha);
  const double total = std::accumulate(q.begin(), q.end(), 0.0);  // ≥ 1: the largest is 1
  for (double& x : q) x /= total;
  return q;
}

// Largest-remainder rounding of n × q to whole counts summing to n.
std::vector<int> round_counts(const std::vector<double>& q, int n) {
  std::vector<int> counts(q.size());
  std::vector<std::pair<double, std::size_t>> remainder;
  int given = 0;
  for (std::size_t k = 0; k < q.size(); ++k) {
    const double exact = n * q[k];
    counts[k] = static_cast<int>(std::floor(exact));
    given += counts[k];
    remainder.push_back({exact - counts[k], k});
  }
  std::sort(remainder.begin(), remainder.end(), [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  });
  for (int k = 0; given < n; ++k, ++given) ++counts[remainder[static_cast<std::size_t>(k)].second];
  return counts;
}

}  // namespace

std::string Partition::to_string() const {
  switch (kind) {
    case Kind::classes:
      return "classes";
    case Kind::iid:
      return "iid";
    case Kind::dirichlet:
      return "dirichlet:" + base::format_double(alpha);
    case Kind::shards:
      return "shards:" + std::to_string(shards);
  }
  return "";
}

Partition parse_partition(const std::string& text, const std::string& option) {
  Partition partition;
  const auto fields = base::split(text, ':');
  if (fields.size() == 1 && fields[0] == "classes") {
    partition.kind = Partition::Kind::classes;
  } else if (fields.size() == 1 && fields[0] == "iid") {
    partition.kind = Partition::Kind::iid;
  } else if (fields.size() == 2 && fields[0] == "dirichlet") {
    partition.kind = Partition::Kind::dirichlet;
    partition.alpha = base::parse_double(fields[1], option);
    if (!(partition.alpha > 0 && partition.alpha <= 1e6))
      base::reject(option, text, "ALPHA must lie in (0, 10^6]");
  } else if (fields.size() == 2 && fields[0] == "shards") {
    partition.kind = Partition::Kind::shards;
    const long long s = base::parse_integer(fields[1], option);
    if (s < 1 || s > 1000000) base::reject(option, text, "S must be a whole number from 1 to 10^6");
    partition.shards = static_cast<int>(s);
  } else {
    base::reject(option, text, "expected classes, iid, dirichlet:ALPHA or shards:S");
  }
  return partition;
}

std::vector<std::vector<Eigen::Index>> deal_samples(const Partition& partition,
                                                    const TaskSpec& spec, int run,
                                                    const std::vector<int>& sorted_labels,
                                                    int classes) {
  const int units = spec.units;
  const auto total = static_cast<Eigen::Index>(sorted_labels.size());
  const CounterRng rng(spec.seed, base::Purpose::partition, static_cast<std::uint64_t>(run));
  std::vector<std::vector<Eigen::Index>> dealt(static_cast<std::size_t>(units));
  // The samples of each class: contiguous ranges.
  std::vector<Eigen::Index> first(static_cast<std::size_t>(classes), 0), count(first);
  for (const int label : sorted_labels) ++count[static_cast<std::size_t>(label)];
  for (int k = 1; k < classes; ++k) first[k] = first[k - 1] + count[k - 1];
  switch (partition.kind) {
    case Partition::Kind::classes:  // unit i: every sample of class i mod K
      for (int i = 0; i < units; ++i) {
        auto& mine = dealt[static_cast<std::size_t>(i)];
        mine.resize(static_cast<std::size_t>(count[i % classes]));
        std::iota(mine.begin(), mine.end(), first[i % classes]);
      }
      break;
    case Partition::Kind::iid: {
      std::vector<Eigen::Index> order(static_cast<std::size_t>(total));
      std::iota(order.begin(), order.end(), 0);
      shuffle(order, rng, stream(Draw::shuffle, 0));
      for (std::size_t k = 0; k < order.size(); ++k) dealt[k % units].push_back(order[k]);
      break;
    }
    case Partition::Kind::dirichlet: {
      const int n = static_cast<int>(total / units);
      for (int i = 0; i < units; ++i) {
        const auto unit = static_cast<std::uint64_t>(i);
        std::vector<GammaParts> parts(static_cast<std::size_t>(classes));
        for (int k = 0; k < classes; ++k)
          parts[k] = gamma_parts(rng, stream(Draw::proportions, unit),
                                 static_cast<std::uint64_t>(k), partition.alpha);
        const std::vector<int> wanted =
            round_counts(dirichlet_proportions(parts, partition.alpha), n);
        for (int k = 0; k < classes; ++k) {
          std::vector<Eigen::Index> pool(static_cast<std::size_t>(count[k]));
          std::iota(pool.begin(), pool.end(), first[k]);
          shuffle(pool, rng, stream(Draw::pick, unit * static_cast<std::uint64_t>(classes) + k));
          const auto take = std::min<std::size_t>(pool.size(), static_cast<std::size_t>(wanted[k]));
          dealt[i].insert(dealt[i].end(), pool.begin(), pool.begin() + static_cast<long>(take));
        }
      }
      break;
    }
    case Partition::Kind::shards: {
      const long pieces = static_cast<long>(units) * partition.shards;
      const Eigen::Index size = total / pieces;
      if (size < 1)
        base::reject("partition", partition.to_string(),
                     "N x S = " + std::to_string(pieces) + " shards of " + std::to_string(total) +
                         " samples would be empty");
      std::vector<long> shard(static_cast<std::size_t>(pieces));
      std::iota(shard.begin(), shard.end(), 0);
      shuffle(shard, rng, stream(Draw::shards, 0));
      for (long p = 0; p < pieces; ++p) {
        auto& mine = dealt[static_cast<std::size_t>(p / partition.shards)];
        for (Eigen::Index k = 0; k < size; ++k) mine.push_back(shard[p] * size + k);
      }
      break;
    }
  }
  return dealt;
}

namespace {

void check_dealt(const Partition& partition, const std::vector<std::vector<Eigen::Index>>& dealt,
                 int run, int least) {
  for (std::size_t i = 0; i < dealt.size(); ++i)
    if (static_cast<int>(dealt[i].size()) < least)
      base::reject("partition", partition.to_string(),
                   "unit " + std::to_string(i) + " of realization " + std::to_string(run) +
                       " gets " + std::to_string(dealt[i].size()) +
                       " training samples, fewer than " + std::to_string(least) + " (a batch)");
}

}  // namespace

void check_partition(const Partition& partition, const TaskSpec& spec, int runs,
                     const std::vector<int>& sorted_labels, int classes, int least) {
  if (partition.kind == Partition::Kind::classes) return;
  for (int run = 0; run < runs; ++run)
    check_dealt(partition, deal_samples(partition, spec, run, sorted_labels, classes), run, least);
}

template <class S>
void apply_partition(const Partition& partition, const TaskSpec& spec, int run, int least,
                     TaskData<S>& data) {
  if (partition.kind == Partition::Kind::classes) return;
  const auto dealt = deal_samples(partition, spec, run, data.train_labels, data.classes);
  check_dealt(partition, dealt, run, least);
  Eigen::Index columns = 0;
  for (const auto& mine : dealt) columns += static_cast<Eigen::Index>(mine.size());
  auto inputs = std::make_shared<Matrix<S>>(data.input, columns);
  std::shared_ptr<Bytes> bytes;
  if (data.train_bytes) bytes = std::make_shared<Bytes>(data.train_bytes->rows(), columns);
  Matrix<S> targets;
  if (data.loss == LossKind::mse) targets.resize(data.train_targets.rows(), columns);
  std::vector<int> labels(static_cast<std::size_t>(columns));
  Eigen::Index column = 0;
  for (int i = 0; i < spec.units; ++i) {
    data.unit_first[i] = column;
    data.unit_count[i] = static_cast<Eigen::Index>(dealt[i].size());
    std::vector<int> votes(static_cast<std::size_t>(data.classes), 0);
    for (const Eigen::Index sample : dealt[i]) {
      inputs->col(column) = data.train_inputs->col(sample);
      if (bytes) bytes->col(column) = data.train_bytes->col(sample);
      if (data.loss == LossKind::mse) targets.col(column) = data.train_targets.col(sample);
      labels[static_cast<std::size_t>(column)] =
          data.train_labels[static_cast<std::size_t>(sample)];
      ++votes[static_cast<std::size_t>(labels[static_cast<std::size_t>(column)])];
      ++column;
    }
    // The unit's class, for cross_accuracy: its most frequent label (the lowest on ties).
    data.unit_class[i] =
        static_cast<int>(std::max_element(votes.begin(), votes.end()) - votes.begin());
    data.disorder[i] = data.unit_class[i];
  }
  data.train_inputs = inputs;
  data.train_bytes = bytes;
  if (data.loss == LossKind::mse) data.train_targets = targets;
  data.train_labels = labels;
}

template <class S>
std::vector<std::vector<int>> label_histograms(const TaskData<S>& data) {
  std::vector<std::vector<int>> histogram(
      data.unit_first.size(), std::vector<int>(static_cast<std::size_t>(data.classes), 0));
  for (std::size_t i = 0; i < data.unit_first.size(); ++i)
    for (Eigen::Index c = data.unit_first[i]; c < data.unit_first[i] + data.unit_count[i]; ++c)
      ++histogram[i][static_cast<std::size_t>(data.train_labels[static_cast<std::size_t>(c)])];
  return histogram;
}

template void apply_partition<float>(const Partition&, const TaskSpec&, int, int, TaskData<float>&);
template void apply_partition<double>(const Partition&, const TaskSpec&, int, int,
                                      TaskData<double>&);
template std::vector<std::vector<int>> label_histograms<float>(const TaskData<float>&);
template std::vector<std::vector<int>> label_histograms<double>(const TaskData<double>&);

}  // namespace cdl::micro
