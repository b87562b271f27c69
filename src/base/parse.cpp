#include "base/parse.hpp"

#include <charconv>
#include <cmath>

#include "base/errors.hpp"

namespace cdl::base {

void reject(const std::string& option, const std::string& text, const std::string& why) {
  throw InputError("--" + option + ": invalid value '" + text + "' (" + why + ")");
}

std::string format_double(double x) {
  char buffer[32];
  const auto end = std::to_chars(buffer, buffer + sizeof buffer, x).ptr;
  return std::string(buffer, end);
}

double parse_double(const std::string& text, const std::string& option) {
  double value = 0;
  const char* first = text.data();
  const char* last = first + text.size();
  if (first != last && *first == '+') ++first;
  const auto [end, error] = std::from_chars(first, last, value);
  if (text.empty() || error != std::errc() || end != last) reject(option, text, "not a number");
  if (!std::isfinite(value)) reject(option, text, "not finite");
  return value;
}

long long parse_integer(const std::string& text, const std::string& option) {
  long long value = 0;
  const char* first = text.data();
  const char* last = first + text.size();
  if (first != last && *first == '+') ++first;
  const auto [end, error] = std::from_chars(first, last, value);
  if (text.empty() || error != std::errc() || end != last) reject(option, text, "not an integer");
  return value;
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> fields;
  std::string::size_type start = 0;
  while (true) {
    const auto end = text.find(separator, start);
    fields.push_back(text.substr(start, end - start));
    if (end == std::string::npos) return fields;
    start = end + 1;
  }
}

}  // namespace cdl::base
