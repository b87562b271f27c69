// Runs 20 steps of one exchange scheme and writes what each step saw and did, for the
// independent numpy replay of the published updates (tests/e2e/test_scheme_reference.py):
// the parameters before and after, the units' minibatch gradients, who exchanged, the units'
// sample counts and the coupling graph.
//
//   scheme_trace SCHEME TOPOLOGY PARTITION SIGMA THREADS OUTPUT.h5
#include <cstdint>
#include <cstdio>
#include <exception>
#include <span>
#include <string>
#include <vector>

#include "base/parse.hpp"
#include "coupling/graph.hpp"
#include "h5/hdf5.hpp"
#include "micro/ensemble.hpp"
#include "micro/partition.hpp"
#include "micro/scheme.hpp"
#include "micro/task.hpp"

using namespace cdl;

namespace {

constexpr int units = 8, steps = 20;
constexpr double tau = 0.05, gamma_decay = 0.01;

template <class T>
void write(const h5::Group& root, const std::string& name, const h5::Dims& dims,
           const std::vector<T>& values) {
  root.create_dataset<T>(name, dims).write(std::span<const T>(values));
}

int run(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: scheme_trace SCHEME TOPOLOGY PARTITION SIGMA THREADS OUTPUT.h5\n");
    return 2;
  }
  const micro::Scheme scheme = micro::parse_scheme(argv[1], "scheme");
  const coupling::Topology topology = coupling::parse_topology(argv[2], "topology");
  const micro::Partition partition = micro::parse_partition(argv[3], "partition");
  const double sigma = base::parse_double(argv[4], "sigma");
  const int threads = static_cast<int>(base::parse_double(argv[5], "threads"));

  micro::TaskSpec spec;
  spec.units = units;
  spec.data = micro::parse_data("synthetic:5:4", "data");
  spec.train_size = 13;  // 52 samples over 8 units: unequal counts under iid and dirichlet
  spec.test_size = 4;
  micro::TaskData<double> data = micro::make_task_data<double>(spec, 0, nullptr);
  constexpr int batch = 3;
  micro::apply_partition(partition, spec, 0, batch, data);
  const micro::Architecture net{5, 4, 6, 2, micro::Activation::tanh, true};
  const coupling::CouplingGraph graph = coupling::CouplingGraph::draw(topology, units, 3);

  micro::Ensemble<double> ensemble(net, data, batch, graph, 11, 0);
  ensemble.set_scheme(scheme);
  ensemble.set_threads(threads);
  ensemble.set_parameters(
      micro::initial_parameters<double>(net, units, {}, base::Distribution{}, 11, 0));
  micro::StepTrace<double> trace;
  ensemble.set_trace(&trace);

  const Eigen::Index parameters = net.parameter_count();
  const auto per_step = static_cast<std::size_t>(parameters * units);
  std::vector<double> theta, gradients, centre;
  std::vector<std::int32_t> participants, pairs;
  const auto append = [](std::vector<double>& to, const auto& matrix) {
    to.insert(to.end(), matrix.data(), matrix.data() + matrix.size());
  };
  append(theta, ensemble.parameters());
  append(centre, ensemble.centre());
  for (int step = 0; step < steps; ++step) {
    trace.participants.clear();
    trace.gossip_pairs.clear();
    ensemble.step(tau, gamma_decay, sigma);
    append(theta, ensemble.parameters());
    append(centre, ensemble.centre());
    append(gradients, trace.gradients);
    // Padded with −1 to fixed widths.
    for (int k = 0; k < units; ++k)
      participants.push_back(k < static_cast<int>(trace.participants.size())
                                 ? trace.participants[static_cast<std::size_t>(k)]
                                 : -1);
    for (int k = 0; k < units / 2; ++k) {
      const bool used = k < static_cast<int>(trace.gossip_pairs.size());
      pairs.push_back(used ? trace.gossip_pairs[static_cast<std::size_t>(k)].first : -1);
      pairs.push_back(used ? trace.gossip_pairs[static_cast<std::size_t>(k)].second : -1);
    }
  }
  if (theta.size() != per_step * (steps + 1)) return 1;

  std::vector<std::int32_t> counts, adjacency(static_cast<std::size_t>(units * units), 0);
  for (int i = 0; i < units; ++i) {
    counts.push_back(static_cast<std::int32_t>(data.unit_count[static_cast<std::size_t>(i)]));
    graph.for_each_neighbour(
        i, [&](int j) { adjacency[static_cast<std::size_t>(i * units + j)] = 1; });
  }

  h5::File file = h5::File::create(argv[6]);
  const h5::Group root = file.root();
  const auto P = static_cast<hsize_t>(parameters), N = static_cast<hsize_t>(units),
             T = static_cast<hsize_t>(steps);
  write(root, "theta", {T + 1, N, P}, theta);  // Eigen's columns are the units
  write(root, "centre", {T + 1, P}, centre);
  write(root, "gradients", {T, N, P}, gradients);
  write(root, "participants", {T, N}, participants);
  write(root, "pairs", {T, N / 2, 2}, pairs);
  write(root, "sample_counts", {N}, counts);
  write(root, "adjacency", {N, N}, adjacency);
  root.set_attribute("tau", tau);
  root.set_attribute("gamma", gamma_decay);
  root.set_attribute("sigma", sigma);
  root.set_attribute("scheme", scheme.to_string());
  root.set_attribute("sent", ensemble.parameters_sent());
  file.close();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "scheme_trace: %s\n", error.what());
    return 2;
  }
}
