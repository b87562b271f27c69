#include "micro/observables.hpp"

#include <omp.h>

#include <Eigen/SVD>
#include <algorithm>
#include <cmath>
#include <tuple>

#include "base/not_a_number.hpp"
#include "micro/partition.hpp"

namespace cdl::micro {

namespace {

using base::nan;
constexpr Eigen::Index evaluation_chunk = 512;  // samples per forward pass when evaluating

}  // namespace

double rank_one_r2(const Eigen::MatrixXd& matrix) {
  const Eigen::JacobiSVD<Eigen::MatrixXd> svd(matrix);
  const Eigen::VectorXd s = svd.singularValues();
  const double total = s.squaredNorm();
  return total > 0 ? s[0] * s[0] / total : nan;
}

template <class S>
Evaluator<S>::Evaluator(const Architecture& architecture, const TaskData<S>& data)
    : architecture_(architecture), data_(data) {
  const auto units = static_cast<Eigen::Index>(data.unit_first.size());
  mean_model_.resize(architecture.parameter_count(), 1);
  if (data.classes > 0) {
    predictions_.resize(data.test_inputs->cols(), units);
    model_predictions_.resize(static_cast<std::size_t>(data.test_inputs->cols()));
    const auto histograms = label_histograms(data);
    own_.assign(static_cast<std::size_t>(units * data.classes), 0);
    for (Eigen::Index i = 0; i < units; ++i)
      for (int k = 0; k < data.classes; ++k)
        own_[static_cast<std::size_t>(i * data.classes + k)] = histograms[i][k] > 0;
  }
  if (data.top_left.size() > 0) identity_ = Matrix<S>::Identity(data.input, data.input);
  scratch_.push_back(make_scratch());
}

template <class S>
typename Evaluator<S>::Scratch Evaluator<S>::make_scratch() const {
  Scratch scratch(architecture_);
  if (data_.top_left.size() > 0) scratch.map.resize(data_.output, data_.input);
  return scratch;
}

template <class S>
void Evaluator<S>::set_threads(int threads) {
  const auto count = static_cast<std::size_t>(std::max(1, threads));
  while (scratch_.size() < count) scratch_.push_back(make_scratch());
  scratch_.erase(scratch_.begin() + static_cast<std::ptrdiff_t>(count), scratch_.end());
}

template <class S>
double Evaluator<S>::loss_over(Scratch& scratch, const S* theta, const Matrix<S>& inputs,
                               const Matrix<S>& targets, const std::vector<int>& labels,
                               Eigen::Index first, Eigen::Index count, int* predicted) const {
  double total = 0;
  for (Eigen::Index start = first; start < first + count; start += evaluation_chunk) {
    const Eigen::Index n = std::min(evaluation_chunk, first + count - start);
    const Batch<S> batch{
        inputs.middleCols(start, n),
        data_.loss == LossKind::mse ? targets.middleCols(start, n) : targets.middleCols(0, 0),
        labels.empty() ? nullptr : labels.data() + start};
    total += static_cast<double>(scratch.network.forward(theta, batch, data_.loss)) * n;
    if (predicted) {
      const Matrix<S>& out = scratch.network.outputs();
      for (Eigen::Index k = 0; k < n; ++k) {
        Eigen::Index best = 0;
        out.row(k).maxCoeff(&best);  // the first maximum: ties go to the lower class
        predicted[start - first + k] = static_cast<int>(best);
      }
    }
  }
  return total / static_cast<double>(count);
}

template <class S>
void Evaluator<S>::end_to_end_map(Scratch& scratch, const S* theta) const {
  if (architecture_.activation == Activation::linear && !architecture_.bias) {
    scratch.network.propagate(theta, identity_);
    scratch.map = scratch.network.outputs().transpose();
    return;
  }
  const Matrix<S>& inputs = *data_.test_inputs;
  scratch.map.setZero();
  for (Eigen::Index start = 0; start < inputs.cols(); start += evaluation_chunk) {
    const Eigen::Index n = std::min(evaluation_chunk, inputs.cols() - start);
    scratch.network.propagate(theta, inputs.middleCols(start, n));
    scratch.map.noalias() +=
        scratch.network.outputs().transpose() * inputs.middleCols(start, n).transpose();
  }
  scratch.map /= static_cast<S>(inputs.cols());
}

template <class S>
std::pair<double, double> Evaluator<S>::score_model(const S* theta) {
  const Matrix<S>& test = *data_.test_inputs;
  const Eigen::Index n_test = test.cols();
  const bool classes = data_.classes > 0;
  const double loss =
      loss_over(scratch_.front(), theta, test, data_.test_targets, data_.test_labels, 0, n_test,
                classes ? model_predictions_.data() : nullptr);
  if (!classes) return {loss, nan};
  long correct = 0;
  for (Eigen::Index k = 0; k < n_test; ++k)
    correct += model_predictions_[static_cast<std::size_t>(k)] == data_.test_labels[k];
  return {loss, static_cast<double>(correct) / static_cast<double>(n_test)};
}

template <class S>
Measurement Evaluator<S>::measure(const Matrix<S>& theta, bool cross_accuracy,
                                  const Vector<S>* centre) {
  const Eigen::Index units = theta.cols(), count = theta.rows();
  Measurement out;
  // Sums in unit order, in double: independent of the thread count and of the vector width.
  double sum = 0, norm = 0;
  for (Eigen::Index i = 0; i < units; ++i) {
    sum += theta.col(i).template cast<double>().sum();
    norm += std::sqrt(theta.col(i).template cast<double>().squaredNorm());
  }
  out.m = sum / static_cast<double>(units * count);
  out.unit_m.resize(units);
  for (Eigen::Index i = 0; i < units; ++i)
    out.unit_m[i] = theta.col(i).template cast<double>().sum() / static_cast<double>(count);
  out.parameter_norm = norm / static_cast<double>(units);
  double distance = 0;
  for (Eigen::Index i = 0; i < units; ++i)
    for (Eigen::Index j = i + 1; j < units; ++j)
      distance += std::sqrt((theta.col(i) - theta.col(j)).template cast<double>().squaredNorm());
  out.consensus = units > 1 ? distance / static_cast<double>(units * (units - 1) / 2) : 0.0;

  const bool classes = data_.classes > 0;
  const Matrix<S>& test = *data_.test_inputs;
  const Eigen::Index n_test = test.cols();
  // Per unit, on the threads given, then summed in unit order.
  Eigen::ArrayXd unit_loss(units), unit_loss_test(units), unit_alignment(units);
  out.unit_accuracy = Eigen::ArrayXd::Constant(units, nan);
  const auto threads = static_cast<int>(scratch_.size());
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (Eigen::Index i = 0; i < units; ++i) {
    Scratch& scratch = scratch_[static_cast<std::size_t>(omp_get_thread_num())];
    const S* unit = theta.col(i).data();
    unit_loss[i] = loss_over(scratch, unit, *data_.train_inputs, data_.train_targets,
                             data_.train_labels, data_.unit_first[i], data_.unit_count[i], nullptr);
    unit_loss_test[i] = loss_over(scratch, unit, test, data_.test_targets, data_.test_labels, 0,
                                  n_test, classes ? predictions_.col(i).data() : nullptr);
    if (classes) {
      long correct = 0;
      for (Eigen::Index k = 0; k < n_test; ++k)
        correct += predictions_(k, i) == data_.test_labels[k];
      out.unit_accuracy[i] = static_cast<double>(correct) / static_cast<double>(n_test);
    }
    unit_alignment[i] = 0.0;
    if (data_.top_left.size() > 0) {
      end_to_end_map(scratch, unit);
      const Matrix<S>& map = scratch.map;
      const double norm_map = std::sqrt(map.template cast<double>().squaredNorm());
      const double overlap =
          static_cast<double>(data_.top_left.col(i).dot(map * data_.top_right.col(i)));
      unit_alignment[i] = norm_map > 0 ? overlap / norm_map : 0.0;
    }
  }
  double loss = 0, loss_test = 0, alignment = 0;
  for (Eigen::Index i = 0; i < units; ++i) {
    loss += unit_loss[i];
    loss_test += unit_loss_test[i];
    alignment += unit_alignment[i];
  }
  out.unit_loss_test = unit_loss_test;
  out.loss = loss / static_cast<double>(units);
  out.loss_test = loss_test / static_cast<double>(units);
  out.alignment = data_.top_left.size() > 0 ? alignment / static_cast<double>(units) : nan;
  out.accuracy = out.accuracy_vote = out.accuracy_own = out.accuracy_other = nan;
  mean_model_ = theta.rowwise().mean();
  std::tie(out.loss_test_mean_model, out.accuracy_mean_model) = score_model(mean_model_.data());
  out.accuracy_center = centre ? score_model(centre->data()).second : nan;
  if (!classes) return out;

  out.accuracy = out.unit_accuracy.mean();
  // Own classes against the others, per unit, then averaged over the units that have any.
  double own_sum = 0, other_sum = 0;
  int own_units = 0, other_units = 0;
  for (Eigen::Index i = 0; i < units; ++i) {
    long correct[2] = {0, 0}, count[2] = {0, 0};  // [other, own]
    for (Eigen::Index k = 0; k < n_test; ++k) {
      const int label = data_.test_labels[k];
      const int own = own_[static_cast<std::size_t>(i * data_.classes + label)];
      ++count[own];
      correct[own] += predictions_(k, i) == label;
    }
    if (count[1] > 0) own_sum += static_cast<double>(correct[1]) / count[1], ++own_units;
    if (count[0] > 0) other_sum += static_cast<double>(correct[0]) / count[0], ++other_units;
  }
  out.accuracy_own = own_units > 0 ? own_sum / own_units : nan;
  out.accuracy_other = other_units > 0 ? other_sum / other_units : nan;
  std::vector<int> votes(static_cast<std::size_t>(data_.classes));
  long vote_correct = 0;
  for (Eigen::Index k = 0; k < n_test; ++k) {
    std::fill(votes.begin(), votes.end(), 0);
    for (Eigen::Index i = 0; i < units; ++i) ++votes[predictions_(k, i)];
    // The plurality; ties go to the lower class.
    const auto winner = std::max_element(votes.begin(), votes.end()) - votes.begin();
    vote_correct += winner == data_.test_labels[k];
  }
  out.accuracy_vote = static_cast<double>(vote_correct) / static_cast<double>(n_test);
  if (cross_accuracy) {
    out.cross_accuracy.resize(units, units);
    for (Eigen::Index i = 0; i < units; ++i)
      for (Eigen::Index j = 0; j < units; ++j) {
        const int c = data_.unit_class[j];
        const Eigen::Index first = data_.test_class_first[c], n = data_.test_class_count[c];
        long correct = 0;
        for (Eigen::Index k = first; k < first + n; ++k) correct += predictions_(k, i) == c;
        out.cross_accuracy(i, j) = n > 0 ? static_cast<double>(correct) / n : nan;
      }
  }
  return out;
}

template class Evaluator<float>;
template class Evaluator<double>;

}  // namespace cdl::micro
