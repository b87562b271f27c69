// The hot loop of `cdl micro` does not allocate: a coupled step at the published real-data
// scale (10 networks 784 → [20]×D → 10, batch 32) in float32 and float64, with every exchange
// scheme, is run many times with malloc counted. A separate program, because it replaces malloc for
// the whole process.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "coupling/graph.hpp"
#include "micro/ensemble.hpp"

extern "C" void* __libc_malloc(std::size_t);
static std::atomic<long> allocations{0};
extern "C" void* malloc(std::size_t size) {
  ++allocations;
  return __libc_malloc(size);
}

namespace {

using namespace cdl;

template <class S>
long allocations_in_steps(int depth, const std::string& scheme) {
  micro::TaskData<S> data;
  data.loss = micro::LossKind::xent;
  data.input = 784;
  data.output = data.classes = 10;
  data.train_inputs = std::make_shared<micro::Matrix<S>>(micro::Matrix<S>::Random(784, 2000));
  for (int i = 0; i < 10; ++i) {
    data.unit_first.push_back(i * 200);
    data.unit_count.push_back(200);
    data.train_labels.insert(data.train_labels.end(), 200, i);
  }
  const micro::Architecture net{784, 10, 20, depth, micro::Activation::relu, true};
  const auto graph = coupling::CouplingGraph::complete(10);
  micro::Ensemble<S> ensemble(net, data, 32, graph, 1, 0);
  ensemble.set_scheme(micro::parse_scheme(scheme, "scheme"));
  ensemble.parameters() =
      micro::initial_parameters<S>(net, 10, micro::WeightInit{}, base::Distribution{}, 1, 0);
  ensemble.step(S(0.005), S(0.001), S(1));  // workspaces take their sizes
  const long before = allocations.load();
  for (int k = 0; k < 200; ++k) ensemble.step(S(0.005), S(0.001), S(1));  // several epochs
  return allocations.load() - before;
}

}  // namespace

int main() {
  int failures = 0;
  for (const char* scheme : {"diffusion", "dsgd", "fedavg:3:0.5", "easgd", "gossip"})
    for (int depth : {0, 1, 2}) {
      const long single = allocations_in_steps<float>(depth, scheme);
      const long twice = allocations_in_steps<double>(depth, scheme);
      std::printf("%s, D = %d: %ld allocations in 200 float32 steps, %ld in float64\n", scheme,
                  depth, single, twice);
      failures += single != 0 || twice != 0;
    }
  return failures == 0 ? 0 : 1;
}
