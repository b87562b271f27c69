// Distributions of the quenched disorder Δ_i and of initial states φ_i(0).
#pragma once

#include <Eigen/Core>
#include <string>
#include <vector>

#include "base/random.hpp"

namespace cdl::base {

struct Distribution {
  enum class Kind { normal, uniform, bimodal, file };
  Kind kind = Kind::normal;
  double a = 0, b = 1;  // normal: mean, std; uniform: lo, hi; bimodal: amplitude, P(+a)
  std::string path;     // file: one row of N values per realization, or a single row for all
  std::vector<std::vector<double>> rows;

  // Fills one value per unit for `realization`; a pure function of (rng, unit, realization).
  void draw(const CounterRng& rng, int realization, Eigen::ArrayXd& out) const;
  std::string to_string() const;
};

// Parses normal:MEAN:STD | uniform:LO:HI | bimodal:A:P | file:PATH (the kinds allowed in
// `allowed`, e.g. {"normal", "uniform"}); a file is read and checked here. Throws
// cdl::InputError naming `option`.
Distribution parse_distribution(const std::string& text, const std::string& option,
                                const std::vector<std::string>& allowed);

// Checks that a file distribution has N values per row and 1 or R rows.
void validate_distribution_shape(const Distribution& distribution, int units, int realizations,
                                 const std::string& option);

}  // namespace cdl::base
