// The learning tasks of `cdl micro` (issue 4, docs/physics.md §1–2, §5): every unit trains only on
// its own private data; test data are shared by all units.
//
// - effective: width-1 deep linear networks with the exact population loss of whitened scalar
//   data, E[x²] = 1 and E[xy] = Δ_i; ½E[(f(x) − y)²] is then ½(p − Δ_i)² up to a constant
//   (p the product of the weights), which is the loss of the single sample (x = 1, y = Δ_i).
//   Gradient descent on it is forward Euler on the effective dynamics (docs/physics.md §2).
// - teacher: regression on x ~ N(0, I) with y = T_i x + noise; T_i = U diag(s_i) Vᵀ with
//   singular vectors U, V shared by all units and singular values s_ik quenched per unit
//   and mode (drawn from the disorder distribution); finite training samples per unit.
// - classes: unit i trains only on class i mod K and is tested on every class, on a synthetic
//   Gaussian mixture or on images read from IDX files (MNIST).
//
// The training inputs are one matrix shared by all units (sorted so that each unit's samples
// are contiguous columns), so the images are stored once.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/distribution.hpp"
#include "micro/network.hpp"

namespace cdl::micro {

enum class TaskKind { effective, teacher, classes };
std::string name(TaskKind task);
// `--task effective | teacher | classes`; cdl::InputError naming `option`.
TaskKind parse_task_kind(const std::string& text, const std::string& option);

// `--data synthetic:DIM:K | idx:DIR[:K] | cifar:DIR`
struct DataSpec {
  enum class Kind { synthetic, idx, cifar };
  Kind kind = Kind::synthetic;
  int dim = 20;     // input dimension (teacher: input = output = DIM)
  int modes = 10;   // classes (classes task) or teacher modes (teacher task), K
  std::string dir;  // idx: the directory holding the four IDX files; cifar: the six batches
  bool from_files() const { return kind != Kind::synthetic; }
  std::string to_string() const;
};
// Throws cdl::InputError naming `option`.
DataSpec parse_data(const std::string& text, const std::string& option);

struct TaskSpec {
  TaskKind kind = TaskKind::classes;
  DataSpec data;
  int units = 10;
  int train_size = 100;            // training samples per class (classes) or per unit (teacher)
  int test_size = 100;             // test samples per class (classes) or per unit (teacher)
  double noise = 0.1;              // teacher: standard deviation of the label noise
  LossKind loss = LossKind::xent;  // classes: xent, or mse on one-hot targets; else mse
  base::Distribution disorder;     // Δ_i (effective) and s_ik (teacher)
  std::uint64_t seed = 1;
};

// Images as bytes, one per column.
using Bytes = Eigen::Array<std::uint8_t, Eigen::Dynamic, Eigen::Dynamic>;

// The data of one realization.
template <class S>
struct TaskData {
  LossKind loss = LossKind::mse;
  int input = 1, output = 1;
  int classes = 0;                                             // 0 for regression tasks
  std::shared_ptr<const Matrix<S>> train_inputs, test_inputs;  // input × samples
  // IDX data: the training images' bytes in the columns' order (input × samples), of which
  // train_inputs holds byte / 255. Minibatches are gathered from these, a quarter of the
  // memory traffic of gathering floats; the converted values are the same.
  std::shared_ptr<const Bytes> train_bytes;
  Matrix<S> train_targets, test_targets;       // mse: output × samples
  std::vector<int> train_labels, test_labels;  // xent: class per sample
  // Unit i's training samples are the columns [unit_first[i], unit_first[i] + unit_count[i]).
  std::vector<Eigen::Index> unit_first, unit_count;
  // classes: the class each unit trains on, and where each class's test samples lie.
  std::vector<int> unit_class;
  std::vector<Eigen::Index> test_class_first, test_class_count;
  // teacher: each unit's top mode (largest |s_ik|) as the rank-one map sign(s) u vᵀ's factors.
  Matrix<S> top_left, top_right;  // output × units, input × units
  // Per unit: Δ_i (effective), s_i of the top mode (teacher), the class (classes).
  Eigen::ArrayXd disorder;
};

// Completes a classes task whose inputs and labels are sorted by class: each class's range,
// one-hot targets for mse, and each unit's training samples (unit i trains on class i mod K).
// Throws InputError naming --data when a unit's class has no training samples.
template <class S>
void arrange_classes(const TaskSpec& spec, TaskData<S>& data);

// The realization's data; `idx` is the data read from IDX files (io::load_idx_classes), else
// null.
template <class S>
TaskData<S> make_task_data(const TaskSpec& spec, int run, const TaskData<S>* idx);

}  // namespace cdl::micro
