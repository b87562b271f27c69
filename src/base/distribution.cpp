#include "base/distribution.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/errors.hpp"
#include "base/parse.hpp"

namespace cdl::base {

void Distribution::draw(const CounterRng& rng, int realization, Eigen::ArrayXd& out) const {
  for (Eigen::Index i = 0; i < out.size(); ++i) {
    const auto unit = static_cast<std::uint64_t>(i);
    switch (kind) {
      case Kind::normal:
        out[i] = a + b * rng.normal(unit, 0);
        break;
      case Kind::uniform:
        out[i] = a + (b - a) * rng.uniform(unit, 0);
        break;
      case Kind::bimodal:
        out[i] = rng.uniform(unit, 0) < b ? a : -a;
        break;
      case Kind::file:
        out[i] = rows[rows.size() == 1 ? 0 : static_cast<std::size_t>(realization)][i];
        break;
    }
  }
}

std::string Distribution::to_string() const {
  switch (kind) {
    case Kind::normal:
      return "normal:" + base::format_double(a) + ":" + base::format_double(b);
    case Kind::uniform:
      return "uniform:" + base::format_double(a) + ":" + base::format_double(b);
    case Kind::bimodal:
      return "bimodal:" + base::format_double(a) + ":" + base::format_double(b);
    case Kind::file:
      return "file:" + path;
  }
  return "?";
}

namespace {

std::vector<std::vector<double>> read_rows(const std::string& path, const std::string& option,
                                           const std::string& text) {
  std::ifstream in(path);
  if (!in) base::reject(option, text, "cannot read file " + path);
  std::vector<std::vector<double>> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (const auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream fields(line);
    std::vector<double> row;
    std::string field;
    while (fields >> field) {
      if (field.back() == ',') field.pop_back();
      try {
        row.push_back(base::parse_double(field, option));
      } catch (const InputError&) {
        base::reject(option, text, "file " + path + " holds '" + field + "', not a finite number");
      }
    }
    if (!row.empty()) rows.push_back(std::move(row));
  }
  if (rows.empty()) base::reject(option, text, "file holds no values");
  return rows;
}

}  // namespace

Distribution parse_distribution(const std::string& text, const std::string& option,
                                const std::vector<std::string>& allowed) {
  const auto colon = text.find(':');
  const std::string kind = text.substr(0, colon);
  std::string forms;
  for (const auto& k : allowed) forms += (forms.empty() ? "" : ", ") + k;
  if (std::find(allowed.begin(), allowed.end(), kind) == allowed.end() ||
      colon == std::string::npos)
    base::reject(option, text, "expected one of " + forms + " with its parameters");
  Distribution d;
  if (kind == "file") {
    d.kind = Distribution::Kind::file;
    d.rows = read_rows(text.substr(colon + 1), option, text);
    // Absolute, so that the configuration recorded in an output reruns from anywhere.
    d.path = std::filesystem::absolute(text.substr(colon + 1)).string();
    return d;
  }
  const auto fields = base::split(text, ':');
  if (fields.size() != 3) base::reject(option, text, "expected " + kind + " with two parameters");
  d.a = base::parse_double(fields[1], option);
  d.b = base::parse_double(fields[2], option);
  if (kind == "normal") {
    d.kind = Distribution::Kind::normal;
    if (d.b < 0) base::reject(option, text, "standard deviation must be >= 0");
  } else if (kind == "uniform") {
    d.kind = Distribution::Kind::uniform;
    if (d.b < d.a) base::reject(option, text, "need LO <= HI");
  } else if (kind == "bimodal") {
    d.kind = Distribution::Kind::bimodal;
    if (d.b < 0 || d.b > 1) base::reject(option, text, "probability P must lie in [0, 1]");
  }
  return d;
}

void validate_distribution_shape(const Distribution& distribution, int units, int realizations,
                                 const std::string& option) {
  if (distribution.kind != Distribution::Kind::file) return;
  const auto& rows = distribution.rows;
  if (rows.size() != 1 && rows.size() != static_cast<std::size_t>(realizations))
    base::reject(option, distribution.to_string(),
                 "file has " + std::to_string(rows.size()) +
                     " rows; need 1 or --runs = " + std::to_string(realizations));
  for (const auto& row : rows)
    if (row.size() != static_cast<std::size_t>(units))
      base::reject(option, distribution.to_string(),
                   "a row has " + std::to_string(row.size()) +
                       " values; need --units = " + std::to_string(units));
}

}  // namespace cdl::base
