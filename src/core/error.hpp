// Errors raised by the core, carrying a PostgreSQL SQLSTATE without depending on PostgreSQL.
#pragma once

#include "core/no_postgres.hpp"

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace pgseg {

// Five-character SQLSTATE codes used by the core (same values as PostgreSQL's errcodes.h).
namespace sqlstate {
inline constexpr const char* kSyntaxError = "42601";
inline constexpr const char* kUndefinedColumn = "42703";
inline constexpr const char* kDatatypeMismatch = "42804";
inline constexpr const char* kUndefinedFunction = "42883";
inline constexpr const char* kUndefinedObject = "42704";
inline constexpr const char* kAmbiguousColumn = "42702";
inline constexpr const char* kInvalidRecursion = "42P19";
inline constexpr const char* kFeatureNotSupported = "0A000";
inline constexpr const char* kInvalidParameterValue = "22023";
inline constexpr const char* kNumericValueOutOfRange = "22003";
inline constexpr const char* kDatetimeFieldOverflow = "22008";
inline constexpr const char* kInvalidTextRepresentation = "22P02";
inline constexpr const char* kInvalidBinaryRepresentation = "22P03";
inline constexpr const char* kInvalidJsonText = "22032";
inline constexpr const char* kStatementTooComplex = "54001";
inline constexpr const char* kProgramLimitExceeded = "54000";
inline constexpr const char* kInternalError = "XX000";
inline constexpr const char* kQueryCanceled = "57014";
}  // namespace sqlstate

// An error with the parts of a PostgreSQL error report.
class Error : public std::runtime_error {
 public:
  Error(const char* code, std::string message, std::string detail = {}, std::string hint = {})
      : std::runtime_error(std::move(message)), detail_(std::move(detail)), hint_(std::move(hint)) {
    bool ended = code == nullptr;
    for (int i = 0; i < 5; ++i) {
      ended = ended || code[i] == '\0';
      code_[i] = ended ? '0' : code[i];
    }
    code_[5] = '\0';
  }

  const char* sqlstate() const noexcept { return code_; }
  const std::string& detail() const noexcept { return detail_; }
  const std::string& hint() const noexcept { return hint_; }

 private:
  char code_[6];
  std::string detail_;
  std::string hint_;
};

// Number of characters (not bytes) in the first byte_offset bytes of UTF-8 text.
std::size_t character_count(std::string_view text, std::size_t byte_offset);

// DETAIL text for a syntax error: the 1-based character position, the line holding it and a
// caret under the offending character, shortened around the position for long lines.
std::string caret_excerpt(std::string_view text, std::size_t byte_offset);

// A syntax error (42601) at byte_offset of text, with position and caret excerpt in DETAIL.
[[noreturn]] void throw_syntax_error(std::string_view text, std::size_t byte_offset,
                                     std::string message, std::string hint = {});

// Double-quotes s for use in a message ("name").
std::string quoted(std::string_view s);

}  // namespace pgseg
