#include "sweep/theory_sweep.hpp"

#include <cmath>
#include <limits>

#include "numerics/fixed_order_sum.hpp"
#include "theory/effective_dynamics.hpp"

namespace cdl::sweep {

std::vector<double> TheorySweep::sample_times() const {
  std::vector<double> times(static_cast<std::size_t>(samples));
  for (int k = 0; k < samples; ++k) times[k] = t_end * k / (samples - 1);
  times.back() = t_end;
  return times;
}

Realization draw_realization(const TheorySweep& sweep, int run) {
  const auto r = static_cast<std::uint64_t>(run);
  Realization realization{Eigen::ArrayXd(sweep.units), Eigen::ArrayXd(sweep.units),
                          coupling::CouplingGraph::complete(sweep.units)};
  sweep.disorder.draw(CounterRng(sweep.seed, Purpose::disorder, r), run, realization.disorder);
  sweep.initial_state.draw(CounterRng(sweep.seed, Purpose::initial_state, r), run,
                           realization.initial_state);
  if (sweep.topology.kind != coupling::TopologyKind::complete)
    realization.graph = coupling::CouplingGraph::draw(
        sweep.topology, sweep.units, CounterRng(sweep.seed, Purpose::graph, r).key());
  return realization;
}

namespace {

// Observer of one integration: m(t) and the mean effective loss at every sample time.
struct TraceRecorder {
  double* m;
  double* loss;
  int depth;
  double mean_disorder;
  void sample(int k, const Eigen::ArrayXd& phi) {
    m[k] = numerics::fixed_order_mean(phi);
    loss[k] = theory::mean_effective_loss(phi, depth, mean_disorder);
  }
};

PointStatus to_point_status(theory::IntegrationStatus status) {
  switch (status) {
    case theory::IntegrationStatus::done:
      return PointStatus::done;
    case theory::IntegrationStatus::diverged:
      return PointStatus::diverged;
    case theory::IntegrationStatus::step_underflow:
      return PointStatus::step_underflow;
    case theory::IntegrationStatus::step_budget:
      return PointStatus::step_budget;
  }
  return PointStatus::diverged;
}

}  // namespace

TheoryWorkspace make_theory_workspace(const TheorySweep& sweep) {
  TheoryWorkspace workspace{theory::Dopri5(sweep.integrator), Eigen::ArrayXd(sweep.units), {}};
  const auto n_sigma = static_cast<Eigen::Index>(sweep.sigma.size());
  auto& result = workspace.result;
  result.order_parameter.resize(sweep.sigma.size());
  result.loss.resize(sweep.sigma.size());
  result.status.resize(sweep.sigma.size());
  result.steps.resize(sweep.sigma.size());
  result.m_trace.resize(n_sigma, sweep.samples);
  result.loss_trace.resize(n_sigma, sweep.samples);
  if (sweep.save_final_states) result.final_state.resize(n_sigma, sweep.units);
  return workspace;
}

void compute_theory_chain(const TheorySweep& sweep, const Chain& chain,
                          TheoryWorkspace& workspace) {
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  const Protocol protocol = sweep.protocols[chain.protocol];
  const int depth = sweep.depths[chain.depth_index];
  auto& result = workspace.result;
  auto& phi = workspace.phi;
  Realization realization = draw_realization(sweep, chain.run);
  result.chain = chain;
  result.disorder = realization.disorder;
  result.initial_state = realization.initial_state;
  const double mean_disorder = numerics::fixed_order_mean(realization.disorder);
  theory::EffectiveDynamics dynamics(depth, sweep.gamma, realization.disorder, realization.graph);
  const std::vector<double> times = sweep.sample_times();
  const int first_measured = sweep.first_measured_sample();

  phi = realization.initial_state;
  bool chain_broken = false;
  for (const int s : visiting_order(protocol, sweep.sigma)) {
    result.m_trace.row(s).setConstant(nan);
    result.loss_trace.row(s).setConstant(nan);
    result.order_parameter[s] = nan;
    result.loss[s] = nan;
    result.steps[s] = 0;
    if (sweep.save_final_states) result.final_state.row(s).setConstant(nan);
    if (chain_broken) {
      result.status[s] = static_cast<std::int8_t>(PointStatus::chain_broken);
      continue;
    }
    // Non-adiabatic: every coupling starts afresh; adiabatic: from the previous final state.
    if (protocol == Protocol::nonadiabatic) phi = realization.initial_state;
    dynamics.set_sigma(sweep.sigma[s]);
    TraceRecorder recorder{result.m_trace.row(s).data(), result.loss_trace.row(s).data(), depth,
                           mean_disorder};
    const auto outcome =
        workspace.integrator.integrate(dynamics, phi, 0.0, sweep.t_end, times, recorder);
    const PointStatus status = to_point_status(outcome.status);
    result.status[s] = static_cast<std::int8_t>(status);
    result.steps[s] = outcome.accepted_steps;
    if (status != PointStatus::done) {
      result.m_trace.row(s).setConstant(nan);
      result.loss_trace.row(s).setConstant(nan);
      chain_broken = protocol != Protocol::nonadiabatic;
      continue;
    }
    const auto measured = sweep.samples - first_measured;
    result.order_parameter[s] =
        std::abs(numerics::fixed_order_mean(result.m_trace.row(s).tail(measured)));
    result.loss[s] = numerics::fixed_order_mean(result.loss_trace.row(s).tail(measured));
    if (sweep.save_final_states) result.final_state.row(s) = phi.matrix().transpose();
  }
}

SweepOutcome run_theory_sweep(const TheorySweep& sweep, int threads,
                              const std::function<void(const TheoryChainResult&)>& deliver) {
  const auto chains = make_chains(static_cast<int>(sweep.protocols.size()),
                                  static_cast<int>(sweep.depths.size()), sweep.runs);
  return run_chains(
      chains, threads, [&] { return make_theory_workspace(sweep); },
      [&](TheoryWorkspace& workspace, const Chain& chain) {
        compute_theory_chain(sweep, chain, workspace);
      },
      deliver);
}

}  // namespace cdl::sweep
