// How the training samples of the `classes` task are dealt to the units (`--partition`), the
// standard heterogeneous-data set-ups of decentralized learning:
//
// - classes: unit i trains on every sample of class i mod K (private classes; the default).
// - iid: the samples shuffled and dealt round-robin, about (K × train-size)/N per unit.
// - dirichlet:ALPHA: unit i's label proportions q_i ~ Dirichlet(ALPHA, …, ALPHA) over the K
//   classes; it draws round(n q_ik) samples of class k without replacement (at most the whole
//   class), n = (K × train-size)/N. Small ALPHA: few classes per unit; large: close to iid.
//   Units draw independently, so a sample may belong to several units.
// - shards:S: the samples sorted by label and cut into N × S equal shards; each unit gets S
//   shards drawn without replacement (McMahan et al. 2017).
//
// Every draw is a function of (seed, realization), so every depth and protocol sees the same
// partition.
#pragma once

#include <string>
#include <vector>

#include "micro/task.hpp"

namespace cdl::micro {

struct Partition {
  enum class Kind { classes, iid, dirichlet, shards };
  Kind kind = Kind::classes;
  double alpha = 1;  // dirichlet
  int shards = 2;    // shards: S per unit
  std::string to_string() const;
};

// Throws cdl::InputError naming `option`.
Partition parse_partition(const std::string& text, const std::string& option);

// The training samples of every unit under `partition` in realization `run`, as indices
// into a training set whose labels are `sorted_labels` (sorted by class, as arranged).
std::vector<std::vector<Eigen::Index>> deal_samples(const Partition& partition,
                                                    const TaskSpec& spec, int run,
                                                    const std::vector<int>& sorted_labels,
                                                    int classes);
// Refuses (InputError naming --partition) a partition that gives some unit of some
// realization fewer than `least` samples; before any output is written.
void check_partition(const Partition& partition, const TaskSpec& spec, int runs,
                     const std::vector<int>& sorted_labels, int classes, int least);

// Rebuilds the training set so that each unit's dealt samples are its contiguous columns
// (a copy: a sample dealt to two units appears twice) and sets each unit's class to its most
// frequent label. `classes` leaves the data as arranged. Throws InputError naming --partition
// when a unit gets fewer than `least` samples.
template <class S>
void apply_partition(const Partition& partition, const TaskSpec& spec, int run, int least,
                     TaskData<S>& data);

// Every unit's label counts [unit][class] in the dealt training set.
template <class S>
std::vector<std::vector<int>> label_histograms(const TaskData<S>& data);

}  // namespace cdl::micro
