#include "sweep/grid.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "base/errors.hpp"
#include "base/parse.hpp"

namespace cdl::sweep {

std::vector<double> parse_sigma_grid(const std::string& text, const std::string& option) {
  std::vector<double> sigma;
  if (text.empty()) base::reject(option, text, "empty grid");
  for (const std::string& segment : base::split(text, ',')) {
    const auto fields = base::split(segment, ':');
    if (fields.size() == 1) {
      sigma.push_back(base::parse_double(segment, option));
    } else if (fields.size() == 4 && (fields[0] == "log" || fields[0] == "lin")) {
      double a = 0, b = 0;
      long long n = 0;
      try {
        a = base::parse_double(fields[1], option);
        b = base::parse_double(fields[2], option);
        n = base::parse_integer(fields[3], option);
      } catch (const InputError&) {
        base::reject(option, segment,
                     "expected " + fields[0] + ":a:b:n with numbers a, b and a count n");
      }
      if (n < 1 || n > 1000000) base::reject(option, segment, "count must be between 1 and 10^6");
      for (long long k = 0; k < n; ++k) {
        // Same points as numpy's linspace/logspace; the last one is exactly the end point.
        const double x = (k == n - 1 && n > 1) ? b
                                               : a + (b - a) * static_cast<double>(k) /
                                                         static_cast<double>(std::max(n - 1, 1LL));
        sigma.push_back(fields[0] == "log" ? std::pow(10.0, x) : x);
      }
    } else {
      base::reject(option, segment, "expected log:a:b:n, lin:a:b:n or a number");
    }
  }
  for (double s : sigma)
    if (!(s >= 0) || !std::isfinite(s))
      base::reject(option, text, "coupling sigma must be finite and >= 0");
  return sigma;
}

std::vector<int> parse_depths(const std::string& text, const std::string& option) {
  std::vector<int> depths;
  for (const std::string& field : base::split(text, ',')) {
    const long long depth = base::parse_integer(field, option);
    if (depth < 0 || depth > 64) base::reject(option, field, "depth must be between 0 and 64");
    depths.push_back(static_cast<int>(depth));
  }
  return depths;
}

std::string name(Protocol protocol) {
  switch (protocol) {
    case Protocol::nonadiabatic:
      return "nonadiabatic";
    case Protocol::adiabatic_up:
      return "adiabatic_up";
    case Protocol::adiabatic_down:
      return "adiabatic_down";
  }
  return "?";
}

std::vector<Protocol> parse_protocols(const std::string& text, const std::string& option) {
  std::vector<Protocol> protocols;
  for (const std::string& field : base::split(text, ',')) {
    bool known = false;
    for (Protocol p : {Protocol::nonadiabatic, Protocol::adiabatic_up, Protocol::adiabatic_down})
      if (field == name(p)) {
        if (std::find(protocols.begin(), protocols.end(), p) != protocols.end())
          base::reject(option, field, "protocol listed twice");
        protocols.push_back(p);
        known = true;
      }
    if (!known)
      base::reject(option, field, "expected nonadiabatic, adiabatic_up or adiabatic_down");
  }
  return protocols;
}

std::vector<int> visiting_order(Protocol protocol, const std::vector<double>& sigma) {
  std::vector<int> order(sigma.size());
  std::iota(order.begin(), order.end(), 0);
  if (protocol == Protocol::adiabatic_up)
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return sigma[a] < sigma[b]; });
  if (protocol == Protocol::adiabatic_down)
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return sigma[a] > sigma[b]; });
  return order;
}

}  // namespace cdl::sweep
