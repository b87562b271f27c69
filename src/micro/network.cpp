#include "micro/network.hpp"

#include <cmath>

#include "base/parse.hpp"
#include "micro/first_layer.hpp"

namespace cdl::micro {

std::string name(Activation activation) {
  switch (activation) {
    case Activation::linear:
      return "linear";
    case Activation::relu:
      return "relu";
    case Activation::tanh:
      return "tanh";
  }
  return "";
}

std::string name(LossKind loss) { return loss == LossKind::mse ? "mse" : "xent"; }

Activation parse_activation(const std::string& text, const std::string& option) {
  return base::parse_choice<Activation>(
      text, option,
      {{"linear", Activation::linear}, {"relu", Activation::relu}, {"tanh", Activation::tanh}});
}

LossKind parse_loss(const std::string& text, const std::string& option) {
  return base::parse_choice<LossKind>(text, option,
                                      {{"mse", LossKind::mse}, {"xent", LossKind::xent}});
}

Eigen::Index Architecture::weight_offset(int layer) const {
  Eigen::Index offset = 0;
  for (int l = 0; l < layer; ++l)
    offset += static_cast<Eigen::Index>(fan_out(l)) * fan_in(l) + (bias ? fan_out(l) : 0);
  return offset;
}

Eigen::Index Architecture::bias_offset(int layer) const {
  return weight_offset(layer) + static_cast<Eigen::Index>(fan_out(layer)) * fan_in(layer);
}

Eigen::Index Architecture::parameter_count() const { return weight_offset(layers()); }

template <class S>
NetworkWorkspace<S>::NetworkWorkspace(const Architecture& architecture)
    : architecture_(architecture),
      pre_activation_(static_cast<std::size_t>(architecture.layers())),
      activation_(static_cast<std::size_t>(architecture.depth)),
      delta_(static_cast<std::size_t>(architecture.layers())) {}

template <class S>
void NetworkWorkspace<S>::resize(Eigen::Index batch) {
  for (int l = 0; l < architecture_.layers(); ++l)
    pre_activation_[l].resize(batch, architecture_.fan_out(l));
  for (int l = 0; l < architecture_.depth; ++l) activation_[l].resize(batch, architecture_.width);
  for (int l = 0; l < architecture_.layers(); ++l)
    delta_[l].resize(batch, architecture_.fan_out(l));
  sample_scratch_.resize(batch);
}

namespace {

template <class S, class In, class Out>
void activate(Activation activation, const In& z, Out&& a) {
  switch (activation) {
    case Activation::linear:
      a = z;
      break;
    case Activation::relu:
      a = z.cwiseMax(S(0));
      break;
    case Activation::tanh:
      a = z.array().tanh().matrix();
      break;
  }
}

// delta ⊙= a'(z), given z and a = a(z).
template <class S>
void multiply_by_derivative(Activation activation, const Matrix<S>& z, const Matrix<S>& a,
                            Matrix<S>& delta) {
  switch (activation) {
    case Activation::linear:
      break;
    case Activation::relu:
      delta.array() *= (z.array() > S(0)).template cast<S>();
      break;
    case Activation::tanh:
      delta.array() *= S(1) - a.array().square();
      break;
  }
}

}  // namespace

// Batch-major layout: activations hold one sample per row (B × width) and each layer stores
// Wᵀ (fan_in × fan_out, column-major). The dominant products, Xᵀ·W₁ᵀ forward and X·δ for the
// first layer's gradient, read the batch and W₁ᵀ along their columns without repacking
// (micro/first_layer.hpp); the small later layers use Eigen's products.
template <class S>
void NetworkWorkspace<S>::propagate(const S* theta, const Eigen::Ref<const Matrix<S>>& inputs) {
  const Architecture& net = architecture_;
  resize(inputs.cols());
  for (int l = 0; l < net.layers(); ++l) {
    const Eigen::Map<const Matrix<S>> w_t(theta + net.weight_offset(l), net.fan_in(l),
                                          net.fan_out(l));
    Matrix<S>& z = pre_activation_[l];
    const bool first = l == 0 && first_layer::pays(net.input);
    if (first && first_layer::aligned(w_t.data())) {
      first_layer::forward<S>(inputs, w_t, z);
    } else if (first) {
      // A unit's θ starts wherever its column does; loads that straddle cache lines would
      // cost the product a third of its speed, a copy a tenth.
      first_weights_ = w_t;
      first_layer::forward<S>(inputs, first_weights_, z);
    } else if (l == 0) {
      z.noalias() = inputs.transpose() * w_t;
    } else {
      z.noalias() = activation_[l - 1] * w_t;
    }
    if (net.bias)
      z.rowwise() += Eigen::Map<const RowVector<S>>(theta + net.bias_offset(l), net.fan_out(l));
    if (l < net.depth) activate<S>(net.activation, z, activation_[l]);
  }
}

template <class S>
S NetworkWorkspace<S>::forward(const S* theta, const Batch<S>& batch, LossKind loss) {
  propagate(theta, batch.inputs);
  return output_loss(batch, loss, false);
}

// The mean loss over the batch; with want_gradient, delta_[D] = ∂(mean loss)/∂Z_{D+1}.
template <class S>
S NetworkWorkspace<S>::output_loss(const Batch<S>& batch, LossKind loss, bool want_gradient) {
  const Matrix<S>& z = pre_activation_.back();
  const Eigen::Index n = z.rows();
  Matrix<S>& delta = delta_.back();
  double total = 0;  // accumulated in double: the mean of many per-sample losses
  if (loss == LossKind::mse) {
    delta = z - batch.targets.transpose();
    for (Eigen::Index k = 0; k < n; ++k)
      total += 0.5 * static_cast<double>(delta.row(k).squaredNorm());
    if (want_gradient) delta /= S(n);
  } else {
    // log Σ exp z − z_y per sample, shifted by the sample's maximum so that exp cannot overflow.
    sample_scratch_ = z.rowwise().maxCoeff();
    delta = (z.colwise() - sample_scratch_).array().exp().matrix();
    for (Eigen::Index k = 0; k < n; ++k) {
      const S sum = delta.row(k).sum();
      total += static_cast<double>(std::log(sum) + sample_scratch_[k] - z(k, batch.labels[k]));
      if (want_gradient) {
        delta.row(k) /= sum * S(n);
        delta(k, batch.labels[k]) -= S(1) / S(n);
      }
    }
  }
  return static_cast<S>(total / static_cast<double>(n));
}

template <class S>
S NetworkWorkspace<S>::loss_and_gradient(const S* theta, const Batch<S>& batch, LossKind loss,
                                         S* gradient) {
  const Architecture& net = architecture_;
  propagate(theta, batch.inputs);
  const S value = output_loss(batch, loss, true);
  for (int l = net.layers() - 1; l >= 0; --l) {
    const Matrix<S>& delta = delta_[l];
    Eigen::Map<Matrix<S>> grad_w_t(gradient + net.weight_offset(l), net.fan_in(l), net.fan_out(l));
    if (l == 0 && first_layer::pays(net.input))
      first_layer::gradient<S>(batch.inputs, delta, grad_w_t);
    else if (l == 0)
      grad_w_t.noalias() = batch.inputs * delta;
    else
      grad_w_t.noalias() = activation_[l - 1].transpose() * delta;
    if (net.bias)
      Eigen::Map<RowVector<S>>(gradient + net.bias_offset(l), net.fan_out(l)) =
          delta.colwise().sum();
    if (l == 0) break;  // the input needs no gradient
    const Eigen::Map<const Matrix<S>> w_t(theta + net.weight_offset(l), net.fan_in(l),
                                          net.fan_out(l));
    delta_[l - 1].noalias() = delta * w_t.transpose();
    multiply_by_derivative<S>(net.activation, pre_activation_[l - 1], activation_[l - 1],
                              delta_[l - 1]);
  }
  return value;
}

template class NetworkWorkspace<float>;
template class NetworkWorkspace<double>;

}  // namespace cdl::micro
