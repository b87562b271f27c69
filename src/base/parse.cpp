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
  // An explicit '+' is allowed, but not before another sign ("+-1").
  if (first != last && *first == '+' && first + 1 != last && first[1] != '-') ++first;
  const auto [end, error] = std::from_chars(first, last, value);
  if (text.empty() || error != std::errc() || end != last) reject(option, text, "not a number");
  if (!std::isfinite(value)) reject(option, text, "not finite");
  return value;
}

long long parse_integer(const std::string& text, const std::string& option) {
  long long value = 0;
  const char* first = text.data();
  const char* last = first + text.size();
  if (first != last && *first == '+' && first + 1 != last && first[1] != '-') ++first;
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

// A lead byte announces the sequence's length; continuation bytes are 10xxxxxx.
std::string valid_utf8(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char lead = byte(i);
    const std::size_t length = lead < 0x80           ? 1
                               : (lead >> 5) == 0x6  ? 2
                               : (lead >> 4) == 0xE  ? 3
                               : (lead >> 3) == 0x1E ? 4
                                                     : 0;
    bool well_formed = length > 0 && i + length <= text.size();
    for (std::size_t k = 1; well_formed && k < length; ++k) well_formed = (byte(i + k) >> 6) == 0x2;
    // Overlong forms, surrogates and code points above U+10FFFF are not UTF-8 either.
    if (well_formed && length > 1) {
      char32_t c = lead & (0x7F >> length);
      for (std::size_t k = 1; k < length; ++k) c = (c << 6) | (byte(i + k) & 0x3F);
      const char32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
      well_formed = c >= smallest[length] && c <= 0x10FFFF && !(c >= 0xD800 && c <= 0xDFFF);
    }
    if (well_formed) {
      out.append(text, i, length);
      i += length;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

}  // namespace cdl::base
