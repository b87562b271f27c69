// The microscopic simulator: backpropagation against finite differences, the bridge to the
// effective theory (docs/physics.md §2), the coupling's invariants and determinism.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <tuple>

#include "base/distribution.hpp"
#include "base/random.hpp"
#include "coupling/graph.hpp"
#include "experiments/micro_sweep.hpp"
#include "micro/ensemble.hpp"
#include "micro/first_layer.hpp"
#include "micro/network.hpp"
#include "micro/observables.hpp"
#include "micro/task.hpp"
#include "micro_support.hpp"
#include "sweep/grid.hpp"
#include "theory/effective_dynamics.hpp"

using namespace cdl;
using micro::Activation;
using micro::Architecture;
using micro::LossKind;
using Mat = Eigen::MatrixXd;

using test::effective_spec;
using test::random_matrix;

TEST_CASE(
    "backpropagation matches central finite differences for every layer, activation and loss") {
  for (const Activation activation : {Activation::linear, Activation::relu, Activation::tanh})
    for (const bool bias : {false, true})
      for (const LossKind loss : {LossKind::mse, LossKind::xent})
        for (const int depth : {0, 1, 2})
          // 263 takes the first layer's own loops (micro/first_layer.hpp) with a remainder.
          for (const int input : {3, 263}) {
            const Architecture net{input, 4, 5, depth, activation, bias};
            const Eigen::Index count = net.parameter_count();
            const Mat theta = 0.7 * random_matrix(count, 1, 1);
            // Scaled so that pre-activations, and so the finite differences' rounding, do not
            // grow with the number of inputs.
            const Mat inputs = std::sqrt(3.0 / input) * random_matrix(input, 6, 2);
            const Mat targets = random_matrix(4, 6, 3);
            const std::vector<int> labels{0, 3, 1, 2, 2, 0};
            const micro::Batch<double> batch{inputs, targets, labels.data()};
            micro::NetworkWorkspace<double> network(net);
            Mat gradient(count, 1);
            network.loss_and_gradient(theta.data(), batch, loss, gradient.data());
            // The worst difference against the largest component: with hundreds of inputs
            // some components are small enough for the differences' rounding to dominate them.
            double worst = 0, largest = 0;
            for (Eigen::Index p = 0; p < count; ++p) {
              const double h = 1e-6;
              Mat plus = theta, minus = theta;
              plus(p) += h;
              minus(p) -= h;
              const double numeric = (network.forward(plus.data(), batch, loss) -
                                      network.forward(minus.data(), batch, loss)) /
                                     (2 * h);
              worst = std::max(worst, std::abs(numeric - gradient(p)));
              largest = std::max(largest, std::abs(numeric));
            }
            worst /= largest;
            INFO(micro::name(activation) << " bias " << bias << " " << micro::name(loss) << " D "
                                         << depth << " inputs " << input);
            CHECK(worst < 1e-7);
          }
}

// The first layer's register-blocked products against a plain double-precision sum, on shapes
// that leave every kind of edge (partial packets, partial blocks of samples and of outputs)
// and on operands whose columns are not contiguous with each other.
template <class S>
void check_first_layer_products() {
  using Matrix = micro::Matrix<S>;
  for (const Eigen::Index fan_in : {1, 7, 16, 17, 40, 100, 300})
    for (const Eigen::Index batch : {1, 3, 4, 9, 32})
      for (const Eigen::Index fan_out : {1, 4, 5, 6, 11, 20}) {
        const Mat x_store = random_matrix(fan_in + 3, batch, 1);
        const Mat w_store = random_matrix(fan_in + 2, fan_out, 2);
        const Mat delta_double = random_matrix(batch, fan_out, 3);
        const Matrix x_all = x_store.cast<S>(), w_all = w_store.cast<S>();
        const Matrix delta = delta_double.cast<S>();
        const Eigen::Ref<const Matrix> x = x_all.topRows(fan_in);  // column stride fan_in + 3
        const Eigen::Ref<const Matrix> w = w_all.topRows(fan_in);
        Matrix z(batch, fan_out), g_all(fan_in + 1, fan_out);
        Eigen::Ref<Matrix> g = g_all.topRows(fan_in);
        micro::first_layer::forward<S>(x, w, z);
        micro::first_layer::gradient<S>(x, delta, g);
        const Mat xd = x.template cast<double>(), wd = w.template cast<double>();
        const Mat dd = delta.template cast<double>();
        // Rounding of a sum of n products: at most n ε Σ|terms|.
        const double eps = std::numeric_limits<S>::epsilon();
        const Mat z_bound = (fan_in + 1) * eps * (xd.cwiseAbs().transpose() * wd.cwiseAbs());
        const Mat g_bound = (batch + 1) * eps * (xd.cwiseAbs() * dd.cwiseAbs());
        INFO("fan_in " << fan_in << " batch " << batch << " fan_out " << fan_out);
        CHECK(((z.template cast<double>() - xd.transpose() * wd).cwiseAbs() - z_bound).maxCoeff() <=
              0);
        CHECK(((g.template cast<double>() - xd * dd).cwiseAbs() - g_bound).maxCoeff() <= 0);
      }
}

TEST_CASE("the first layer's products are the matrix products for every shape edge") {
  check_first_layer_products<float>();
  check_first_layer_products<double>();
}

TEST_CASE("the effective task with balanced weights is forward Euler on the effective dynamics") {
  const int units = 12;
  const micro::TaskSpec spec = effective_spec(units);
  const micro::TaskData<double> data = micro::make_task_data<double>(spec, 0, nullptr);
  const auto init = base::parse_distribution("uniform:-1.7:2.3", "init", {"uniform"});
  const auto graph = coupling::CouplingGraph::complete(units);
  const double tau = 1e-3, gamma = 0.001, sigma = 0.7;
  for (const int depth : {0, 1, 2}) {
    const Architecture net{1, 1, 1, depth, Activation::linear, false};
    micro::Ensemble<double> ensemble(net, data, 0, graph, spec.seed, 0);
    ensemble.parameters() = micro::initial_parameters<double>(
        net, units, micro::WeightInit{micro::WeightInit::Kind::balanced, 0}, init, spec.seed, 0);
    Eigen::ArrayXd phi = ensemble.parameters().row(0).transpose().array();
    theory::EffectiveDynamics dynamics(depth, gamma, data.disorder, graph);
    dynamics.set_sigma(sigma);
    Eigen::ArrayXd rate(units);
    double worst = 0;
    for (int step = 0; step < 2000; ++step) {
      ensemble.step(tau, gamma, sigma);
      dynamics(phi, rate);
      phi += tau * rate;
      // Every layer of every unit stays equal to φ_i (balanced), up to round-off.
      for (Eigen::Index l = 0; l < ensemble.parameters().rows(); ++l)
        worst = std::max(worst,
                         (ensemble.parameters().row(l).transpose().array() - phi).abs().maxCoeff());
    }
    INFO("D " << depth << ": largest difference " << worst);
    CHECK(worst < 1e-12);
    CHECK(phi.abs().maxCoeff() > 0.1);  // a non-trivial trajectory
  }
}

TEST_CASE(
    "the effective task converges to the adaptive effective-theory trajectory at first order") {
  const test::EffectiveBridge bridge;
  const auto graph = coupling::CouplingGraph::complete(bridge.units);
  const double gamma = 0.001, sigma = 1.5, t_end = 2.0;
  const Eigen::ArrayXd exact = bridge.theory_at(gamma, sigma, graph, t_end);

  std::vector<double> errors;
  for (const int steps : {1000, 2000, 4000, 8000}) {
    micro::Ensemble<double> ensemble(bridge.net, bridge.data, 0, graph, bridge.spec.seed, 0);
    ensemble.parameters() = bridge.initial;
    const double tau = t_end / steps;
    for (int k = 0; k < steps; ++k) ensemble.step(tau, gamma, sigma);
    errors.push_back(bridge.error(ensemble.parameters(), exact));
  }
  for (std::size_t k = 0; k + 1 < errors.size(); ++k) {
    INFO("error " << errors[k] << " then " << errors[k + 1]);
    CHECK(errors[k] / errors[k + 1] == Approx(2.0).epsilon(0.1));  // halving τ halves the error
  }
}

TEST_CASE("coupling alone conserves every parameter's ensemble mean and contracts the spread") {
  const int units = 9;
  micro::TaskSpec spec;
  spec.units = units;
  spec.data = micro::parse_data("synthetic:4:3", "data");
  spec.train_size = 10;
  spec.test_size = 5;
  const micro::TaskData<double> data = micro::make_task_data<double>(spec, 0, nullptr);
  const Architecture net{4, 3, 5, 1, Activation::relu, true};
  for (const auto& graph :
       {coupling::CouplingGraph::complete(units),
        coupling::CouplingGraph::draw(coupling::parse_topology("ring:4", "topology"), units, 3)}) {
    micro::Ensemble<double> ensemble(net, data, 4, graph, 1, 0);
    ensemble.parameters() = random_matrix(net.parameter_count(), units, 5);
    const Eigen::VectorXd mean = ensemble.parameters().rowwise().mean();
    double spread = (ensemble.parameters().colwise() - mean).squaredNorm();
    for (int step = 0; step < 50; ++step) {
      ensemble.step(0.1, 0.0, 2.0, /*local_learning=*/false);
      const double now = (ensemble.parameters().colwise() - mean).squaredNorm();
      CHECK(now < spread);
      spread = now;
      CHECK((ensemble.parameters().rowwise().mean() - mean).cwiseAbs().maxCoeff() < 1e-13);
    }
  }
}

TEST_CASE("without coupling a unit's trajectory does not depend on another unit's data") {
  micro::TaskSpec spec;
  spec.kind = micro::TaskKind::teacher;
  spec.units = 5;
  spec.data = micro::parse_data("synthetic:4:2", "data");
  spec.train_size = 16;
  spec.test_size = 4;
  spec.disorder = base::parse_distribution("normal:0:2", "disorder", {"normal"});
  spec.loss = LossKind::mse;
  const micro::TaskData<double> data = micro::make_task_data<double>(spec, 0, nullptr);
  micro::TaskData<double> changed = data;
  changed.train_targets.middleCols(changed.unit_first[3], changed.unit_count[3]) *= -3.0;
  const Architecture net{4, 4, 6, 2, Activation::tanh, true};
  const auto graph = coupling::CouplingGraph::complete(spec.units);
  const Mat initial =
      micro::initial_parameters<double>(net, spec.units, micro::WeightInit{}, spec.disorder, 1, 0);
  const auto run = [&](const micro::TaskData<double>& task, double sigma) {
    micro::Ensemble<double> ensemble(net, task, 4, graph, 1, 0);
    ensemble.parameters() = initial;
    for (int step = 0; step < 60; ++step) ensemble.step(0.05, 0.001, sigma);
    return Mat(ensemble.parameters());
  };
  const Mat a = run(data, 0.0), b = run(changed, 0.0);
  for (int unit : {0, 1, 2, 4}) CHECK(a.col(unit) == b.col(unit));
  CHECK(a.col(3) != b.col(3));
  // With coupling the change reaches the other units.
  CHECK(run(data, 1.0).col(0) != run(changed, 1.0).col(0));
}

TEST_CASE("the mean model: the network with the units' mean parameters") {
  const micro::TaskData<double> data = test::small_classes(6, 12);
  const Architecture net{4, 3, 5, 1, Activation::relu, true};
  micro::Evaluator<double> evaluator(net, data);
  const Mat theta = test::random_matrix(net.parameter_count(), 6, 11);
  const micro::Measurement m = evaluator.measure(theta, false);
  // Independently: every unit set to θ̄, so that each unit is the mean model.
  const Eigen::VectorXd mean = theta.rowwise().mean();
  const Mat replicated = mean.replicate(1, 6);
  micro::Evaluator<double> again(net, data);
  const micro::Measurement same = again.measure(replicated, false);
  CHECK(m.accuracy_mean_model == same.accuracy);
  CHECK(m.loss_test_mean_model == Approx(same.loss_test).epsilon(1e-12));
  CHECK(same.accuracy_mean_model == same.accuracy);
  CHECK(std::isnan(m.accuracy_center));  // no centre given
  // easgd's centre: scored as a model of its own.
  const Eigen::VectorXd centre = theta.col(2);
  const micro::Measurement with_centre = again.measure(theta, false, &centre);
  CHECK(with_centre.accuracy_center ==
        Approx(again.measure(centre.replicate(1, 6), false).accuracy).epsilon(1e-12));
  // Not the units' own mean accuracy: a different model.
  CHECK(m.loss_test_mean_model != Approx(m.loss_test).epsilon(1e-6));
  // Bit-identical on several threads.
  again.set_threads(3);
  const micro::Measurement threaded = again.measure(theta, false);
  CHECK(threaded.accuracy_mean_model == m.accuracy_mean_model);
  CHECK(threaded.loss_test_mean_model == m.loss_test_mean_model);
}

TEST_CASE("the rank-one R^2 of a cross-accuracy matrix") {
  Mat rank_one = Eigen::VectorXd::LinSpaced(4, 0.1, 0.9) * Eigen::RowVectorXd::LinSpaced(4, 1, 2);
  CHECK(micro::rank_one_r2(rank_one) == Approx(1.0));
  CHECK(micro::rank_one_r2(Mat::Identity(4, 4)) == Approx(0.25));
}

TEST_CASE("cdl micro sweeps are bit-identical for any thread count") {
  experiments::MicroSweep sweep = test::tiny_micro_sweep();
  sweep.runs = 2;
  sweep.depths = {0, 2};
  sweep.protocols = {sweep::Protocol::nonadiabatic, sweep::Protocol::adiabatic_up};
  using Key = std::tuple<int, int, int>;
  const auto collect = [&](int threads) {
    std::map<Key, experiments::MicroChainResult> results;
    experiments::run_micro_sweep(sweep, threads, [&](const experiments::MicroChainResult& r) {
      results[{r.chain.protocol, r.chain.depth_index, r.chain.run}] = r;
    });
    return results;
  };
  const auto one = collect(1), two = collect(2);
  REQUIRE(one.size() == 8);
  REQUIRE(two.size() == 8);
  for (const auto& [key, a] : one) {
    const auto& b = two.at(key);
    for (std::size_t o = 0; o < a.trace.size(); ++o)
      CHECK(std::memcmp(a.trace[o].data(), b.trace[o].data(), a.trace[o].size() * sizeof(double)) ==
            0);
    CHECK(std::memcmp(a.cross_accuracy.data(), b.cross_accuracy.data(),
                      a.cross_accuracy.size() * sizeof(double)) == 0);
    CHECK(a.status == b.status);
    for (auto s : a.status) CHECK(s == 0);
  }
}
