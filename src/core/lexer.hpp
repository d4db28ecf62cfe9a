// Tokens of the filter language.
#pragma once

#include "core/no_postgres.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace pgseg {

enum class TokenKind {
  kEnd,
  kIdentifier,        // unquoted, folded to lower case
  kQuotedIdentifier,  // "Like This"
  kString,            // 'text', quotes removed
  kNumber,            // canonical decimal text
  kLeftParen,
  kRightParen,
  kComma,
  kDot,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string text;
  std::size_t offset = 0;  // byte offset in the input
  std::size_t length = 0;  // bytes of source text
};

// Splits filter text into tokens. Throws a syntax Error with position on bad input.
std::vector<Token> tokenize(std::string_view text);

// True when an unquoted identifier token spells keyword (given in lower case).
bool is_keyword(const Token& token, std::string_view keyword);

// Identifiers that must be double-quoted when printed, because the parser gives them meaning.
bool is_reserved_word(std::string_view lower_case_word);

// Human-readable description of a token for messages: "ANDD", end of input, ...
std::string describe_token(std::string_view text, const Token& token);

}  // namespace pgseg
