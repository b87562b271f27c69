// Coupled-step throughput of `cdl micro` at the published real-data scale (docs/physics.md §5):
// N = 10 networks 784 → [20]×D → 10, ReLU with biases, softmax cross-entropy, batch 32,
// τ = 0.005, γ = 0.001, all-to-all coupling σ = 1. Prints JSON on stdout:
// steps per second for D = 0, 1, 2 in float32 and float64, on one thread and as two
// independent ensembles on two threads (how sweeps use the machine), the FLOPs of one coupled
// step, one ensemble whose units two threads share (a single chain or point), and this
// machine's Eigen matrix-multiply rate for comparison.
//
// usage: cdl_micro_bench [seconds per case, default 2] [gemm | layer]
//   gemm: only the matrix-multiply rates (bench/cli_step_benchmark.py compares `cdl micro`
//   itself against them).
//   layer: the first layer's two products by Eigen and by micro/first_layer.hpp, for
//   20 to 3 072 inputs.
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "base/random.hpp"
#include "coupling/graph.hpp"
#include "micro/ensemble.hpp"
#include "micro/first_layer.hpp"
#include "micro/task.hpp"

using namespace cdl;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int units = 10, input = 784, width = 20, classes = 10, batch = 32, per_unit = 1000;

// MNIST-shaped data: 1000 random "images" per unit in [0, 1], unit i's labelled i.
template <class S>
micro::TaskData<S> mnist_shaped() {
  micro::TaskData<S> data;
  data.loss = micro::LossKind::xent;
  data.input = input;
  data.output = data.classes = classes;
  auto inputs = std::make_shared<micro::Matrix<S>>(input, units * per_unit);
  const base::CounterRng rng(1, base::Purpose::data, 0);
  for (Eigen::Index k = 0; k < inputs->size(); ++k)
    inputs->data()[k] = static_cast<S>(rng.uniform(0, static_cast<std::uint64_t>(k)));
  data.train_inputs = data.test_inputs = inputs;
  for (int i = 0; i < units; ++i) {
    data.unit_first.push_back(static_cast<Eigen::Index>(i) * per_unit);
    data.unit_count.push_back(per_unit);
    data.unit_class.push_back(i);
    data.train_labels.insert(data.train_labels.end(), per_unit, i);
  }
  data.test_labels = data.train_labels;
  return data;
}

// Steps per second of one ensemble, timed for at least `seconds` after a warm-up.
template <class S>
double steps_per_second(int depth, double seconds, const micro::TaskData<S>& data,
                        int inner_threads = 1) {
  const micro::Architecture net{input, classes, width, depth, micro::Activation::relu, true};
  const auto graph = coupling::CouplingGraph::complete(units);
  const auto init = base::Distribution{};
  micro::Ensemble<S> ensemble(net, data, batch, graph, 1, 0);
  ensemble.set_threads(inner_threads);
  ensemble.parameters() = micro::initial_parameters<S>(net, units, micro::WeightInit{}, init, 1, 0);
  ensemble.advance(50, S(0.005), S(0.001), S(1));
  long steps = 0;
  const auto start = Clock::now();
  double elapsed = 0;
  while (elapsed < seconds) {
    ensemble.advance(50, S(0.005), S(0.001), S(1));
    steps += 50;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  }
  return static_cast<double>(steps) / elapsed;
}

// FLOPs of one coupled step: per unit and layer a forward product and the weight gradient,
// and the gradient of the layer's input except for the first layer (2·m·n·k each).
double flops_per_step(int depth) {
  const micro::Architecture net{input, classes, width, depth, micro::Activation::relu, true};
  double flops = 0;
  for (int l = 0; l < net.layers(); ++l)
    flops += (l == 0 ? 2.0 : 3.0) * 2.0 * net.fan_out(l) * net.fan_in(l) * batch;
  return flops * units;
}

// Eigen's single-thread matrix-multiply rate (GFLOP/s) for C = A·B of the given shape.
template <class S>
double gemm_rate(int m, int k, int n, double seconds) {
  const micro::Matrix<S> a = micro::Matrix<S>::Random(m, k), b = micro::Matrix<S>::Random(k, n);
  micro::Matrix<S> c(m, n);
  c.noalias() = a * b;
  long repeats = 0;
  const auto start = Clock::now();
  double elapsed = 0;
  while (elapsed < seconds) {
    c.noalias() = a * b;
    ++repeats;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  }
  if (c(0, 0) == S(12345)) std::printf(" ");  // keep the product alive
  return 2.0 * m * k * n * static_cast<double>(repeats) / elapsed / 1e9;
}

// The first layer's products (forward Xᵀ·W₁ᵀ and weight gradient X·δ, batch 32, width 20) by
// Eigen's general product and by micro/first_layer.hpp, in GFLOP/s: {eigen, loops} for each.
template <class S>
void first_layer_rates(Eigen::Index fan_in, double seconds, bool& first) {
  const micro::Matrix<S> x = micro::Matrix<S>::Random(fan_in, batch);
  const micro::Matrix<S> w = micro::Matrix<S>::Random(fan_in, width);
  const micro::Matrix<S> delta = micro::Matrix<S>::Random(batch, width);
  micro::Matrix<S> z(batch, width), g(fan_in, width);
  const auto rate = [&](auto product) {
    product();
    long repeats = 0;
    const auto start = Clock::now();
    double elapsed = 0;
    while (elapsed < seconds) {
      product();
      ++repeats;
      elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    }
    return 2.0 * static_cast<double>(fan_in) * batch * width * static_cast<double>(repeats) /
           elapsed / 1e9;
  };
  const double forward_eigen = rate([&] { z.noalias() = x.transpose() * w; });
  const double forward_loops = rate([&] { micro::first_layer::forward<S>(x, w, z); });
  const double gradient_eigen = rate([&] { g.noalias() = x * delta; });
  const double gradient_loops = rate([&] { micro::first_layer::gradient<S>(x, delta, g); });
  if (z(0, 0) == S(12345) || g(0, 0) == S(12345)) std::printf(" ");  // keep the products alive
  std::printf(
      "%s\n    {\"precision\": \"%s\", \"inputs\": %ld, \"forward\": [%.1f, %.1f], "
      "\"gradient\": [%.1f, %.1f]}",
      first ? "" : ",", sizeof(S) == 4 ? "float32" : "float64", static_cast<long>(fan_in),
      forward_eigen, forward_loops, gradient_eigen, gradient_loops);
  first = false;
}

template <class S>
void run_precision(const char* name, double seconds, bool& first) {
  const micro::TaskData<S> data = mnist_shaped<S>();
  for (int depth : {0, 1, 2}) {
    const double one = steps_per_second<S>(depth, seconds, data);
    // Two independent ensembles on two threads: a sweep's chains run like this.
    double two[2] = {0, 0};
#pragma omp parallel num_threads(2)
    two[omp_get_thread_num()] = steps_per_second<S>(depth, seconds, data);
    // One ensemble whose units two threads share: a single chain or point runs like this.
    const double shared = steps_per_second<S>(depth, seconds, data, 2);
    std::printf(
        "%s\n    {\"precision\": \"%s\", \"depth\": %d, \"steps_per_second_1_thread\": %.1f, "
        "\"steps_per_second_2_threads\": %.1f, \"steps_per_second_one_ensemble_2_threads\": "
        "%.1f, \"flops_per_step\": %.0f}",
        first ? "" : ",", name, depth, one, two[0] + two[1], shared, flops_per_step(depth));
    first = false;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 2.0;
  const std::string mode = argc > 2 ? argv[2] : "";
  if (mode == "layer") {
    std::printf("{\n  \"first_layer_gflops_eigen_and_loops\": [");
    bool first = true;
    for (const Eigen::Index fan_in : {20, 100, 256, 784, 3072}) {
      first_layer_rates<float>(fan_in, seconds, first);
      first_layer_rates<double>(fan_in, seconds, first);
    }
    std::printf("\n  ]\n}\n");
    return 0;
  }
  const bool gemm_only = mode == "gemm";
  std::printf("{\n  \"steps\": [");
  bool first = true;
  if (!gemm_only) {
    run_precision<float>("float32", seconds, first);
    run_precision<double>("float64", seconds, first);
  }
  std::printf("\n  ],\n  \"gemm_gflops_1_thread\": {");
  std::printf("\"float32_1024\": %.1f, \"float64_1024\": %.1f, ",
              gemm_rate<float>(1024, 1024, 1024, seconds),
              gemm_rate<double>(1024, 1024, 1024, seconds));
  std::printf("\"float32_step_shape\": %.1f, \"float64_step_shape\": %.1f}\n}\n",
              gemm_rate<float>(width, input, batch, seconds),
              gemm_rate<double>(width, input, batch, seconds));
  return 0;
}
