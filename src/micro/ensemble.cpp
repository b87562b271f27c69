#include "micro/ensemble.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>

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
      seed_(seed),
      run_(run),
      batch_rng_(seed, Purpose::batch, static_cast<std::uint64_t>(run)),
      exchange_rng_(seed, Purpose::exchange, static_cast<std::uint64_t>(run)) {
  const Eigen::Index count = architecture.parameter_count();
  const auto units = static_cast<Eigen::Index>(data.unit_first.size());
  theta_.resize(count, units);
  coupling_.resize(count, units);
  scratch_.resize(count);
  centre_.setZero(count);
  participants_.resize(static_cast<std::size_t>(units));
  gossip_pairs_.reserve(static_cast<std::size_t>(units / 2 + 1));
  gossip_order_.resize(static_cast<std::size_t>(units));
  gossip_candidates_.resize(static_cast<std::size_t>(units));
  gossip_free_.resize(static_cast<std::size_t>(units));
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
  parameters_sent_ = 0;
  epoch_.assign(data_.unit_first.size(), -1);
}

template <class S>
void Ensemble<S>::set_parameters(const Matrix<S>& theta) {
  theta_ = theta;
  chain_steps_ = 0;
  coupling::CouplingGraph::mean_of_rows(theta_, centre_, 0, theta_.rows());
}

template <class S>
void Ensemble<S>::set_failures(const Failures& failures) {
  failures_.reset();
  if (failures.any()) failures_.emplace(failures, static_cast<int>(theta_.cols()), seed_, run_);
}

template <class S>
void Ensemble<S>::set_trace(StepTrace<S>* trace) {
  trace_ = trace;
  if (trace_) trace_->gradients.setZero(theta_.rows(), theta_.cols());
}

template <class S>
int Ensemble<S>::online_mean_rows(long step, Eigen::Index first, Eigen::Index rows) {
  auto mean = scratch_.segment(first, rows);
  mean.setZero();
  int count = 0;
  for (Eigen::Index j = 0; j < theta_.cols(); ++j)
    if (online(static_cast<int>(j), step)) {
      mean += theta_.col(j).segment(first, rows);
      ++count;
    }
  if (count > 0) mean /= static_cast<S>(count);
  return count;
}

template <class S>
void Ensemble<S>::couple_online_rows(long step, S sigma, Eigen::Index first, Eigen::Index rows) {
  const auto units = static_cast<int>(theta_.cols());
  const bool mixing = scheme_.kind == Scheme::Kind::dsgd;
  if (graph_.is_complete() && failures_->failures().link_failure <= 0) {
    // Σ over the L online units j of (θ_j − θ_i) is L (m_online − θ_i): O(N) again.
    const int count = online_mean_rows(step, first, rows);
    const S scale = sigma * static_cast<S>(count) / static_cast<S>(units);
    for (int i = 0; i < units; ++i)
      if (online(i, step))
        coupling_.col(i).segment(first, rows) =
            scale * (scratch_.segment(first, rows) - theta_.col(i).segment(first, rows));
    return;
  }
  for (int i = 0; i < units; ++i) {
    if (!online(i, step)) continue;
    auto out = coupling_.col(i).segment(first, rows);
    out.setZero();
    const auto own = theta_.col(i).segment(first, rows);
    graph_.for_each_neighbour(i, [&](int j) {
      if (!online(j, step) || !failures_->link_up(i, j, step)) return;
      const S weight = mixing ? sigma * static_cast<S>(graph_.mixing_weight(i, j))
                              : sigma / static_cast<S>(units);
      out += weight * (theta_.col(j).segment(first, rows) - own);
    });
  }
}

template <class S>
bool Ensemble<S>::exchanges_after(long step) const {
  switch (scheme_.kind) {
    case Scheme::Kind::easgd:
    case Scheme::Kind::gossip:
      return true;
    case Scheme::Kind::fedavg:
      return (step + 1) % scheme_.period == 0;
    default:
      return false;
  }
}

template <class S>
void Ensemble<S>::choose_exchange(long step) {
  const int units = static_cast<int>(theta_.cols());
  if (scheme_.kind == Scheme::Kind::fedavg) {
    // round(C N) participants (at least one), uniform without replacement: a partial
    // Fisher–Yates shuffle with counter-based draws, then in unit order for a fixed sum.
    const long round = step / scheme_.period;
    participant_count_ = std::max(1, static_cast<int>(std::lround(scheme_.fraction * units)));
    for (int k = 0; k < units; ++k) participants_[static_cast<std::size_t>(k)] = k;
    for (int k = 0; k < participant_count_ && participant_count_ < units; ++k) {
      const double u =
          exchange_rng_.uniform(static_cast<std::uint64_t>(round), static_cast<std::uint64_t>(k));
      const int j = k + static_cast<int>(u * (units - k));
      std::swap(participants_[static_cast<std::size_t>(k)],
                participants_[static_cast<std::size_t>(j)]);
    }
    std::sort(participants_.begin(), participants_.begin() + participant_count_);
    // Offline participants miss the round.
    const auto offline = [&](int unit) { return !online(unit, step); };
    participant_count_ = static_cast<int>(
        std::remove_if(participants_.begin(), participants_.begin() + participant_count_, offline) -
        participants_.begin());
    parameters_sent_ += 2.0 * participant_count_ * static_cast<double>(theta_.rows());
    if (trace_)
      trace_->participants.assign(participants_.begin(),
                                  participants_.begin() + participant_count_);
  } else if (scheme_.kind == Scheme::Kind::gossip) {
    // Randomized gossip wakes every unit about once per step (Boyd et al. 2006): a random
    // maximal matching of the graph, the units taken in a random order and each still free
    // one paired with a uniformly drawn free neighbour. Counter-based draws of (step, k): the
    // same pairs for any thread count.
    const auto key = static_cast<std::uint64_t>(step);
    const auto at = [](auto& v, int k) -> auto& { return v[static_cast<std::size_t>(k)]; };
    for (int k = 0; k < units; ++k) at(gossip_order_, k) = k;
    for (int k = units - 1; k > 0; --k) {
      const double u = exchange_rng_.uniform(key, static_cast<std::uint64_t>(k));
      std::swap(at(gossip_order_, k), at(gossip_order_, static_cast<int>(u * (k + 1))));
    }
    std::fill(gossip_free_.begin(), gossip_free_.end(), char(1));
    gossip_pairs_.clear();
    for (int k = 0; k < units; ++k) {
      const int i = at(gossip_order_, k);
      if (!at(gossip_free_, i)) continue;
      int candidates = 0;
      graph_.for_each_neighbour(i, [&](int j) {
        if (at(gossip_free_, j)) at(gossip_candidates_, candidates++) = j;
      });
      if (candidates == 0) continue;
      const double u = exchange_rng_.uniform(key, static_cast<std::uint64_t>(units + i));
      const int j =
          at(gossip_candidates_, std::min(candidates - 1, static_cast<int>(u * candidates)));
      at(gossip_free_, i) = at(gossip_free_, j) = 0;
      // A pair with an offline end or a link that is down exchanges nothing.
      if (online(i, step) && online(j, step) && (!failures_ || failures_->link_up(i, j, step)))
        gossip_pairs_.emplace_back(std::min(i, j), std::max(i, j));
    }
    parameters_sent_ +=
        2.0 * static_cast<double>(gossip_pairs_.size()) * static_cast<double>(theta_.rows());
    if (trace_) trace_->gossip_pairs = gossip_pairs_;
  }
}

template <class S>
void Ensemble<S>::exchange_rows(Eigen::Index first, Eigen::Index rows, S tau, S sigma) {
  switch (scheme_.kind) {
    case Scheme::Kind::easgd: {
      // The centre moves by the sum of the elastic forces of the (online) units, ατ Σᵢ(θᵢ − c)
      // = β(m − c) with β = Lα (Zhang et al. 2015, L online units, α = τσ), m their mean
      // before the step (scratch_).
      const int listeners = failures_ ? easgd_listeners_ : static_cast<int>(theta_.cols());
      if (listeners > 0)
        centre_.segment(first, rows) +=
            tau * sigma * static_cast<S>(listeners) *
            (scratch_.segment(first, rows) - centre_.segment(first, rows));
      break;
    }
    case Scheme::Kind::fedavg: {
      if (participant_count_ == 0) break;  // every participant offline
      // Kτσ ≥ 1 is a full replacement, also where τ and σ rounded to S put the product a few
      // ulps below 1 (10 · 0.02f · 5f = 0.99999994).
      const S product = static_cast<S>(scheme_.period) * tau * sigma;
      const S pull = product >= S(1) - S(8) * std::numeric_limits<S>::epsilon() ? S(1) : product;
      auto mean = scratch_.segment(first, rows);
      const auto participant = [&](int k) {
        return theta_.col(participants_[static_cast<std::size_t>(k)]).segment(first, rows);
      };
      // McMahan et al. (2017): each participant weighs n_k / Σ n_k, its share of the samples;
      // taken relative to the first participant's count, so that equal counts (and `:equal`)
      // weigh exactly 1 and give the plain mean bit for bit.
      const auto count = [&](int k) {
        return static_cast<S>(data_.unit_count[participants_[static_cast<std::size_t>(k)]]);
      };
      const auto weight = [&](int k) { return scheme_.equal_weights ? S(1) : count(k) / count(0); };
      S total = weight(0);
      mean = weight(0) * participant(0);
      for (int k = 1; k < participant_count_; ++k) {
        mean += weight(k) * participant(k);
        total += weight(k);
      }
      mean /= total;
      for (int k = 0; k < participant_count_; ++k) {
        auto theta = theta_.col(participants_[static_cast<std::size_t>(k)]).segment(first, rows);
        if (pull == S(1))
          theta = mean;  // full replacement, exactly (θ + (m − θ) need not round to m)
        else
          theta += pull * (mean - theta);
      }
      break;
    }
    case Scheme::Kind::gossip: {
      // α chosen so that the expected pull on a unit matched every step is diffusion's:
      // α E[θⱼ − θᵢ] over a uniform neighbour is τ(σ/N) Σⱼ Aᵢⱼ(θⱼ − θᵢ) for degree 2|E|/N;
      // capped at pairwise averaging.
      const auto units = static_cast<S>(theta_.cols());
      const S alpha = std::min(
          S(0.5), tau * sigma * S(2) * static_cast<S>(graph_.edge_count()) / (units * units));
      for (const auto& [i, j] : gossip_pairs_) {
        auto a = theta_.col(i).segment(first, rows);
        auto b = theta_.col(j).segment(first, rows);
        for (Eigen::Index r = 0; r < rows; ++r) {
          const S difference = b[r] - a[r];
          a[r] += alpha * difference;
          b[r] -= alpha * difference;
        }
      }
      break;
    }
    default:
      break;
  }
}

// Parameters sent in a step by the schemes that exchange every step (fedavg and gossip count
// theirs when they choose who exchanges): with failures, only online units over links that
// are up.
template <class S>
double Ensemble<S>::sent_in_step(long step) const {
  const auto parameters = static_cast<double>(theta_.rows());
  const auto units = static_cast<int>(theta_.cols());
  switch (scheme_.kind) {
    case Scheme::Kind::diffusion:
    case Scheme::Kind::dsgd: {  // every unit to every neighbour
      if (!failures_) return 2 * static_cast<double>(graph_.edge_count()) * parameters;
      long messages = 0;
      for (int i = 0; i < units; ++i)
        if (online(i, step))
          graph_.for_each_neighbour(
              i, [&](int j) { messages += online(j, step) && failures_->link_up(i, j, step); });
      return static_cast<double>(messages) * parameters;
    }
    case Scheme::Kind::easgd: {  // every unit to the centre and back
      int count = 0;
      for (int i = 0; i < units; ++i) count += online(i, step);
      return 2 * count * parameters;
    }
    default:
      return 0;
  }
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
  const Scheme::Kind kind = scheme_.kind;
  // The coupling is evaluated on the parameters before the step, one block of parameters
  // (rows) at a time: every sum over units is within a block, so the result does not depend
  // on how blocks are shared among threads. All-to-all, a block of the mean m over units is
  // enough: σ (m − θ_i) is then formed by the thread that moves unit i, so that no thread
  // writes another's columns (on two threads that halves the data crossing between cores).
  // easgd needs the mean too (its centre follows it); fedavg and gossip exchange after the
  // units' local steps instead.
  constexpr Eigen::Index rows_per_block = 256;
  const bool graph_coupling = kind == Scheme::Kind::diffusion || kind == Scheme::Kind::dsgd;
  const bool complete = graph_.is_complete();
  const bool needs_mean = (graph_coupling && complete) || kind == Scheme::Kind::easgd;
  const bool failing = failures_.has_value();
  const auto couple_block = [&](Eigen::Index first, long step) {
    const Eigen::Index block = std::min(rows_per_block, rows - first);
    if (failing && graph_coupling) {
      couple_online_rows(step, sigma, first, block);
    } else if (failing && kind == Scheme::Kind::easgd) {
      const int count = online_mean_rows(step, first, block);
      if (first == 0) easgd_listeners_ = count;
    } else if (needs_mean) {
      coupling::CouplingGraph::mean_of_rows(theta_, scratch_, first, block);
    } else if (graph_coupling) {
      coupling_.middleRows(first, block).setZero();
      if (kind == Scheme::Kind::dsgd)
        graph_.add_mixing_rows(sigma, theta_, coupling_, scratch_, first, block);
      else
        graph_.add_coupling_rows(sigma, theta_, coupling_, scratch_, first, block);
    }
  };
  const auto update_unit = [&](Eigen::Index i, long step, UnitScratch& scratch) {
    if (failing && !online(static_cast<int>(i), step)) return;  // offline: no update at all
    auto theta = theta_.col(i);
    if (graph_coupling && complete && !failing) coupling_.col(i) = sigma * (scratch_ - theta);
    if (kind == Scheme::Kind::easgd) coupling_.col(i) = sigma * (centre_ - theta);
    const bool coupled = graph_coupling || kind == Scheme::Kind::easgd;
    if (local_learning) {
      const Batch<S> batch = next_batch(static_cast<int>(i), step, scratch);
      scratch.network.loss_and_gradient(theta.data(), batch, loss, scratch.gradient.data());
      if (trace_) trace_->gradients.col(i) = scratch.gradient;
      if (coupled)
        theta += tau * (coupling_.col(i) - scratch.gradient - gamma * theta);
      else
        theta -= tau * (scratch.gradient + gamma * theta);
    } else if (coupled) {
      theta += tau * coupling_.col(i);
    }
  };
  const auto exchange_block = [&](Eigen::Index first) {
    exchange_rows(first, std::min(rows_per_block, rows - first), tau, sigma);
  };
  const long first_step = steps_;
  // Without coupling nothing needs to be sent, and no exchange takes place.
  const bool communicates = sigma != S(0);
  if (communicates)
    for (long step = first_step; step < first_step + count; ++step)
      parameters_sent_ += sent_in_step(step);
  if (threads == 1) {  // no OpenMP constructs at all: they cost a tiny network 10 %
    for (long step = first_step; step < first_step + count; ++step) {
      if (graph_coupling || needs_mean)
        for (Eigen::Index first = 0; first < rows; first += rows_per_block)
          couple_block(first, step);
      for (Eigen::Index i = 0; i < units; ++i) update_unit(i, step, unit_scratch_.front());
      if (communicates && exchanges_after(step)) {
        choose_exchange(step);
        for (Eigen::Index first = 0; first < rows; first += rows_per_block) exchange_block(first);
      }
    }
  } else {
#pragma omp parallel num_threads(threads)
    {
      UnitScratch& scratch = unit_scratch_[static_cast<std::size_t>(omp_get_thread_num())];
      for (long step = first_step; step < first_step + count; ++step) {
        // Each loop's barrier ends it before the next begins: the coupling before any unit
        // moves, every unit before the exchange and the next step's coupling.
        if (graph_coupling || needs_mean) {
#pragma omp for schedule(static)
          for (Eigen::Index first = 0; first < rows; first += rows_per_block) {
            couple_block(first, step);
          }
        }
        // Units are independent within a step. Static blocks: a thread keeps the same units
        // from step to step, and their parameters stay in its core's cache.
#pragma omp for schedule(static)
        for (Eigen::Index i = 0; i < units; ++i) update_unit(i, step, scratch);
        if (communicates && exchanges_after(step)) {
#pragma omp single
          choose_exchange(step);
#pragma omp for schedule(static)
          for (Eigen::Index first = 0; first < rows; first += rows_per_block) {
            exchange_block(first);
          }
        }
      }
    }
  }
  steps_ += count;
  chain_steps_ += count;
}

template Matrix<float> initial_parameters<float>(const Architecture&, int, const WeightInit&,
                                                 const base::Distribution&, std::uint64_t, int);
template Matrix<double> initial_parameters<double>(const Architecture&, int, const WeightInit&,
                                                   const base::Distribution&, std::uint64_t, int);
template class Ensemble<float>;
template class Ensemble<double>;

}  // namespace cdl::micro
