// What `cdl analyze` measures in a sweep file: per protocol and depth the realization-averaged
// order parameter (or accuracy) with standard errors, the susceptibility, the ordered window
// σ_c1..σ_c2 with bootstrap intervals at every horizon, and the hysteresis of adiabatic pairs
// (the estimators of src/estimators on the points of io::SweepReader).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "estimators/transitions.hpp"
#include "io/sweep_reader.hpp"

namespace cdl::sim {

struct ProtocolAnalysis {
  std::string name;
  std::vector<double> sigma;
  std::string observable;
  // [depth][σ]
  std::vector<std::vector<double>> mean, se, chi, loss, loss_se, rank1_r2;
  // micro, classes: the mean model's test accuracy, mean and standard error ([depth][σ])
  std::vector<std::vector<double>> mean_model, mean_model_se;
  std::vector<estimators::Window> window;
  std::vector<estimators::WindowInterval> interval;
  std::vector<long> status_count;  // points per status code: only done points are analysed
  // The same signal at every observation horizon: [depth][horizon][σ] and [depth][horizon].
  std::vector<double> horizons;
  std::vector<std::vector<std::vector<double>>> horizon_mean;
  std::vector<std::vector<estimators::Window>> horizon_window;
  std::vector<std::vector<estimators::WindowInterval>> horizon_interval;
};

// The bootstrap of the windows' intervals.
struct BootstrapSettings {
  int resamples = 1000;
  std::uint64_t seed = 1;
};

// The measured sweep: everything /analysis holds.
struct SweepAnalysis {
  std::string subcommand;
  std::vector<std::int32_t> depths;
  std::vector<ProtocolAnalysis> protocols;
  std::vector<estimators::Hysteresis> loops;  // [depth], when both adiabatic directions exist
};

// The critical couplings of a cdl stationary file, per depth.
struct Prediction {
  std::vector<std::int32_t> depths;
  std::vector<double> sigma_c1, sigma_c2;
};

// Reads and estimates everything of the sweep `reader` (of the file `path`, named in messages).
// Throws cdl::InputError naming --file for a file with no protocol or no point done.
SweepAnalysis analyse_sweep(const io::SweepReader& reader, const std::string& path,
                            const BootstrapSettings& bootstrap);

// The critical couplings of the cdl stationary file `theory`; bad input on --theory otherwise.
Prediction read_prediction(const std::string& theory);

}  // namespace cdl::sim
