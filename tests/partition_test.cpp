// Heterogeneous data (micro/partition.hpp): each partition's label statistics against its law,
// and the dealt training set holding exactly each unit's samples.
#include "micro/partition.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <set>

#include "base/errors.hpp"

using namespace cdl;
using micro::Partition;

namespace {

// K classes of `per_class` samples each, sorted by class.
std::vector<int> sorted_labels(int classes, int per_class) {
  std::vector<int> labels;
  for (int k = 0; k < classes; ++k) labels.insert(labels.end(), per_class, k);
  return labels;
}

micro::TaskSpec spec_of(int units) {
  micro::TaskSpec spec;
  spec.units = units;
  spec.seed = 3;
  return spec;
}

struct Moments {
  double mean = 0, variance = 0;
};

Moments moments(const std::vector<double>& x) {
  Moments m;
  for (const double v : x) m.mean += v / static_cast<double>(x.size());
  for (const double v : x)
    m.variance += (v - m.mean) * (v - m.mean) / static_cast<double>(x.size() - 1);
  return m;
}

}  // namespace

TEST_CASE("partitions parse and print back") {
  for (const char* text : {"classes", "iid", "dirichlet:0.5", "shards:2"})
    CHECK(micro::parse_partition(text, "partition").to_string() == text);
  for (const char* bad :
       {"", "dirichlet", "dirichlet:0", "dirichlet:-1", "shards:0", "shards:x", "iid:2", "labels"})
    CHECK_THROWS_AS(micro::parse_partition(bad, "partition"), InputError);
}

TEST_CASE("iid: every sample dealt once, class counts hypergeometric") {
  // 10 classes of 200 samples dealt to 50 units (40 each): a unit's count of one class is
  // hypergeometric, mean 4 and variance n p (1 − p)(T − n)/(T − 1) = 3.528.
  const int classes = 10, per_class = 200, units = 50;
  const auto labels = sorted_labels(classes, per_class);
  std::vector<double> counts;
  for (int run = 0; run < 20; ++run) {
    const auto dealt = micro::deal_samples(micro::parse_partition("iid", "p"), spec_of(units), run,
                                           labels, classes);
    std::multiset<Eigen::Index> all;
    for (const auto& mine : dealt) {
      CHECK(mine.size() == 40);
      all.insert(mine.begin(), mine.end());
      std::vector<int> histogram(classes, 0);
      for (const Eigen::Index s : mine) ++histogram[labels[static_cast<std::size_t>(s)]];
      for (const int c : histogram) counts.push_back(c);
    }
    CHECK(all.size() == labels.size());
    CHECK(std::set<Eigen::Index>(all.begin(), all.end()).size() == labels.size());  // each once
  }
  const Moments m = moments(counts);  // 10 000 counts: the variance to about ±3 %
  const double T = classes * per_class, n = 40, p = 0.1;
  CHECK(m.mean == Approx(n * p).margin(1e-12));
  CHECK(m.variance == Approx(n * p * (1 - p) * (T - n) / (T - 1)).epsilon(0.1));
}

TEST_CASE("dirichlet: label proportions follow the Dirichlet law") {
  // q ~ Dirichlet(α, …, α) over K = 10 classes: E q_k = 1/K, Var q_k = (1/K)(1 − 1/K)/(Kα + 1).
  // n = 1000 samples per unit (pools of 1000 per class never run out): rounding adds at most
  // 1/(12 n²) to the variance.
  const int classes = 10, per_class = 1000, units = 10;
  const auto labels = sorted_labels(classes, per_class);
  for (const double alpha : {0.2, 1.0, 5.0}) {
    Partition partition;
    partition.kind = Partition::Kind::dirichlet;
    partition.alpha = alpha;
    std::vector<double> q;
    for (int run = 0; run < 200; ++run) {
      const auto dealt = micro::deal_samples(partition, spec_of(units), run, labels, classes);
      for (const auto& mine : dealt) {
        CHECK(mine.size() == 1000);
        std::vector<int> histogram(classes, 0);
        for (const Eigen::Index s : mine) ++histogram[labels[static_cast<std::size_t>(s)]];
        for (const int c : histogram) q.push_back(c / 1000.0);
        // Without replacement within a unit: no sample twice.
        CHECK(std::set<Eigen::Index>(mine.begin(), mine.end()).size() == mine.size());
      }
    }
    const Moments m = moments(q);  // 20 000 proportions
    INFO("alpha " << alpha << ": mean " << m.mean << ", variance " << m.variance);
    CHECK(m.mean == Approx(0.1).margin(1e-12));  // every unit's counts sum to n
    CHECK(m.variance == Approx(0.1 * 0.9 / (classes * alpha + 1)).epsilon(0.1));
  }
}

TEST_CASE("dirichlet with tiny alpha deals one class per unit instead of crashing") {
  // Every Gamma(α) variate underflows for α ≲ 1e-3 (issue 29: SIGSEGV at 1e-3). In the limit
  // α → 0 a Dirichlet draw puts all the mass on one class.
  const int classes = 10, per_class = 100, units = 10;
  const auto labels = sorted_labels(classes, per_class);
  for (const double alpha : {1e-3, 1e-6, 1e-300}) {
    Partition partition;
    partition.kind = Partition::Kind::dirichlet;
    partition.alpha = alpha;
    for (int run = 0; run < 5; ++run) {
      const auto dealt = micro::deal_samples(partition, spec_of(units), run, labels, classes);
      for (const auto& mine : dealt) {
        INFO("alpha " << alpha << ", run " << run);
        REQUIRE(mine.size() == 100);  // n = 1000 / 10, all from one pool of 100
        std::set<int> seen;
        for (const Eigen::Index s : mine) seen.insert(labels[static_cast<std::size_t>(s)]);
        // At α = 1e-3 two boosts within ~1e-3 of each other still share the mass (legitimately).
        if (alpha < 1e-3) CHECK(seen.size() == 1);
      }
    }
  }
}

TEST_CASE("shards: S label-sorted shards per unit, disjoint") {
  const int classes = 10, per_class = 60, units = 6;
  const auto labels = sorted_labels(classes, per_class);
  const auto dealt = micro::deal_samples(micro::parse_partition("shards:2", "p"), spec_of(units), 0,
                                         labels, classes);
  std::set<Eigen::Index> all;
  for (const auto& mine : dealt) {
    REQUIRE(mine.size() == 100);  // 2 shards of 600 / 12 = 50
    // Each shard is 50 consecutive sorted samples: at most two labels per shard.
    for (int shard = 0; shard < 2; ++shard) {
      std::set<int> seen;
      for (int k = 0; k < 50; ++k)
        seen.insert(labels[static_cast<std::size_t>(mine[shard * 50 + k])]);
      CHECK(seen.size() <= 2);
    }
    all.insert(mine.begin(), mine.end());
  }
  CHECK(all.size() == 600);
}

TEST_CASE("the dealt training set holds exactly each unit's samples, for any partition") {
  micro::TaskSpec spec;
  spec.units = 7;
  spec.data = micro::parse_data("synthetic:3:4", "data");
  spec.train_size = 30;
  spec.test_size = 5;
  spec.loss = micro::LossKind::mse;  // the one-hot targets move with their samples too
  const micro::TaskData<double> original = micro::make_task_data<double>(spec, 2, nullptr);
  for (const char* text : {"iid", "dirichlet:0.3", "shards:3"}) {
    INFO(text);
    const Partition partition = micro::parse_partition(text, "partition");
    micro::TaskData<double> data = original;
    micro::apply_partition(partition, spec, 2, 1, data);
    const auto dealt = micro::deal_samples(partition, spec, 2, original.train_labels, 4);
    const auto histograms = micro::label_histograms(data);
    for (int i = 0; i < spec.units; ++i) {
      REQUIRE(data.unit_count[i] == static_cast<Eigen::Index>(dealt[i].size()));
      std::vector<int> expected(4, 0);
      for (std::size_t k = 0; k < dealt[i].size(); ++k) {
        const Eigen::Index column = data.unit_first[i] + static_cast<Eigen::Index>(k);
        const Eigen::Index sample = dealt[i][k];
        CHECK(data.train_inputs->col(column) == original.train_inputs->col(sample));
        CHECK(data.train_targets.col(column) == original.train_targets.col(sample));
        CHECK(data.train_labels[column] == original.train_labels[sample]);
        ++expected[original.train_labels[sample]];
      }
      CHECK(histograms[i] == expected);
    }
    // The same seed and realization deal the same samples; another realization others.
    CHECK(micro::deal_samples(partition, spec, 2, original.train_labels, 4) == dealt);
    CHECK(micro::deal_samples(partition, spec, 3, original.train_labels, 4) != dealt);
  }
}

TEST_CASE("a partition that leaves a unit fewer samples than a batch is refused") {
  micro::TaskSpec spec = spec_of(10);
  const auto labels = sorted_labels(10, 5);  // 50 samples: 5 per unit
  CHECK_NOTHROW(micro::check_partition(micro::parse_partition("iid", "p"), spec, 3, labels, 10, 5));
  CHECK_THROWS_AS(
      micro::check_partition(micro::parse_partition("iid", "p"), spec, 3, labels, 10, 6),
      InputError);
  CHECK_THROWS_AS(
      micro::check_partition(micro::parse_partition("shards:10", "p"), spec, 1, labels, 10, 1),
      InputError);  // 100 shards of 50 samples would be empty
}
