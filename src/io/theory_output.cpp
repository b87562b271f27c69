#include "io/theory_output.hpp"

#include <chrono>
#include <cstdint>
#include <ctime>
#include <limits>
#include <numeric>

#include "sweep/status.hpp"

namespace cdl::io {

namespace {

using h5::Dims;

std::string utc_timestamp() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

std::vector<std::int32_t> index_range(int n) {
  std::vector<std::int32_t> values(static_cast<std::size_t>(n));
  std::iota(values.begin(), values.end(), 0);
  return values;
}

// Chunks hold one chain's slice [1, 1, σ, …]: the unit of writing and of typical reading.
h5::DatasetOptions per_chain_chunks(const Dims& dims, double fill) {
  Dims chunk = dims;
  chunk[0] = 1;
  chunk[1] = 1;
  return {chunk, 4, true, fill};
}

template <class T>
h5::Dataset create_variable(const h5::Group& group, const std::string& name, const Dims& dims,
                            double fill, const std::vector<const h5::Dataset*>& scales,
                            const std::string& long_name) {
  h5::Dataset dataset = group.create_dataset<T>(name, dims, per_chain_chunks(dims, fill));
  for (unsigned d = 0; d < scales.size(); ++d) scales[d]->attach_to(dataset, d);
  dataset.set_attribute("long_name", long_name);
  return dataset;
}

constexpr double nan = std::numeric_limits<double>::quiet_NaN();

}  // namespace

void write_provenance(const h5::Group& root, const Provenance& provenance) {
  root.set_attribute("cdl_version", std::string(CDL_VERSION));
  root.set_attribute("command", provenance.command);
  root.set_attribute("config", provenance.config_ini);
  root.set_attribute("created", utc_timestamp());
}

TheoryFileWriter::TheoryFileWriter(const std::string& path, const sweep::TheorySweep& sweep,
                                   const Provenance& provenance)
    : sweep_(sweep), file_(h5::File::create(path)) {
  const h5::Group root = file_.root();
  write_provenance(root, provenance);
  root.set_attribute("subcommand", std::string("theory"));

  const hsize_t n_depth = sweep.depths.size(), n_run = static_cast<hsize_t>(sweep.runs),
                n_unit = static_cast<hsize_t>(sweep.units), n_sigma = sweep.sigma.size(),
                n_time = static_cast<hsize_t>(sweep.samples);
  const std::vector<std::int32_t> depths(sweep.depths.begin(), sweep.depths.end());
  const std::vector<std::int32_t> runs = index_range(sweep.runs);
  const std::vector<std::int32_t> units = index_range(sweep.units);
  const std::vector<double> times = sweep.sample_times();

  {
    const h5::Dataset depth = root.create_scale<std::int32_t>("depth", depths);
    const h5::Dataset run = root.create_scale<std::int32_t>("run", runs);
    const h5::Dataset unit = root.create_scale<std::int32_t>("unit", units);
    disorder_ = create_variable<double>(root, "disorder", {n_depth, n_run, n_unit}, nan,
                                        {&depth, &run, &unit}, "quenched disorder Delta_i");
    disorder_.set_attribute("distribution", sweep.disorder.to_string());
    initial_state_ = create_variable<double>(root, "initial_state", {n_depth, n_run, n_unit}, nan,
                                             {&depth, &run, &unit}, "initial state phi_i(0)");
    initial_state_.set_attribute("distribution", sweep.initial_state.to_string());
    if (sweep.infinite_population) {
      // N → ∞: `unit` indexes the disorder quadrature nodes; the initial states are integrated
      // by Gauss–Legendre panels split at the separatrix (see `separatrix`), so they are NaN here.
      weight_.emplace(create_variable<double>(root, "weight", {n_depth, n_run, n_unit}, nan,
                                              {&depth, &run, &unit},
                                              "quadrature weight of the disorder node"));
      root.set_attribute("population", std::string("N -> infinity quadrature"));
    }
  }

  for (const sweep::Protocol protocol : sweep.protocols) {
    ProtocolDatasets p;
    p.group = root.create_group(sweep::name(protocol));
    const h5::Group& g = p.group;
    g.set_attribute("protocol", sweep::name(protocol));
    g.set_attribute("visiting_order", std::string(protocol == sweep::Protocol::nonadiabatic
                                                      ? "each sigma from the initial state"
                                                  : protocol == sweep::Protocol::adiabatic_up
                                                      ? "increasing sigma, continuing the state"
                                                      : "decreasing sigma, continuing the state"));
    const h5::Dataset sigma = g.create_scale<double>("sigma", sweep.sigma);
    sigma.set_attribute("long_name", std::string("coupling strength sigma"));
    const h5::Dataset depth = g.create_scale<std::int32_t>("depth", depths);
    const h5::Dataset run = g.create_scale<std::int32_t>("run", runs);
    const h5::Dataset time = g.create_scale<double>("time", times);
    const Dims summary{n_depth, n_run, n_sigma}, trace{n_depth, n_run, n_sigma, n_time};
    const std::vector<const h5::Dataset*> summary_scales{&depth, &run, &sigma};
    const std::vector<const h5::Dataset*> trace_scales{&depth, &run, &sigma, &time};
    p.order_parameter =
        create_variable<double>(g, "order_parameter", summary, nan, summary_scales,
                                "|time average of m(t)| over the second half of the samples");
    p.loss = create_variable<double>(g, "loss", summary, nan, summary_scales,
                                     "effective loss averaged over units and the second half");
    p.status = create_variable<std::int8_t>(g, "status", summary,
                                            static_cast<double>(sweep::PointStatus::not_run),
                                            summary_scales, "outcome of the point");
    const std::vector<std::int32_t> flag_values = index_range(sweep::point_status_names.size());
    p.status.set_attribute("flag_values", std::span<const std::int32_t>(flag_values));
    p.status.set_attribute("flag_meanings", sweep::flag_meanings());
    p.steps = create_variable<std::int64_t>(g, "steps", summary, 0, summary_scales,
                                            "accepted integrator steps");
    p.m = create_variable<double>(g, "m", trace, nan, trace_scales, "mean field m(t)");
    p.loss_trace = create_variable<double>(g, "loss_trace", trace, nan, trace_scales,
                                           "effective loss averaged over units at time t");
    if (sweep.save_final_states) {
      const h5::Dataset unit = g.create_scale<std::int32_t>("unit", units);
      p.final_state.emplace(
          create_variable<double>(g, "final_state", {n_depth, n_run, n_sigma, n_unit}, nan,
                                  {&depth, &run, &sigma, &unit}, "state phi_i at t_end"));
    }
    if (sweep.infinite_population) {
      p.order_parameter_error.emplace(create_variable<double>(
          g, "order_parameter_error", summary, nan, summary_scales,
          "estimated quadrature error of order_parameter (difference to a refined rule)"));
      p.loss_error.emplace(create_variable<double>(
          g, "loss_error", summary, nan, summary_scales,
          "estimated quadrature error of loss (difference to a refined rule)"));
      const h5::Dataset unit = g.create_scale<std::int32_t>("unit", units);
      p.separatrix.emplace(create_variable<double>(
          g, "separatrix", {n_depth, n_run, n_sigma, n_unit}, nan, {&depth, &run, &sigma, &unit},
          "initial state of the disorder node whose path ends at the unstable root at t_end"));
    }
    protocols_.push_back(std::move(p));
  }
  file_.flush();
}

void TheoryFileWriter::write(const sweep::TheoryChainResult& result) {
  const auto d = static_cast<hsize_t>(result.chain.depth_index);
  const auto r = static_cast<hsize_t>(result.chain.run);
  const hsize_t n_sigma = sweep_.sigma.size(), n_time = static_cast<hsize_t>(sweep_.samples),
                n_unit = static_cast<hsize_t>(sweep_.units);
  if (result.chain.protocol == 0) {
    disorder_.write_block<double>({d, r, 0}, {1, 1, n_unit},
                                  {result.disorder.data(), static_cast<std::size_t>(n_unit)});
    initial_state_.write_block<double>(
        {d, r, 0}, {1, 1, n_unit}, {result.initial_state.data(), static_cast<std::size_t>(n_unit)});
    if (weight_)
      weight_->write_block<double>({d, r, 0}, {1, 1, n_unit},
                                   {result.weight.data(), static_cast<std::size_t>(n_unit)});
  }
  const ProtocolDatasets& p = protocols_[static_cast<std::size_t>(result.chain.protocol)];
  const Dims at{d, r, 0}, row{1, 1, n_sigma};
  p.order_parameter.write_block<double>(at, row, result.order_parameter);
  p.loss.write_block<double>(at, row, result.loss);
  p.steps.write_block<std::int64_t>(at, row, result.steps);
  const Dims trace_at{d, r, 0, 0}, trace_block{1, 1, n_sigma, n_time};
  p.m.write_block<double>(trace_at, trace_block,
                          {result.m_trace.data(), static_cast<std::size_t>(result.m_trace.size())});
  p.loss_trace.write_block<double>(
      trace_at, trace_block,
      {result.loss_trace.data(), static_cast<std::size_t>(result.loss_trace.size())});
  if (p.separatrix) {
    p.order_parameter_error->write_block<double>(at, row, result.order_parameter_error);
    p.loss_error->write_block<double>(at, row, result.loss_error);
    p.separatrix->write_block<double>(
        trace_at, {1, 1, n_sigma, n_unit},
        {result.separatrix.data(), static_cast<std::size_t>(result.separatrix.size())});
  }
  if (p.final_state)
    p.final_state->write_block<double>(
        trace_at, {1, 1, n_sigma, n_unit},
        {result.final_state.data(), static_cast<std::size_t>(result.final_state.size())});
  // Status last: a point reads as done only once all its data are written.
  p.status.write_block<std::int8_t>(at, row, result.status);
  file_.flush();
}

}  // namespace cdl::io
