// Step throughput of the N → ∞ populations' Rosenbrock integrator (theory/rosenbrock4.hpp):
// nanoseconds per node and step of a weighted mean-field population of the effective theory
// (disorder spread over ±12, initial states over [−1.7, 2.3], γ = 0.001, σ = 4), for
// populations that fit in the core's cache and populations that do not (the N → ∞ rules of
// D ≥ 3 near the onset hold ~10⁵ nodes), on 1 and 2 threads. Prints one JSON object per case
// and whether the states after the steps have the same bits on 1 and 2 threads.
//
// usage: cdl_rosenbrock_bench [depth, default 3] [steps, default 200]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "coupling/graph.hpp"
#include "theory/effective_dynamics.hpp"
#include "theory/rosenbrock4.hpp"

using namespace cdl;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  const int depth = argc > 1 ? std::atoi(argv[1]) : 3;
  const int steps = argc > 2 ? std::atoi(argv[2]) : 200;
  if (depth < 1 || depth > 8 || steps < 1) {
    std::fprintf(stderr, "cdl_rosenbrock_bench: depth must be 1…8 and steps ≥ 1 (got '%s', '%s')\n",
                 argc > 1 ? argv[1] : "3", argc > 2 ? argv[2] : "200");
    return 2;
  }
  for (const int nodes : {4000, 40000, 100000, 400000}) {
    const Eigen::ArrayXd disorder = Eigen::ArrayXd::LinSpaced(nodes, -12, 12);
    Eigen::ArrayXd weight(nodes);
    for (int i = 0; i < nodes; ++i) weight[i] = 1 + i % 3;
    weight /= weight.sum();
    const auto graph = coupling::CouplingGraph::weighted_complete(weight);
    Eigen::ArrayXd final_one_thread;
    for (const int threads : {1, 2}) {
      theory::EffectiveDynamics f(depth, 0.001, disorder, graph);
      f.set_sigma(4);
      f.set_threads(threads);
      theory::Rosenbrock4 stepper;
      stepper.set_threads(threads);
      Eigen::ArrayXd y = Eigen::ArrayXd::LinSpaced(nodes, -1.7, 2.3);
      stepper.fixed_step(f, y, 1e-3);  // sizes the workspace
      const auto start = Clock::now();
      for (int k = 0; k < steps; ++k) stepper.fixed_step(f, y, 1e-3);
      const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
      bool same = true;
      if (threads == 1)
        final_one_thread = y;
      else
        same = std::memcmp(y.data(), final_one_thread.data(), sizeof(double) * nodes) == 0;
      std::printf(
          "{\"depth\": %d, \"nodes\": %d, \"threads\": %d, \"steps\": %d, \"seconds\": %.4f, "
          "\"ns_per_node_step\": %.2f, \"same_bits_as_1_thread\": %s}\n",
          depth, nodes, threads, steps, seconds, 1e9 * seconds / (double(nodes) * steps),
          same ? "true" : "false");
    }
  }
}
