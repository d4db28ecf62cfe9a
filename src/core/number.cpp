// Canonical decimal text and integer views of numeric literals.
#include "core/number.hpp"

#include <cctype>
#include <cstddef>
#include <limits>

#include "core/error.hpp"
#include "core/limits.hpp"

namespace pgseg {

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

[[noreturn]] void throw_too_long() {
  throw Error(sqlstate::kNumericValueOutOfRange, "number literal is out of range",
              "Numbers may have at most " + std::to_string(limits::kMaxNumberChars) + " digits.");
}

}  // namespace

std::optional<std::string> canonical_number(std::string_view raw) {
  std::size_t i = 0;
  bool negative = false;
  if (i < raw.size() && (raw[i] == '+' || raw[i] == '-')) {
    negative = raw[i] == '-';
    ++i;
  }
  std::string digits;
  long long exponent = 0;
  bool any_digit = false;
  while (i < raw.size() && is_digit(raw[i])) {
    digits += raw[i++];
    any_digit = true;
  }
  if (i < raw.size() && raw[i] == '.') {
    ++i;
    while (i < raw.size() && is_digit(raw[i])) {
      digits += raw[i++];
      --exponent;
      any_digit = true;
    }
  }
  if (!any_digit) return std::nullopt;
  if (i < raw.size() && (raw[i] == 'e' || raw[i] == 'E')) {
    ++i;
    bool exp_negative = false;
    if (i < raw.size() && (raw[i] == '+' || raw[i] == '-')) {
      exp_negative = raw[i] == '-';
      ++i;
    }
    if (i >= raw.size() || !is_digit(raw[i])) return std::nullopt;
    long long written = 0;
    while (i < raw.size() && is_digit(raw[i])) {
      // Beyond a few million the canonical form is far over the length limit anyway.
      if (written < 100000000) written = written * 10 + (raw[i] - '0');
      ++i;
    }
    exponent += exp_negative ? -written : written;
  }
  if (i != raw.size()) return std::nullopt;

  std::size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) return std::string("0");
  digits.erase(0, first);
  while (digits.back() == '0') {
    digits.pop_back();
    ++exponent;
  }
  const long long length = static_cast<long long>(digits.size());
  const long long limit = static_cast<long long>(limits::kMaxNumberChars);
  if (exponent > limit || exponent < -limit || length + exponent > limit ||
      length - exponent > limit + 2) {
    throw_too_long();
  }
  std::string out = negative ? "-" : "";
  if (exponent >= 0) {
    out += digits;
    out.append(static_cast<std::size_t>(exponent), '0');
  } else {
    long long point = length + exponent;
    if (point <= 0) {
      out += "0.";
      out.append(static_cast<std::size_t>(-point), '0');
      out += digits;
    } else {
      out += digits.substr(0, static_cast<std::size_t>(point));
      out += '.';
      out += digits.substr(static_cast<std::size_t>(point));
    }
  }
  if (out.size() > limits::kMaxNumberChars + 2) throw_too_long();
  return out;
}

std::optional<std::int64_t> parse_int64(std::string_view canonical) {
  IntegerView view = integer_view(canonical);
  if (view.kind != IntegerView::Kind::kExact) return std::nullopt;
  return view.value;
}

IntegerView integer_view(std::string_view canonical) {
  bool negative = !canonical.empty() && canonical.front() == '-';
  std::string_view body = negative ? canonical.substr(1) : canonical;
  std::size_t point = body.find('.');
  std::string_view whole = body.substr(0, point);
  bool fractional = point != std::string_view::npos;

  // Magnitude of the integral part, saturating just past the int64 range.
  constexpr unsigned long long kLimit = 9223372036854775808ULL;  // 2^63
  unsigned long long magnitude = 0;
  bool overflow = false;
  for (char c : whole) {
    unsigned d = static_cast<unsigned>(c - '0');
    if (magnitude > (kLimit - d) / 10) {
      overflow = true;
      break;
    }
    magnitude = magnitude * 10 + d;
  }
  IntegerView view;
  if (negative) {
    // floor(-m.f) = -(m + 1) when there is a fraction.
    unsigned long long floor_magnitude = magnitude + (fractional ? 1 : 0);
    if (overflow || floor_magnitude > kLimit) {
      view.kind = IntegerView::Kind::kBelowRange;
      return view;
    }
    view.value = floor_magnitude == kLimit ? std::numeric_limits<std::int64_t>::min()
                                           : -static_cast<std::int64_t>(floor_magnitude);
  } else {
    if (overflow || magnitude >= kLimit) {
      view.kind = IntegerView::Kind::kAboveRange;
      return view;
    }
    view.value = static_cast<std::int64_t>(magnitude);
  }
  view.kind = fractional ? IntegerView::Kind::kNonIntegral : IntegerView::Kind::kExact;
  return view;
}

}  // namespace pgseg
