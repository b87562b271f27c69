#include "micro/network.hpp"

#include <cmath>

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
    pre_activation_[l].resize(architecture_.fan_out(l), batch);
  for (int l = 0; l < architecture_.depth; ++l) activation_[l].resize(architecture_.width, batch);
  for (int l = 0; l < architecture_.layers(); ++l) delta_[l].resize(architecture_.fan_out(l), batch);
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

template <class S>
void NetworkWorkspace<S>::propagate(const S* theta, const Eigen::Ref<const Matrix<S>>& inputs) {
  const Architecture& net = architecture_;
  resize(inputs.cols());
  for (int l = 0; l < net.layers(); ++l) {
    const Eigen::Map<const Matrix<S>> w(theta + net.weight_offset(l), net.fan_out(l),
                                        net.fan_in(l));
    Matrix<S>& z = pre_activation_[l];
    if (l == 0)
      z.noalias() = w * inputs;
    else
      z.noalias() = w * activation_[l - 1];
    if (net.bias)
      z.colwise() += Eigen::Map<const Vector<S>>(theta + net.bias_offset(l), net.fan_out(l));
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
  const Eigen::Index n = z.cols();
  Matrix<S>& delta = delta_.back();
  double total = 0;  // accumulated in double: the mean of many per-sample losses
  if (loss == LossKind::mse) {
    for (Eigen::Index k = 0; k < n; ++k) {
      const auto residual = z.col(k) - batch.targets.col(k);
      total += 0.5 * static_cast<double>(residual.squaredNorm());
      if (want_gradient) delta.col(k) = residual / S(n);
    }
  } else {
    for (Eigen::Index k = 0; k < n; ++k) {
      // log Σ exp z − z_y, shifted by the maximum so that exp cannot overflow.
      const S top = z.col(k).maxCoeff();
      const S sum = (z.col(k).array() - top).exp().sum();
      total += static_cast<double>(std::log(sum) + top - z(batch.labels[k], k));
      if (want_gradient) {
        delta.col(k) = ((z.col(k).array() - top).exp() / sum).matrix() / S(n);
        delta(batch.labels[k], k) -= S(1) / S(n);
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
    Eigen::Map<Matrix<S>> grad_w(gradient + net.weight_offset(l), net.fan_out(l), net.fan_in(l));
    if (l == 0)
      grad_w.noalias() = delta * batch.inputs.transpose();
    else
      grad_w.noalias() = delta * activation_[l - 1].transpose();
    if (net.bias)
      Eigen::Map<Vector<S>>(gradient + net.bias_offset(l), net.fan_out(l)) = delta.rowwise().sum();
    if (l == 0) break;  // the input needs no gradient
    const Eigen::Map<const Matrix<S>> w(theta + net.weight_offset(l), net.fan_out(l),
                                        net.fan_in(l));
    delta_[l - 1].noalias() = w.transpose() * delta;
    multiply_by_derivative<S>(net.activation, pre_activation_[l - 1], activation_[l - 1],
                              delta_[l - 1]);
  }
  return value;
}

template class NetworkWorkspace<float>;
template class NetworkWorkspace<double>;

}  // namespace cdl::micro
