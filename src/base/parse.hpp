// Strict parsing of option values; every failure is a cdl::InputError naming the option.
#pragma once

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace cdl::base {

// A finite double; rejects trailing garbage, "nan" and "inf".
double parse_double(const std::string& text, const std::string& option);
// A whole number in range of long long; rejects trailing garbage.
long long parse_integer(const std::string& text, const std::string& option);
// The shortest text that reads back as the same double.
std::string format_double(double x);
// Splits on `separator`, keeping empty fields (so that "1,,2" can be rejected).
std::vector<std::string> split(const std::string& text, char separator);
// `text` with every byte that is not part of well-formed UTF-8 replaced by U+FFFD: text read
// from a damaged or edited file is shown, never passed on as invalid text (or invalid JSON).
std::string valid_utf8(const std::string& text);
// "--option: invalid value 'text' (why)" — the one-line message of bad input.
[[noreturn]] void reject(const std::string& option, const std::string& text,
                         const std::string& why);

// One of a fixed set of names: the choice called `text`; otherwise rejected, naming `option`
// and every name ("expected a, b or c").
template <class Choice>
Choice parse_choice(const std::string& text, const std::string& option,
                    std::initializer_list<std::pair<const char*, Choice>> choices) {
  std::string expected;
  std::size_t index = 0;
  for (const auto& [name, choice] : choices) {
    if (text == name) return choice;
    if (index > 0) expected += index + 1 == choices.size() ? " or " : ", ";
    expected += name;
    ++index;
  }
  reject(option, text, "expected " + expected);
}

}  // namespace cdl::base
