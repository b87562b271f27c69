// The exchange schemes of micro/scheme.hpp: each one's relation to diffusion, its invariants,
// and its determinism.
#include "micro/scheme.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>

#include "base/errors.hpp"
#include "base/random.hpp"
#include "coupling/graph.hpp"
#include "micro/ensemble.hpp"
#include "micro/task.hpp"
#include "micro_support.hpp"

using namespace cdl;
using micro::Activation;
using micro::Architecture;
using micro::Scheme;
using Mat = Eigen::MatrixXd;

namespace {

constexpr int units = 9;

const micro::TaskData<double>& task_data() {
  static const micro::TaskData<double> data = test::small_classes(units, 10);
  return data;
}

const Architecture net{4, 3, 5, 1, Activation::relu, true};

// The ensemble keeps a reference to its graph: graphs outlive the ensembles built on them.
const coupling::CouplingGraph& complete_graph() {
  static const coupling::CouplingGraph graph = coupling::CouplingGraph::complete(units);
  return graph;
}

coupling::CouplingGraph ring() {
  return coupling::CouplingGraph::draw(coupling::parse_topology("ring:4", "topology"), units, 3);
}

// An ensemble with the scheme, started from the same random parameters every time.
micro::Ensemble<double> make(const coupling::CouplingGraph& graph, const std::string& scheme,
                             int threads = 1) {
  micro::Ensemble<double> ensemble(net, task_data(), 4, graph, 1, 0);
  ensemble.set_scheme(micro::parse_scheme(scheme, "scheme"));
  ensemble.set_threads(threads);
  ensemble.set_parameters(test::random_matrix(net.parameter_count(), units, 5));
  return ensemble;
}

bool same_bits(const Mat& a, const Mat& b) {
  return a.size() == b.size() &&
         std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.size()) * sizeof(double)) == 0;
}

double spread(const Mat& theta) { return (theta.colwise() - theta.rowwise().mean()).squaredNorm(); }

}  // namespace

TEST_CASE("schemes parse and print back") {
  for (const char* text :
       {"diffusion", "dsgd", "easgd", "gossip", "fedavg:5:0.5", "fedavg:1:1", "fedavg:2:0.5:equal"})
    CHECK(micro::parse_scheme(text, "scheme").to_string() == text);
  CHECK(micro::parse_scheme("fedavg:3", "scheme").to_string() == "fedavg:3:1");
  for (const char* bad :
       {"", "fedavg", "fedavg:0", "fedavg:2:0", "fedavg:2:1.5", "fedavg:x", "fedavg:2:1:weighted",
        "fedavg:2:1:equal:1", "fedavg:2:equal", "gossip:2", "easgd:1", "diffusion:1", "push-sum"})
    CHECK_THROWS_AS(micro::parse_scheme(bad, "scheme"), InputError);
}

TEST_CASE("dsgd on the complete graph is diffusion and on a ring mixes by Metropolis-Hastings") {
  auto diffusion = make(complete_graph(), "diffusion");
  auto dsgd = make(complete_graph(), "dsgd");
  for (int step = 0; step < 20; ++step) {
    diffusion.step(0.05, 0.01, 3.0);
    dsgd.step(0.05, 0.01, 3.0);
  }
  CHECK(same_bits(diffusion.parameters(), dsgd.parameters()));

  // On a ring (degree 4 everywhere) W_ij = 1/5 on edges: against the dense matrix.
  const auto graph = ring();
  auto mixed = make(graph, "dsgd");
  const Mat before = mixed.parameters();
  const double tau = 0.1, sigma = 2.0;
  mixed.step(tau, 0.0, sigma, /*local_learning=*/false);
  Mat W = Mat::Zero(units, units);
  for (int i = 0; i < units; ++i)
    for (const int j : graph.neighbours(i)) W(i, j) = 1.0 / 5;
  for (int i = 0; i < units; ++i) W(i, i) = 1 - W.row(i).sum();
  CHECK((W.colwise().sum().array() - 1).abs().maxCoeff() < 1e-15);  // doubly stochastic
  const Mat expected = before + tau * sigma * (before * W.transpose() - before);
  CHECK((mixed.parameters() - expected).cwiseAbs().maxCoeff() < 1e-14);
}

TEST_CASE("fedavg with K tau sigma >= 1 replaces every unit by the mean after each average") {
  auto ensemble = make(complete_graph(), "fedavg:1:1");
  for (int step = 0; step < 3; ++step) {
    ensemble.step(0.05, 0.01, 20.0);  // Kτσ = 1
    const Mat& theta = ensemble.parameters();
    CHECK((theta.colwise() - theta.col(0)).cwiseAbs().maxCoeff() == 0);
  }
  // K = 3: local steps in between (the units drift apart on their own data), an average at
  // every third step.
  auto periodic = make(complete_graph(), "fedavg:3:1");
  for (int step = 1; step <= 6; ++step) {
    periodic.step(0.05, 0.01, 10.0);
    const Mat& theta = periodic.parameters();
    const double apart = (theta.colwise() - theta.col(0)).cwiseAbs().maxCoeff();
    INFO("step " << step);
    if (step % 3 == 0)
      CHECK(apart == 0);
    else
      CHECK(apart > 0);
  }
}

TEST_CASE("fedavg at K tau sigma = 1 in float32 is a full replacement despite rounding") {
  // 10 · 0.02f · 5f is 0.99999994 in float32: the preset's fedavg:10 at σ = 5 must still
  // replace every unit by the mean, as documented, not leave them 1e-8 apart.
  micro::TaskSpec spec;
  spec.units = units;
  spec.data = micro::parse_data("synthetic:4:3", "data");
  spec.train_size = 10;
  spec.test_size = 5;
  static const auto data = micro::make_task_data<float>(spec, 0, nullptr);
  micro::Ensemble<float> ensemble(net, data, 4, complete_graph(), 1, 0);
  ensemble.set_scheme(micro::parse_scheme("fedavg:10:1", "scheme"));
  ensemble.set_parameters(test::random_matrix(net.parameter_count(), units, 5).cast<float>());
  for (int step = 1; step <= 10; ++step) ensemble.step(0.02f, 0.001f, 5.0f);
  const auto& theta = ensemble.parameters();
  CHECK((theta.colwise() - theta.col(0)).cwiseAbs().maxCoeff() == 0);
}

TEST_CASE("fedavg weights the units by their sample counts (McMahan et al. 2017) unless :equal") {
  // Units holding 1, 2, ..., 9 of their 10 samples.
  static const micro::TaskData<double> uneven = [] {
    micro::TaskData<double> data = test::small_classes(units, 10);
    for (int i = 0; i < units; ++i) data.unit_count[static_cast<std::size_t>(i)] = i + 1;
    return data;
  }();
  const auto run = [&](const std::string& scheme) {
    micro::Ensemble<double> ensemble(net, uneven, 4, complete_graph(), 1, 0);
    ensemble.set_scheme(micro::parse_scheme(scheme, "scheme"));
    ensemble.set_parameters(test::random_matrix(net.parameter_count(), units, 5));
    ensemble.step(0.05, 0.0, 20.0, /*local_learning=*/false);  // Kτσ = 1: full replacement
    return Mat(ensemble.parameters());
  };
  const Mat before = test::random_matrix(net.parameter_count(), units, 5);
  Eigen::VectorXd weighted = Eigen::VectorXd::Zero(before.rows());
  for (int i = 0; i < units; ++i) weighted += (i + 1) * before.col(i);
  weighted /= units * (units + 1) / 2.0;
  const Eigen::VectorXd equal = before.rowwise().mean();
  const Mat by_samples = run("fedavg:1:1"), by_unit = run("fedavg:1:1:equal");
  for (int i = 0; i < units; ++i) {
    CHECK((by_samples.col(i) - weighted).cwiseAbs().maxCoeff() < 1e-14);
    CHECK((by_unit.col(i) - equal).cwiseAbs().maxCoeff() < 1e-14);
  }
  CHECK((weighted - equal).cwiseAbs().maxCoeff() > 1e-3);  // the two are different algorithms
}

TEST_CASE("fedavg with C < 1 averages round(C N) units chosen by the seed") {
  auto ensemble = make(complete_graph(), "fedavg:1:0.34");  // 3 of 9
  const Mat before = ensemble.parameters();
  ensemble.step(0.05, 0.0, 20.0, /*local_learning=*/false);
  const Mat& after = ensemble.parameters();
  std::vector<int> moved;
  for (int i = 0; i < units; ++i)
    if ((after.col(i) - before.col(i)).cwiseAbs().maxCoeff() > 0) moved.push_back(i);
  REQUIRE(moved.size() == 3);
  Eigen::VectorXd mean = Eigen::VectorXd::Zero(before.rows());
  for (const int i : moved) mean += before.col(i) / 3;
  for (const int i : moved) CHECK((after.col(i) - mean).cwiseAbs().maxCoeff() < 1e-15);
  // Other rounds choose other units; the same seed the same ones.
  auto again = make(complete_graph(), "fedavg:1:0.34");
  again.step(0.05, 0.0, 20.0, false);
  CHECK(same_bits(again.parameters(), after));
}

TEST_CASE("without gradients every scheme conserves the mean and contracts the spread") {
  const auto complete = coupling::CouplingGraph::complete(units);
  const auto sparse = ring();
  for (const auto* graph : {&complete, &sparse})
    for (const char* scheme :
         {"diffusion", "dsgd", "fedavg:2:1", "fedavg:1:0.5", "easgd", "gossip"}) {
      INFO(scheme << (graph->is_complete() ? ", complete graph" : ", ring"));
      auto ensemble = make(*graph, scheme);
      const bool centre = std::string(scheme) == "easgd";
      // easgd: the units and the centre together, the centre weighing as much as one unit
      // (it moves by the sum of the units' elastic forces: Σθᵢ + c is conserved).
      const auto conserved = [&] {
        Eigen::VectorXd m = ensemble.parameters().rowwise().mean();
        if (centre) m += ensemble.centre() / units;
        return m;
      };
      const Eigen::VectorXd start = conserved();
      const double first = spread(ensemble.parameters());
      for (int step = 0; step < 40; ++step) {
        ensemble.step(0.05, 0.0, 2.0, /*local_learning=*/false);
        CHECK((conserved() - start).cwiseAbs().maxCoeff() < 1e-13);
      }
      CHECK(spread(ensemble.parameters()) < 0.9 * first);
    }
}

TEST_CASE("gossip averages the pairs of a random maximal matching every step") {
  const double tau = 0.01, sigma = 2.0;
  for (const auto& graph : {coupling::CouplingGraph::complete(units), ring()}) {
    INFO((graph.is_complete() ? "complete graph" : "ring"));
    // α = τσ · 2|E|/N²: the expected pull of a matched unit is diffusion's.
    const double alpha =
        tau * sigma * 2.0 * static_cast<double>(graph.edge_count()) / (units * units);
    auto ensemble = make(graph, "gossip");
    std::vector<int> matched_steps(units, 0);
    for (int step = 0; step < 200; ++step) {
      const Mat before = ensemble.parameters();
      ensemble.step(tau, 0.0, sigma, /*local_learning=*/false);
      const Mat& after = ensemble.parameters();
      std::vector<int> partner(units, -1);
      for (int i = 0; i < units; ++i) {
        if ((after.col(i) - before.col(i)).cwiseAbs().maxCoeff() == 0) continue;
        // Its partner j: θᵢ + α(θⱼ − θᵢ), a neighbour, and moved the other way.
        for (const int j : graph.neighbours(i))
          if ((after.col(i) - (before.col(i) + alpha * (before.col(j) - before.col(i))))
                  .cwiseAbs()
                  .maxCoeff() < 1e-15)
            partner[static_cast<std::size_t>(i)] = j;
        REQUIRE(partner[static_cast<std::size_t>(i)] >= 0);
        ++matched_steps[static_cast<std::size_t>(i)];
      }
      for (int i = 0; i < units; ++i) {
        const int j = partner[static_cast<std::size_t>(i)];
        if (j >= 0) CHECK(partner[static_cast<std::size_t>(j)] == i);
        // Maximal: no edge has both ends unmatched.
        if (j < 0)
          for (const int k : graph.neighbours(i)) CHECK(partner[static_cast<std::size_t>(k)] >= 0);
      }
      // On the complete graph of 9 units every step pairs 8 of them.
      if (graph.is_complete()) CHECK(std::count(partner.begin(), partner.end(), -1) == 1);
    }
    // Every unit is woken about equally often (most steps, on either graph).
    for (const int m : matched_steps) {
      CHECK(m > 130);
      CHECK(m <= 200);
    }
  }
}

TEST_CASE("every scheme gives the same bits on 1, 2 and 3 threads") {
  for (const char* scheme : {"dsgd", "fedavg:2:0.5", "easgd", "gossip"})
    for (const auto& graph : {coupling::CouplingGraph::complete(units), ring()}) {
      INFO(scheme);
      auto one = make(graph, scheme, 1), two = make(graph, scheme, 2),
           three = make(graph, scheme, 3);
      for (auto* e : {&one, &two, &three}) e->advance(12, 0.05, 0.01, 3.0);
      CHECK(same_bits(one.parameters(), two.parameters()));
      CHECK(same_bits(one.parameters(), three.parameters()));
      CHECK(one.parameters_sent() == two.parameters_sent());
    }
}

TEST_CASE("communication: parameters sent per step by each scheme") {
  const auto graph = ring();  // 18 edges
  const double P = static_cast<double>(net.parameter_count());
  const auto sent = [&](const std::string& scheme, long steps) {
    auto ensemble = make(graph, scheme);
    ensemble.restart_batches();
    ensemble.advance(steps, 0.05, 0.01, 1.0);
    return ensemble.parameters_sent();
  };
  CHECK(sent("diffusion", 6) == 6 * 2 * 18 * P);  // both ends of every edge
  CHECK(sent("dsgd", 6) == 6 * 2 * 18 * P);
  CHECK(sent("easgd", 6) == 6 * 2 * units * P);       // to the centre and back
  CHECK(sent("fedavg:3:1", 6) == 2 * 2 * units * P);  // two averages of all units
  CHECK(sent("fedavg:3:0.34", 6) == 2 * 2 * 3 * P);
  // gossip: both ends of each matched pair (a maximal matching of the ring: 3 or 4 pairs).
  CHECK(sent("gossip", 6) >= 6 * 2 * 3 * P);
  CHECK(sent("gossip", 6) <= 6 * 2 * 4 * P);
  auto complete = make(complete_graph(), "gossip");
  complete.advance(6, 0.05, 0.01, 1.0);
  CHECK(complete.parameters_sent() == 6 * 2 * 4 * P);  // 4 pairs of the 9 units every step
  // Without coupling nothing is sent, and the units train on their own.
  for (const char* scheme : {"diffusion", "dsgd", "easgd", "fedavg:3:1", "gossip"}) {
    INFO(scheme);
    auto uncoupled = make(graph, scheme), alone = make(graph, "diffusion");
    uncoupled.advance(6, 0.05, 0.01, 0.0);
    alone.advance(6, 0.05, 0.01, 0.0);
    CHECK(uncoupled.parameters_sent() == 0);
    CHECK(same_bits(uncoupled.parameters(), alone.parameters()));
  }
}

TEST_CASE("easgd: the centre moves by N tau sigma towards the units' mean (Zhang et al. 2015)") {
  auto ensemble = make(complete_graph(), "easgd");
  const double tau = 0.01, sigma = 3.0, alpha = tau * sigma, beta = units * alpha;
  // The centre starts at the units' mean; a learning step moves the units away from it.
  ensemble.step(tau, 0.0, sigma);
  const Mat before = ensemble.parameters();
  const Eigen::VectorXd centre = ensemble.centre();
  REQUIRE((before.rowwise().mean() - centre).cwiseAbs().maxCoeff() > 1e-6);
  ensemble.step(tau, 0.0, sigma, /*local_learning=*/false);
  // Synchronous EASGD, eqs. (5)-(6): both updates use the values before the step.
  const Eigen::VectorXd expected_centre = centre + beta * (before.rowwise().mean() - centre);
  CHECK((ensemble.centre() - expected_centre).cwiseAbs().maxCoeff() < 1e-14);
  for (int i = 0; i < units; ++i)
    CHECK((ensemble.parameters().col(i) - (before.col(i) + alpha * (centre - before.col(i))))
              .cwiseAbs()
              .maxCoeff() < 1e-14);
}

TEST_CASE("small tau: fedavg and gossip approach the effective theory with the same sigma") {
  // The effective task (width-1 deep linear networks, exact population loss, balanced weights)
  // against the adaptive solution of docs/physics.md §2 at t = 2. fedavg:K with Kτσ < 1 is a
  // Lie splitting of the same flow (local steps, then the coupling's K steps at once): first
  // order. gossip's expected pull is diffusion's; its randomness averages out as τ → 0.
  const test::EffectiveBridge bridge;
  const auto graph = coupling::CouplingGraph::complete(bridge.units);
  const double gamma = 0.001, sigma = 1.5, t_end = 2.0;
  const Eigen::ArrayXd exact = bridge.theory_at(gamma, sigma, graph, t_end);
  const auto error = [&](const std::string& scheme, int steps) {
    micro::Ensemble<double> ensemble(bridge.net, bridge.data, 0, graph, bridge.spec.seed, 0);
    ensemble.set_scheme(micro::parse_scheme(scheme, "scheme"));
    ensemble.set_parameters(bridge.initial);
    ensemble.advance(steps, t_end / steps, gamma, sigma);
    return bridge.error(ensemble.parameters(), exact);
  };
  std::vector<double> fedavg, gossip;
  for (const int steps : {1000, 2000, 4000, 8000}) {
    fedavg.push_back(error("fedavg:4:1", steps));
    gossip.push_back(error("gossip", steps));
  }
  for (std::size_t k = 0; k + 1 < fedavg.size(); ++k) {
    INFO("fedavg error " << fedavg[k] << " then " << fedavg[k + 1]);
    CHECK(fedavg[k] / fedavg[k + 1] == Approx(2.0).epsilon(0.1));  // halving τ halves it
  }
  INFO("gossip errors " << gossip[0] << ", " << gossip[1] << ", " << gossip[2] << ", "
                        << gossip[3]);
  // Random pairs: the path error shrinks (0.014, 0.011, 0.0097, 0.0042 here; with one edge per
  // step instead of a matching it was ten times larger, 0.157 to 0.059).
  CHECK(gossip[3] < 0.45 * gossip[0]);
  CHECK(gossip[3] < 0.01);
}

TEST_CASE("small tau: dsgd on a ring approaches the theory on that ring with sigma N/(d+1)") {
  // Metropolis–Hastings weights on a d-regular graph are 1/(d + 1) per edge, diffusion's are
  // σ/N: dsgd at σ is diffusion at σN/(d + 1), which cdl theory integrates on the same graph.
  const test::EffectiveBridge bridge;
  const int n = bridge.units;
  const auto graph =
      coupling::CouplingGraph::draw(coupling::parse_topology("ring:4", "topology"), n, 5);
  const double gamma = 0.001, sigma = 0.8, t_end = 2.0;
  const Eigen::ArrayXd exact = bridge.theory_at(gamma, sigma * n / (4 + 1), graph, t_end);
  std::vector<double> errors;
  for (const int steps : {1000, 2000, 4000}) {
    micro::Ensemble<double> ensemble(bridge.net, bridge.data, 0, graph, bridge.spec.seed, 0);
    ensemble.set_scheme(micro::parse_scheme("dsgd", "scheme"));
    ensemble.set_parameters(bridge.initial);
    ensemble.advance(steps, t_end / steps, gamma, sigma);
    errors.push_back(bridge.error(ensemble.parameters(), exact));
  }
  for (std::size_t k = 0; k + 1 < errors.size(); ++k) {
    INFO("error " << errors[k] << " then " << errors[k + 1]);
    CHECK(errors[k] / errors[k + 1] == Approx(2.0).epsilon(0.1));
  }
}
