// One unit's network (docs/physics.md §1): f(x; θ) = W_{D+1} a(W_D … a(W_1 x + b_1) …) + b_{D+1},
// D hidden layers of width h, activation a, optional biases; its loss on a batch and the
// gradient by backpropagation.
//
// A unit's parameters are one contiguous vector θ (a column of the ensemble's parameter
// matrix), layer after layer: W_l row-major (W_lᵀ column-major), then b_l when there are
// biases. Coupling and
// the order parameter act on these vectors; the layer views are Eigen maps into them.
#pragma once

#include <Eigen/Core>
#include <string>
#include <vector>

namespace cdl::micro {

enum class Activation { linear, relu, tanh };
enum class LossKind {
  mse,   // ½‖f(x) − y‖² per sample
  xent,  // softmax cross-entropy −log softmax(f(x))_y per sample
};
std::string name(Activation activation);
std::string name(LossKind loss);
// `--activation linear | relu | tanh`, `--loss mse | xent`; cdl::InputError naming `option`.
Activation parse_activation(const std::string& text, const std::string& option);
LossKind parse_loss(const std::string& text, const std::string& option);

struct Architecture {
  int input = 1;
  int output = 1;
  int width = 1;  // h, the width of every hidden layer
  int depth = 0;  // D, the number of hidden layers
  Activation activation = Activation::linear;
  bool bias = false;

  int layers() const { return depth + 1; }
  int fan_in(int layer) const { return layer == 0 ? input : width; }
  int fan_out(int layer) const { return layer == depth ? output : width; }
  Eigen::Index weight_offset(int layer) const;
  Eigen::Index bias_offset(int layer) const;  // only with biases
  Eigen::Index parameter_count() const;
};

template <class S>
using Matrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
template <class S>
using Vector = Eigen::Matrix<S, Eigen::Dynamic, 1>;
template <class S>
using RowVector = Eigen::Matrix<S, 1, Eigen::Dynamic>;

// A batch: inputs as columns and either class labels (xent) or target columns (mse).
template <class S>
struct Batch {
  Eigen::Ref<const Matrix<S>> inputs;   // input × B
  Eigen::Ref<const Matrix<S>> targets;  // output × B for mse (empty for xent)
  const int* labels = nullptr;          // B class labels for xent
};

// Forward and backward scratch of one unit, reused across steps: resized only when the batch
// size changes, so training steps of a fixed batch size do not allocate.
template <class S>
class NetworkWorkspace {
 public:
  explicit NetworkWorkspace(const Architecture& architecture);

  // The forward pass alone: outputs() holds f(x) for every input column, one row per sample.
  void propagate(const S* theta, const Eigen::Ref<const Matrix<S>>& inputs);
  // Mean loss of the batch (data term only) after a forward pass; outputs() holds f(x).
  S forward(const S* theta, const Batch<S>& batch, LossKind loss);
  // Mean loss of the batch and its gradient with respect to θ (data term only) into gradient.
  S loss_and_gradient(const S* theta, const Batch<S>& batch, LossKind loss, S* gradient);
  const Matrix<S>& outputs() const { return pre_activation_.back(); }

 private:
  void resize(Eigen::Index batch);
  S output_loss(const Batch<S>& batch, LossKind loss, bool want_gradient);
  Architecture architecture_;
  // One row per sample (batch-major).
  std::vector<Matrix<S>> pre_activation_;  // Z_l = W_l a_{l−1} + b_l, l = 1..D+1
  std::vector<Matrix<S>> activation_;      // a_l = a(Z_l), l = 1..D
  std::vector<Matrix<S>> delta_;           // ∂(mean loss)/∂Z_l during backpropagation
  Vector<S> sample_scratch_;               // one value per sample
  Matrix<S> first_weights_;  // W₁ᵀ copied to aligned memory when θ's copy is not aligned
};

}  // namespace cdl::micro
