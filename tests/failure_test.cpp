// Failing units and links (micro/failures.hpp) in the ensemble's step: what an offline unit,
// a link that is down and a crash do, for every scheme, and that the failures depend on the
// seed only.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>

#include "base/errors.hpp"
#include "coupling/graph.hpp"
#include "micro/ensemble.hpp"
#include "micro/failures.hpp"
#include "micro/task.hpp"
#include "micro_support.hpp"

using namespace cdl;
using micro::Activation;
using micro::Architecture;
using micro::Failures;
using Mat = Eigen::MatrixXd;

namespace {

constexpr int units = 8;
const Architecture net{4, 3, 5, 1, Activation::relu, true};
const char* const schemes[] = {"diffusion", "dsgd", "fedavg:2:0.5", "easgd", "gossip"};

const micro::TaskData<double>& task_data() {
  static const micro::TaskData<double> data = test::small_classes(units, 12);
  return data;
}

Mat start() { return test::random_matrix(net.parameter_count(), units, 11); }

micro::Ensemble<double> make(const coupling::CouplingGraph& graph, const std::string& scheme,
                             const Failures& failures, int threads = 1) {
  micro::Ensemble<double> ensemble(net, task_data(), 4, graph, 1, 0);
  ensemble.set_scheme(micro::parse_scheme(scheme, "scheme"));
  ensemble.set_failures(failures);
  ensemble.set_threads(threads);
  ensemble.set_parameters(start());
  return ensemble;
}

bool same_bits(const Mat& a, const Mat& b) {
  return a.size() == b.size() &&
         std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.size()) * sizeof(double)) == 0;
}

Failures failing(double dropout, double link, const std::string& crash = "none") {
  Failures f;
  f.dropout = dropout;
  f.link_failure = link;
  micro::parse_crash(crash, "crash", f);
  return f;
}

// The ensemble keeps a reference to its graph: graphs outlive the ensembles built on them.
const coupling::CouplingGraph& complete_graph() {
  static const coupling::CouplingGraph graph = coupling::CouplingGraph::complete(units);
  return graph;
}

coupling::CouplingGraph ring() {
  return coupling::CouplingGraph::draw(coupling::parse_topology("ring:4", "topology"), units, 3);
}

}  // namespace

TEST_CASE("failure options parse") {
  CHECK(micro::parse_probability("0.25", "dropout") == 0.25);
  for (const char* bad : {"-0.1", "1.5", "x", "nan"})
    CHECK_THROWS_AS(micro::parse_probability(bad, "dropout"), InputError);
  Failures f;
  micro::parse_crash("0.5:100", "crash", f);
  CHECK(f.crash_text() == "0.5:100");
  for (const char* bad : {"0.5", "0:10", "1.5:10", "0.5:-1", "0.5:x", "a:b:c"}) {
    Failures g;
    CHECK_THROWS_AS(micro::parse_crash(bad, "crash", g), InputError);
  }
}

TEST_CASE("no failures (every probability 0) is the step without failures, bit for bit") {
  for (const char* scheme : schemes) {
    INFO(scheme);
    auto plain = make(complete_graph(), scheme, Failures{});
    micro::Ensemble<double> unset(net, task_data(), 4, complete_graph(), 1, 0);
    unset.set_scheme(micro::parse_scheme(scheme, "scheme"));
    unset.set_parameters(start());
    plain.advance(10, 0.05, 0.01, 2.0);
    unset.advance(10, 0.05, 0.01, 2.0);
    CHECK(same_bits(plain.parameters(), unset.parameters()));
  }
}

TEST_CASE("dropout 1 leaves every unit at its initial parameters") {
  for (const auto& graph : {coupling::CouplingGraph::complete(units), ring()})
    for (const char* scheme : schemes) {
      INFO(scheme);
      auto ensemble = make(graph, scheme, failing(1, 0));
      ensemble.advance(20, 0.05, 0.01, 2.0);
      CHECK(same_bits(ensemble.parameters(), start()));
      CHECK(ensemble.parameters_sent() == 0);
    }
}

TEST_CASE("a crashed unit never changes after its step while the others go on") {
  for (const auto& graph : {coupling::CouplingGraph::complete(units), ring()})
    for (const char* scheme : schemes) {
      INFO(scheme);
      auto ensemble = make(graph, scheme, failing(0.2, 0.3, "0.5:6"));
      ensemble.advance(6, 0.05, 0.01, 2.0);
      const Mat at_crash = ensemble.parameters();
      ensemble.advance(30, 0.05, 0.01, 2.0);
      // The next coupling of an adiabatic chain: the point's steps start again, the crash
      // stays.
      ensemble.restart_batches();
      ensemble.advance(10, 0.05, 0.01, 3.0);
      int crashed = 0;
      for (int i = 0; i < units; ++i) {
        const bool moved =
            (ensemble.parameters().col(i) - at_crash.col(i)).cwiseAbs().maxCoeff() > 0;
        if (ensemble.crashed(i, 6)) {
          ++crashed;
          CHECK_FALSE(moved);
        } else {
          CHECK(moved);
        }
      }
      CHECK(crashed == 4);  // round(0.5 × 8)
    }
}

TEST_CASE("failures are a function of the seed: the same bits on 1, 2 and 3 threads") {
  for (const auto& graph : {coupling::CouplingGraph::complete(units), ring()})
    for (const char* scheme : schemes) {
      INFO(scheme);
      const Failures f = failing(0.3, 0.4, "0.25:10");
      auto one = make(graph, scheme, f, 1), two = make(graph, scheme, f, 2),
           three = make(graph, scheme, f, 3);
      for (auto* e : {&one, &two, &three}) e->advance(25, 0.05, 0.01, 2.0);
      CHECK(same_bits(one.parameters(), two.parameters()));
      CHECK(same_bits(one.parameters(), three.parameters()));
      CHECK(one.parameters_sent() == three.parameters_sent());
    }
}

TEST_CASE("with failing units and links the exchange still conserves the mean") {
  // Offline units keep their parameters and online pairs exchange antisymmetrically, so
  // without gradients the mean over all units is conserved (easgd's centre follows only the
  // online units, so it is left out here) and the spread still contracts.
  for (const auto& graph : {coupling::CouplingGraph::complete(units), ring()})
    for (const char* scheme : {"diffusion", "dsgd", "fedavg:2:0.5", "gossip"}) {
      INFO(scheme);
      auto ensemble = make(graph, scheme, failing(0.3, 0.3, "0.25:5"));
      const Eigen::VectorXd mean = ensemble.parameters().rowwise().mean();
      const double spread = (ensemble.parameters().colwise() - mean).squaredNorm();
      for (int step = 0; step < 60; ++step) {
        ensemble.step(0.05, 0.0, 2.0, /*local_learning=*/false);
        CHECK((ensemble.parameters().rowwise().mean() - mean).cwiseAbs().maxCoeff() < 1e-13);
      }
      CHECK((ensemble.parameters().colwise() - mean).squaredNorm() < spread);
    }
}

TEST_CASE("dropout and link failures happen at their rates") {
  const micro::FailureModel model(failing(0.3, 0.6), 50, 1, 0);
  long offline = 0, down = 0, draws = 0;
  for (long step = 0; step < 400; ++step)
    for (int i = 0; i < 50; ++i) {
      offline += !model.online(i, step);
      down += !model.link_up(i, (i + 1) % 50, step);
      CHECK(model.link_up(i, (i + 1) % 50, step) == model.link_up((i + 1) % 50, i, step));
      ++draws;
    }
  // 20 000 draws each: a standard error of about 0.0035.
  CHECK(static_cast<double>(offline) / draws == Approx(0.3).margin(0.015));
  CHECK(static_cast<double>(down) / draws == Approx(0.6).margin(0.015));
}
