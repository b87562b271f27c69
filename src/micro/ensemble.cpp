#include "micro/ensemble.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>

#include "base/errors.hpp"
#include "base/parse.hpp"

namespace cdl::micro {

using base::CounterRng;
using base::Purpose;

std::string WeightInit::to_string() const {
  switch (kind) {
    case Kind::normal:
      return "normal:" + base::format_double(scale);
    case Kind::fanin:
      return "fanin";
    case Kind::balanced:
      return "balanced";
  }
  return "";
}

WeightInit parse_weights(const std::string& text, const std::string& option) {
  WeightInit init;
  const auto fields = base::split(text, ':');
  if (fields[0] == "fanin" && fields.size() == 1) {
    init.kind = WeightInit::Kind::fanin;
  } else if (fields[0] == "balanced" && fields.size() == 1) {
    init.kind = WeightInit::Kind::balanced;
  } else if (fields[0] == "normal" && fields.size() == 2) {
    init.kind = WeightInit::Kind::normal;
    init.scale = base::parse_double(fields[1], option);
    if (!(init.scale > 0)) base::reject(option, text, "SCALE must be > 0");
  } else {
    base::reject(option, text, "expected normal:SCALE, fanin or balanced");
  }
  return init;
}

template <class S>
Matrix<S> initial_parameters(const Architecture& net, int units, const WeightInit& init,
                             const base::Distribution& initial_state, std::uint64_t seed, int run) {
  const Eigen::Index count = net.parameter_count();
  Matrix<S> theta = Matrix<S>::Zero(count, units);
  const auto realization = static_cast<std::uint64_t>(run);
  if (init.kind == WeightInit::Kind::balanced) {
    Eigen::ArrayXd phi(units);
    initial_state.draw(CounterRng(seed, Purpose::initial_state, realization), run, phi);
    for (int i = 0; i < units; ++i) theta.col(i).setConstant(static_cast<S>(phi[i]));
    return theta;
  }
  const CounterRng rng(seed, Purpose::weights, realization);
  for (int i = 0; i < units; ++i) {
    const auto unit = static_cast<std::uint64_t>(i);
    for (int l = 0; l < net.layers(); ++l) {
      const double bound = 1.0 / std::sqrt(static_cast<double>(net.fan_in(l)));
      const Eigen::Index first = net.weight_offset(l);
      const Eigen::Index end = net.bias ? net.bias_offset(l) + net.fan_out(l)
                                        : first + Eigen::Index{net.fan_out(l)} * net.fan_in(l);
      for (Eigen::Index p = first; p < end; ++p) {
        const bool is_bias = net.bias && p >= net.bias_offset(l);
        const auto index = static_cast<std::uint64_t>(p);
        double value = 0;
        if (init.kind == WeightInit::Kind::fanin)
          value = bound * (2 * rng.uniform(unit, index) - 1);
        else if (!is_bias)
          value = init.scale * rng.normal(unit, index);
        theta(p, i) = static_cast<S>(value);
      }
    }
  }
  return theta;
}

template <class S>
Ensemble<S>::Ensemble(const Architecture& architecture, const TaskData<S>& data, int batch,
                      const coupling::CouplingGraph& graph, std::uint64_t seed, int run)
    : architecture_(architecture),
      data_(data),
      batch_(batch),
      graph_(graph),
      batch_rng_(seed, Purpose::batch, static_cast<std::uint64_t>(run)) {
  const Eigen::Index count = architecture.parameter_count();
  const auto units = static_cast<Eigen::Index>(data.unit_first.size());
  theta_.resize(count, units);
  coupling_.resize(count, units);
  scratch_.resize(count);
  unit_scratch_.push_back(make_scratch());
  if (batch_ > 0) {
    order_.resize(static_cast<std::size_t>(units));
    for (Eigen::Index i = 0; i < units; ++i)
      order_[i].resize(static_cast<std::size_t>(data.unit_count[i]));
  }
  restart_batches();
}

template <class S>
typename Ensemble<S>::UnitScratch Ensemble<S>::make_scratch() const {
  UnitScratch scratch(architecture_);
  scratch.gradient.resize(architecture_.parameter_count());
  if (batch_ > 0) {
    scratch.batch_inputs.resize(data_.input, batch_);
    if (data_.loss == LossKind::mse) scratch.batch_targets.resize(data_.output, batch_);
    scratch.batch_labels.resize(static_cast<std::size_t>(batch_));
  }
  return scratch;
}

template <class S>
void Ensemble<S>::set_threads(int threads) {
  const auto count = static_cast<std::size_t>(std::max(1, threads));
  while (unit_scratch_.size() < count) unit_scratch_.push_back(make_scratch());
  unit_scratch_.erase(unit_scratch_.begin() + static_cast<std::ptrdiff_t>(count),
                      unit_scratch_.end());
}

template <class S>
void Ensemble<S>::restart_batches() {
  steps_ = 0;
  epoch_.assign(data_.unit_first.size(), -1);
}

// Minibatches as a shuffling data loader makes them: a fresh permutation of the unit's samples
// every epoch, cut into consecutive batches, the incomplete last one dropped. The permutation
// is a pure function of (seed, run, unit, epoch).
template <class S>
Batch<S> Ensemble<S>::next_batch(int unit, long step, UnitScratch& scratch) {
  const Eigen::Index first = data_.unit_first[unit], count = data_.unit_count[unit];
  const Matrix<S>& inputs = *data_.train_inputs;
  if (batch_ == 0) {
    const int* labels = data_.train_labels.empty() ? nullptr : data_.train_labels.data() + first;
    if (data_.loss == LossKind::mse)
      return {inputs.middleCols(first, count), data_.train_targets.middleCols(first, count),
              labels};
    return {inputs.middleCols(first, count), scratch.batch_targets, labels};
  }
  const long per_epoch = static_cast<long>(count / batch_);
  const long epoch = step / per_epoch, position = step % per_epoch;
  std::vector<int>& order = order_[unit];
  if (epoch_[unit] != epoch) {
    // Fisher–Yates with counter-based draws.
    for (Eigen::Index k = 0; k < count; ++k) order[k] = static_cast<int>(k);
    for (Eigen::Index k = count - 1; k > 0; --k) {
      const double u = batch_rng_.uniform(static_cast<std::uint64_t>(unit),
                                          static_cast<std::uint64_t>(epoch * count + k));
      const auto j = static_cast<Eigen::Index>(u * static_cast<double>(k + 1));
      std::swap(order[k], order[j]);
    }
    epoch_[unit] = epoch;
  }
  for (int b = 0; b < batch_; ++b) {
    const Eigen::Index sample = first + order[position * batch_ + b];
    if (data_.train_bytes)
      scratch.batch_inputs.col(b) =
          (data_.train_bytes->col(sample).template cast<S>() / S(255)).matrix();
    else
      scratch.batch_inputs.col(b) = inputs.col(sample);
    if (data_.loss == LossKind::mse)
      scratch.batch_targets.col(b) = data_.train_targets.col(sample);
    else
      scratch.batch_labels[b] = data_.train_labels[sample];
  }
  return {scratch.batch_inputs, scratch.batch_targets, scratch.batch_labels.data()};
}

template <class S>
void Ensemble<S>::advance(long count, S tau, S gamma, S sigma, bool local_learning) {
  const auto threads = static_cast<int>(unit_scratch_.size());
  const Eigen::Index units = theta_.cols(), rows = theta_.rows();
  const LossKind loss = data_.loss;
  // The coupling is evaluated on the parameters before the step, one block of parameters
  // (rows) at a time: every sum over units is within a block, so the result does not depend
  // on how blocks are shared among threads. All-to-all, a block of the mean m over units is
  // enough: σ (m − θ_i) is then formed by the thread that moves unit i, so that no thread
  // writes another's columns (on two threads that halves the data crossing between cores).
  constexpr Eigen::Index rows_per_block = 256;
  const bool complete = graph_.is_complete();
  const auto couple_block = [&](Eigen::Index first) {
    const Eigen::Index block = std::min(rows_per_block, rows - first);
    if (complete) {
      coupling::CouplingGraph::mean_of_rows(theta_, scratch_, first, block);
    } else {
      coupling_.middleRows(first, block).setZero();
      graph_.add_coupling_rows(sigma, theta_, coupling_, scratch_, first, block);
    }
  };
  const auto update_unit = [&](Eigen::Index i, long step, UnitScratch& scratch) {
    auto theta = theta_.col(i);
    if (complete) coupling_.col(i) = sigma * (scratch_ - theta);
    if (local_learning) {
      const Batch<S> batch = next_batch(static_cast<int>(i), step, scratch);
      scratch.network.loss_and_gradient(theta.data(), batch, loss, scratch.gradient.data());
      theta += tau * (coupling_.col(i) - scratch.gradient - gamma * theta);
    } else {
      theta += tau * coupling_.col(i);
    }
  };
  const long first_step = steps_;
  if (threads == 1) {  // no OpenMP constructs at all: they cost a tiny network 10 %
    for (long step = first_step; step < first_step + count; ++step) {
      for (Eigen::Index first = 0; first < rows; first += rows_per_block) couple_block(first);
      for (Eigen::Index i = 0; i < units; ++i) update_unit(i, step, unit_scratch_.front());
    }
  } else {
#pragma omp parallel num_threads(threads)
    {
      UnitScratch& scratch = unit_scratch_[static_cast<std::size_t>(omp_get_thread_num())];
      for (long step = first_step; step < first_step + count; ++step) {
        // Each loop's barrier ends it before the next begins: the coupling before any unit
        // moves, every unit before the next step's coupling.
#pragma omp for schedule(static)
        for (Eigen::Index first = 0; first < rows; first += rows_per_block) {
          couple_block(first);
        }
        // Units are independent within a step. Static blocks: a thread keeps the same units
        // from step to step, and their parameters stay in its core's cache.
#pragma omp for schedule(static)
        for (Eigen::Index i = 0; i < units; ++i) update_unit(i, step, scratch);
      }
    }
  }
  steps_ += count;
}

template Matrix<float> initial_parameters<float>(const Architecture&, int, const WeightInit&,
                                                 const base::Distribution&, std::uint64_t, int);
template Matrix<double> initial_parameters<double>(const Architecture&, int, const WeightInit&,
                                                   const base::Distribution&, std::uint64_t, int);
template class Ensemble<float>;
template class Ensemble<double>;

}  // namespace cdl::micro
