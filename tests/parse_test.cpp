// Strict parsing of option values: exact numbers, every bad text rejected with the one-line
// "--option: invalid value 'text' (why)" message, shortest round-tripping formatting, splitting
// that keeps empty fields, and UTF-8 repair.
#include "base/parse.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "base/errors.hpp"
#include "test_support.hpp"

using namespace cdl::base;

namespace {

template <class Call>
std::string rejection_of(Call call) {
  return cdl::test::message_of<cdl::InputError>(call);
}

// What the documented one-line message reads for `option`, `text` and `why`.
std::string expected_message(const std::string& option, const std::string& text,
                             const std::string& why) {
  return "--" + option + ": invalid value '" + text + "' (" + why + ")";
}

// The number of significant digits of a decimal text: the mantissa's digits without leading
// and trailing zeros (the latter are not significant in "1e+20" or "123456789012345680").
int significant_digits(const std::string& text) {
  std::string digits;
  for (const char c : text) {
    if (c == 'e' || c == 'E') break;
    if (c >= '0' && c <= '9') digits += c;
  }
  const auto first = digits.find_first_not_of('0');
  if (first == std::string::npos) return 1;  // zero
  const auto last = digits.find_last_not_of('0');
  return static_cast<int>(last - first + 1);
}

// The fewest significant digits with which `x` reads back exactly (printf's %.*e + strtod).
int fewest_round_trip_digits(double x) {
  for (int precision = 1; precision < 17; ++precision) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.*e", precision - 1, x);
    if (std::strtod(buffer, nullptr) == x) return precision;
  }
  return 17;
}

// The length of the shortest printf text (%e or %f of any precision) that reads back as `x`.
std::size_t shortest_printf_length(double x) {
  std::size_t shortest = std::string::npos;
  for (const char* format : {"%.*e", "%.*f"}) {
    for (int precision = 0; precision <= 40; ++precision) {
      char buffer[400];
      const int length = std::snprintf(buffer, sizeof buffer, format, precision, x);
      if (length > 0 && static_cast<std::size_t>(length) < sizeof buffer &&
          std::strtod(buffer, nullptr) == x) {
        shortest = std::min(shortest, static_cast<std::size_t>(length));
        break;  // more precision only makes it longer
      }
    }
  }
  return shortest;
}

// format_double's text of `x` is no longer than any printf text that reads back, and unless
// it writes a large whole number out (where the digits before the point are fixed and the
// closest are chosen), it has no more significant digits than needed.
void check_shortest(double x) {
  const std::string text = format_double(x);
  INFO("x = " << x << " formatted '" << text << "'");
  CHECK(text.size() <= shortest_printf_length(x));
  const bool whole_number_written_out =
      text.find_first_of(".e") == std::string::npos && std::abs(x) >= 1;
  if (whole_number_written_out)
    CHECK(significant_digits(text) >= fewest_round_trip_digits(x));
  else
    CHECK(significant_digits(text) == fewest_round_trip_digits(x));
}

bool same_bits(double a, double b) { return a == b && std::signbit(a) == std::signbit(b); }

}  // namespace

TEST_CASE("parse_double reads valid numbers exactly", "[parse]") {
  CHECK(parse_double("1.5", "gamma") == 1.5);
  CHECK(parse_double("-2", "gamma") == -2.0);
  CHECK(parse_double("+2", "gamma") == 2.0);
  CHECK(parse_double("0.1", "gamma") == 0.1);
  CHECK(parse_double("1e3", "gamma") == 1000.0);
  CHECK(parse_double("1E-3", "gamma") == 0.001);
  CHECK(parse_double(".5", "gamma") == 0.5);
  CHECK(parse_double("5.", "gamma") == 5.0);
  CHECK(parse_double("0", "gamma") == 0.0);
  CHECK(same_bits(parse_double("-0", "gamma"), -0.0));
  // The correctly rounded double, not an approximation of it.
  CHECK(parse_double("0.30000000000000004", "gamma") == 0.1 + 0.2);
  CHECK(parse_double("1.7976931348623157e308", "gamma") == std::numeric_limits<double>::max());
  CHECK(parse_double("2.2250738585072014e-308", "gamma") == std::numeric_limits<double>::min());
  CHECK(parse_double("4.9406564584124654e-324", "gamma") ==
        std::numeric_limits<double>::denorm_min());
}

TEST_CASE("parse_double rejects text that is not one finite number", "[parse]") {
  SECTION("not a number") {
    for (const std::string text : {"", "abc", "1.5x", "1.5 ", " 1.5", "1,5", "0x10", "1e", "-", "+",
                                   "++1", "-+1", "+-1", "+-", "1.5.2", "1e400", "-1e400"}) {
      INFO("text: '" << text << "'");
      CHECK(rejection_of([&] { parse_double(text, "gamma"); }) ==
            expected_message("gamma", text, "not a number"));
    }
  }
  SECTION("not finite") {
    for (const std::string text : {"nan", "NaN", "-nan", "inf", "-inf", "+inf", "infinity"}) {
      INFO("text: '" << text << "'");
      CHECK(rejection_of([&] { parse_double(text, "sigma"); }) ==
            expected_message("sigma", text, "not finite"));
    }
  }
  SECTION("the message is one line naming the option and the value") {
    const std::string message = rejection_of([] { parse_double("12abc", "t-end"); });
    CHECK(message.rfind("--t-end: ", 0) == 0);
    CHECK(message.find("'12abc'") != std::string::npos);
    CHECK(message.find('\n') == std::string::npos);
  }
}

TEST_CASE("parse_integer reads whole numbers in range of long long", "[parse]") {
  CHECK(parse_integer("0", "runs") == 0);
  CHECK(parse_integer("42", "runs") == 42);
  CHECK(parse_integer("+42", "runs") == 42);
  CHECK(parse_integer("-7", "runs") == -7);
  CHECK(parse_integer("007", "runs") == 7);
  CHECK(parse_integer("9223372036854775807", "runs") == std::numeric_limits<long long>::max());
  CHECK(parse_integer("-9223372036854775808", "runs") == std::numeric_limits<long long>::min());
}

TEST_CASE("parse_integer rejects fractions and trailing garbage and overflow", "[parse]") {
  for (const std::string text :
       {"", "1.0", "1e3", "12x", "12 ", " 12", "0x1F", "-", "+", "++1", "-+1", "+-5", "nan", "inf",
        "9223372036854775808", "-9223372036854775809", "99999999999999999999"}) {
    INFO("text: '" << text << "'");
    CHECK(rejection_of([&] { parse_integer(text, "seed"); }) ==
          expected_message("seed", text, "not an integer"));
  }
}

TEST_CASE("reject throws an InputError with the one-line message", "[parse]") {
  CHECK_THROWS_AS(reject("depths", "1,,2", "empty field"), cdl::InputError);
  CHECK(rejection_of([] { reject("depths", "1,,2", "empty field"); }) ==
        "--depths: invalid value '1,,2' (empty field)");
  CHECK(rejection_of([] { reject("output", "", "empty path"); }) ==
        "--output: invalid value '' (empty path)");
}

TEST_CASE("parse_choice returns the named choice and lists every name otherwise", "[parse]") {
  enum class Fruit { apple, pear, plum };
  const auto fruit = [](const std::string& text) {
    return parse_choice<Fruit>(
        text, "fruit", {{"apple", Fruit::apple}, {"pear", Fruit::pear}, {"plum", Fruit::plum}});
  };
  CHECK(fruit("apple") == Fruit::apple);
  CHECK(fruit("plum") == Fruit::plum);
  CHECK(rejection_of([&] { fruit("Apple"); }) ==
        "--fruit: invalid value 'Apple' (expected apple, pear or plum)");
  CHECK(rejection_of([] { parse_choice<int>("x", "two", {{"a", 1}, {"b", 2}}); }) ==
        "--two: invalid value 'x' (expected a or b)");
  CHECK(rejection_of([] { parse_choice<int>("", "one", {{"a", 1}}); }) ==
        "--one: invalid value '' (expected a)");
}

TEST_CASE("format_double round-trips awkward values exactly", "[parse]") {
  const double values[] = {0.1,
                           1.0 / 3,
                           2.0 / 3,
                           1e-300,
                           -2.5e17,
                           0.1 + 0.2,
                           1e20,
                           1e21,
                           1e22,
                           123456789012345678.0,
                           1e-7,
                           0.0,
                           -0.0,
                           1.0,
                           -1.0,
                           std::nextafter(1.0, 2.0),
                           std::numeric_limits<double>::max(),
                           std::numeric_limits<double>::lowest(),
                           std::numeric_limits<double>::min(),
                           std::numeric_limits<double>::denorm_min(),
                           -std::numeric_limits<double>::denorm_min(),
                           std::numeric_limits<double>::min() / 3,
                           3 * std::numeric_limits<double>::denorm_min(),
                           std::nextafter(std::numeric_limits<double>::min(), 0.0)};
  for (const double x : values) {
    const std::string text = format_double(x);
    INFO("x = " << x << " formatted '" << text << "'");
    CHECK(same_bits(parse_double(text, "x"), x));
    CHECK(std::strtod(text.c_str(), nullptr) == x);
  }
}

TEST_CASE("format_double round-trips random doubles of every magnitude", "[parse]") {
  std::mt19937_64 random(20240611);
  int checked = 0;
  for (int i = 0; i < 20000; ++i) {
    // Random bit patterns cover every exponent, denormals included.
    const std::uint64_t bits = random();
    double x;
    static_assert(sizeof x == sizeof bits);
    std::memcpy(&x, &bits, sizeof x);
    if (!std::isfinite(x)) continue;
    ++checked;
    const std::string text = format_double(x);
    if (!same_bits(parse_double(text, "x"), x)) FAIL("'" << text << "' does not read back");
  }
  CHECK(checked > 19000);
}

TEST_CASE("format_double gives the shortest text", "[parse]") {
  CHECK(format_double(0.1) == "0.1");
  CHECK(format_double(0.5) == "0.5");
  CHECK(format_double(2.0) == "2");
  CHECK(format_double(-2.5) == "-2.5");
  CHECK(format_double(0.0) == "0");
  CHECK(format_double(-0.0) == "-0");
  const double values[] = {1.0 / 3,
                           0.1 + 0.2,
                           1e-300,
                           -2.5e17,
                           1e22,
                           6.02214076e23,
                           123456789012345678.0,
                           6938999579412966400.0,
                           0.000123456,
                           std::numeric_limits<double>::max(),
                           std::numeric_limits<double>::denorm_min(),
                           std::numeric_limits<double>::min() / 3};
  for (const double x : values) check_shortest(x);
  std::mt19937_64 random(7);
  std::uniform_real_distribution<double> exponent(-300, 300), mantissa(1, 10);
  for (int i = 0; i < 2000; ++i)
    check_shortest(mantissa(random) * std::pow(10.0, std::floor(exponent(random))));
}

TEST_CASE("split keeps empty fields", "[parse]") {
  using Fields = std::vector<std::string>;
  CHECK(split("1,2,3", ',') == Fields{"1", "2", "3"});
  CHECK(split("1,,2", ',') == Fields{"1", "", "2"});
  CHECK(split("", ',') == Fields{""});
  CHECK(split(",", ',') == Fields{"", ""});
  CHECK(split(",1,", ',') == Fields{"", "1", ""});
  CHECK(split("1", ',') == Fields{"1"});
  CHECK(split("log:-2:3:30", ':') == Fields{"log", "-2", "3", "30"});
  // Only the given separator splits.
  CHECK(split("a:b,c", ',') == Fields{"a:b", "c"});
  CHECK(split(" a , b ", ',') == Fields{" a ", " b "});
}

TEST_CASE("split then join gives back the text", "[parse]") {
  for (const std::string text : {"", ",", ",,", "a", "a,b", ",a,,b,", "normal:0:2,uniform:1:2"}) {
    const auto fields = split(text, ',');
    std::string joined;
    for (std::size_t i = 0; i < fields.size(); ++i) joined += (i ? "," : "") + fields[i];
    CHECK(joined == text);
    std::size_t separators = 0;
    for (const char c : text) separators += c == ',';
    CHECK(fields.size() == separators + 1);
  }
}

TEST_CASE("valid_utf8 keeps well-formed text and replaces every bad byte", "[parse]") {
  const std::string replacement = "\xEF\xBF\xBD";
  for (const std::string text : {"", "plain ascii", "sigma \xCF\x83", "\xE2\x82\xAC 5",
                                 "\xF0\x9F\x98\x80", "\xF4\x8F\xBF\xBF", "\xEF\xBF\xBD"}) {
    CHECK(valid_utf8(text) == text);
  }
  CHECK(valid_utf8("a\x80z") == "a" + replacement + "z");      // lone continuation
  CHECK(valid_utf8("\xFF") == replacement);                    // never a lead byte
  CHECK(valid_utf8("\xC0\xAF") == replacement + replacement);  // overlong '/'
  CHECK(valid_utf8("\xE0\x80\xAF") == replacement + replacement + replacement);  // overlong
  CHECK(valid_utf8("\xED\xA0\x80") == replacement + replacement + replacement);  // surrogate
  CHECK(valid_utf8("\xF4\x90\x80\x80") == replacement + replacement + replacement + replacement);
  CHECK(valid_utf8("x\xE2\x82") == "x" + replacement + replacement);  // truncated at the end
  CHECK(valid_utf8("\xE2\x82x") == replacement + replacement + "x");  // interrupted
}

TEST_CASE("valid_utf8 of any bytes is well-formed and kept as it is", "[parse]") {
  std::mt19937 random(3);
  std::uniform_int_distribution<int> byte(0, 255), length(0, 40);
  for (int i = 0; i < 2000; ++i) {
    std::string text(static_cast<std::size_t>(length(random)), '\0');
    for (char& c : text) c = static_cast<char>(byte(random));
    const std::string once = valid_utf8(text);
    CHECK(valid_utf8(once) == once);
  }
}
