#include "experiments/theory_output.hpp"

#include <span>

namespace cdl::experiments {

namespace {

SweepAxes theory_axes(const TheorySweep& sweep) {
  return {sweep.depths,
          sweep.runs,
          sweep.units,
          sweep.sigma,
          sweep.sample_times(),
          sweep.protocols,
          "integration time t",
          sweep.horizon_times(),
          "observation horizon h in integration time, measured over the samples in [h/2, h]"};
}

}  // namespace

TheoryFileWriter::TheoryFileWriter(const std::string& path, const TheorySweep& sweep,
                                   const Provenance& provenance)
    : TheoryFileWriter(h5::File::create(path), sweep, provenance) {}

TheoryFileWriter::TheoryFileWriter(h5::File file, const TheorySweep& sweep,
                                   const Provenance& provenance)
    : sweep_(sweep), file_(std::move(file), theory_axes(sweep), provenance, "theory") {
  file_.add_quenched("disorder", "quenched disorder Delta_i")
      .set_attribute("distribution", sweep.disorder.to_string());
  file_.add_quenched("initial_state", "initial state phi_i(0)")
      .set_attribute("distribution", sweep.initial_state.to_string());
  if (sweep.infinite_population) {
    // N → ∞: `unit` indexes the disorder quadrature nodes; the initial states are integrated
    // by Gauss–Legendre panels split at the separatrix (see `separatrix`), so they are NaN here.
    file_.add_quenched("weight", "quadrature weight of the disorder node");
    file_.root().set_attribute("population", std::string("N -> infinity quadrature"));
  }
  file_.add<double>("order_parameter", Shape::summary,
                    "|time average of m(t)| over the second half of the samples");
  file_.add<double>("loss", Shape::summary,
                    "effective loss averaged over units and the second half");
  file_.add<std::int64_t>("steps", Shape::summary, "accepted integrator steps");
  file_.add<double>("order_parameter_horizon", Shape::horizon,
                    "|time average of m(t)| over the samples in [h/2, h]");
  file_.add<double>("loss_horizon", Shape::horizon,
                    "effective loss averaged over units and the samples in [h/2, h]");
  file_.add<double>("relaxation_time", Shape::summary,
                    "first sample time after which m(t) stays within 1 % of its range of m(t_end) "
                    "(NaN: not settled before t_end)");
  file_.add<double>("m", Shape::trace, "mean field m(t)");
  file_.add<double>("loss_trace", Shape::trace, "effective loss averaged over units at time t");
  if (sweep.save_final_states)
    file_.add<double>("final_state", Shape::unit, "state phi_i at t_end");
  if (sweep.infinite_population) {
    file_.add<double>(
        "order_parameter_error", Shape::summary,
        "estimated quadrature error of order_parameter (difference to a coarser rule)");
    file_.add<double>("loss_error", Shape::summary,
                      "estimated quadrature error of loss (difference to a coarser rule)");
    file_.add<double>("order_parameter_horizon_error", Shape::horizon,
                      "estimated quadrature error of order_parameter_horizon");
    file_.add<double>("loss_horizon_error", Shape::horizon,
                      "estimated quadrature error of loss_horizon");
    file_.add_status("status_horizon", Shape::horizon,
                     "outcome of the horizon's estimate: done within the accuracy, else "
                     "not_converged (or the point's failure)");
    file_.add<double>(
        "separatrix", Shape::unit,
        "initial state of the disorder node whose path ends at the unstable root at t_end");
  }
}

TheoryFileWriter::TheoryFileWriter(const std::string& path, const TheorySweep& sweep)
    : sweep_(sweep), file_(path, theory_axes(sweep)) {}

void TheoryFileWriter::write(const TheoryChainResult& result, const sweep::WorkItem& item) {
  const int protocol = result.chain.protocol, d = result.chain.depth_index, r = result.chain.run;
  const std::span<const int> sigma = item.sigma;
  // Every item writes its realization's quenched inputs (the same values each time), so that
  // every shard holding a point of the realization has them.
  file_.write_quenched("disorder", d, r, all_of(result.disorder));
  file_.write_quenched("initial_state", d, r, all_of(result.initial_state));
  if (sweep_.infinite_population) file_.write_quenched("weight", d, r, all_of(result.weight));
  file_.write<double>(protocol, "order_parameter", d, r, sigma, result.order_parameter);
  file_.write<double>(protocol, "loss", d, r, sigma, result.loss);
  file_.write<std::int64_t>(protocol, "steps", d, r, sigma, result.steps);
  file_.write<double>(protocol, "order_parameter_horizon", d, r, sigma,
                      all_of(result.order_parameter_horizon));
  file_.write<double>(protocol, "loss_horizon", d, r, sigma, all_of(result.loss_horizon));
  file_.write<double>(protocol, "relaxation_time", d, r, sigma, result.relaxation_time);
  file_.write<double>(protocol, "m", d, r, sigma, all_of(result.m_trace));
  file_.write<double>(protocol, "loss_trace", d, r, sigma, all_of(result.loss_trace));
  if (sweep_.save_final_states)
    file_.write<double>(protocol, "final_state", d, r, sigma, all_of(result.final_state));
  if (sweep_.infinite_population) {
    file_.write<double>(protocol, "order_parameter_error", d, r, sigma,
                        result.order_parameter_error);
    file_.write<double>(protocol, "loss_error", d, r, sigma, result.loss_error);
    file_.write<double>(protocol, "order_parameter_horizon_error", d, r, sigma,
                        all_of(result.order_parameter_horizon_error));
    file_.write<double>(protocol, "loss_horizon_error", d, r, sigma,
                        all_of(result.loss_horizon_error));
    file_.write<std::int8_t>(
        protocol, "status_horizon", d, r, sigma,
        {result.horizon_status.data(), static_cast<std::size_t>(result.horizon_status.size())});
    file_.write<double>(protocol, "separatrix", d, r, sigma, all_of(result.separatrix));
  }
  file_.finish_points(protocol, d, r, sigma, result.status);
}

}  // namespace cdl::experiments
