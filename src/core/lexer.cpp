// Tokenizer of the filter language: SQL-like identifiers, strings, numbers and operators.
#include "core/lexer.hpp"

#include <array>

#include "core/error.hpp"
#include "core/number.hpp"

namespace pgseg {

namespace {

bool is_ident_start(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

bool is_ident_char(unsigned char c) {
  return is_ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

char to_lower_ascii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

constexpr std::array<std::string_view, 14> kReserved = {
    "and", "or",      "not",  "true",  "false",    "null",   "in",
    "is",  "between", "like", "ilike", "contains", "within", "older"};

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  std::vector<Token> run() {
    std::vector<Token> tokens;
    for (;;) {
      skip_space_and_comments();
      if (pos_ >= text_.size()) {
        tokens.push_back(Token{TokenKind::kEnd, {}, text_.size(), 0});
        return tokens;
      }
      tokens.push_back(next());
    }
  }

 private:
  void skip_space_and_comments() {
    while (pos_ < text_.size()) {
      if (is_space(text_[pos_])) {
        ++pos_;
      } else if (text_.compare(pos_, 2, "--") == 0) {
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
      } else if (text_.compare(pos_, 2, "/*") == 0) {
        std::size_t close = text_.find("*/", pos_ + 2);
        if (close == std::string_view::npos) {
          throw_syntax_error(text_, pos_, "unterminated /* comment in segment filter");
        }
        pos_ = close + 2;
      } else {
        return;
      }
    }
  }

  Token make(TokenKind kind, std::size_t start, std::string text = {}) {
    return Token{kind, std::move(text), start, pos_ - start};
  }

  Token next() {
    const std::size_t start = pos_;
    const char c = text_[pos_];
    const unsigned char uc = static_cast<unsigned char>(c);
    if (c == '\0') throw_syntax_error(text_, start, "segment filter contains a zero byte");
    if (is_ident_start(uc)) return identifier(start);
    if (c == '"') return quoted_identifier(start);
    if (c == '\'') return string(start);
    if (is_digit(c) || (c == '.' && pos_ + 1 < text_.size() && is_digit(text_[pos_ + 1]))) {
      return number(start);
    }
    if ((c == '-' || c == '+') && pos_ + 1 < text_.size() &&
        (is_digit(text_[pos_ + 1]) ||
         (text_[pos_ + 1] == '.' && pos_ + 2 < text_.size() && is_digit(text_[pos_ + 2])))) {
      return number(start);
    }
    ++pos_;
    switch (c) {
      case '(':
        return make(TokenKind::kLeftParen, start);
      case ')':
        return make(TokenKind::kRightParen, start);
      case ',':
        return make(TokenKind::kComma, start);
      case '.':
        return make(TokenKind::kDot, start);
      case '=':
        if (pos_ < text_.size() && text_[pos_] == '=') {
          throw_syntax_error(text_, start, "syntax error at or near \"==\" in segment filter",
                             "Use = to compare for equality.");
        }
        return make(TokenKind::kEq, start);
      case '<':
        if (pos_ < text_.size() && text_[pos_] == '=') {
          ++pos_;
          return make(TokenKind::kLe, start);
        }
        if (pos_ < text_.size() && text_[pos_] == '>') {
          ++pos_;
          return make(TokenKind::kNe, start);
        }
        return make(TokenKind::kLt, start);
      case '>':
        if (pos_ < text_.size() && text_[pos_] == '=') {
          ++pos_;
          return make(TokenKind::kGe, start);
        }
        return make(TokenKind::kGt, start);
      case '!':
        if (pos_ < text_.size() && text_[pos_] == '=') {
          ++pos_;
          return make(TokenKind::kNe, start);
        }
        break;
      default:
        break;
    }
    std::string hint;
    if (c == '&' || c == '|') hint = "Combine conditions with AND and OR.";
    if (c == ';') hint = "A segment filter is one condition, not an SQL statement.";
    if (c == '[' || c == '{') hint = "Write lists as ('a', 'b').";
    std::size_t char_len = 1;
    while (start + char_len < text_.size() &&
           (static_cast<unsigned char>(text_[start + char_len]) & 0xC0) == 0x80) {
      ++char_len;
    }
    throw_syntax_error(text_, start,
                       "unexpected character \"" + std::string(text_.substr(start, char_len)) +
                           "\" in segment filter",
                       hint);
  }

  Token identifier(std::size_t start) {
    std::string folded;
    while (pos_ < text_.size() && is_ident_char(static_cast<unsigned char>(text_[pos_]))) {
      folded += to_lower_ascii(text_[pos_]);
      ++pos_;
    }
    return make(TokenKind::kIdentifier, start, std::move(folded));
  }

  Token quoted_identifier(std::size_t start) {
    ++pos_;
    std::string value;
    for (;;) {
      if (pos_ >= text_.size()) {
        throw_syntax_error(text_, start, "unterminated quoted identifier in segment filter",
                           "Close the identifier with a double quote.");
      }
      char c = text_[pos_++];
      if (c == '"') {
        if (pos_ < text_.size() && text_[pos_] == '"') {
          value += '"';
          ++pos_;
          continue;
        }
        break;
      }
      if (c == '\0') throw_syntax_error(text_, pos_ - 1, "segment filter contains a zero byte");
      value += c;
    }
    if (value.empty()) {
      throw_syntax_error(text_, start, "zero-length quoted identifier in segment filter");
    }
    return make(TokenKind::kQuotedIdentifier, start, std::move(value));
  }

  Token string(std::size_t start) {
    ++pos_;
    std::string value;
    for (;;) {
      if (pos_ >= text_.size()) {
        throw_syntax_error(text_, start, "unterminated string in segment filter",
                           "Close the string with a single quote; write a quote inside it as ''.");
      }
      char c = text_[pos_++];
      if (c == '\'') {
        if (pos_ < text_.size() && text_[pos_] == '\'') {
          value += '\'';
          ++pos_;
          continue;
        }
        break;
      }
      if (c == '\0') throw_syntax_error(text_, pos_ - 1, "segment filter contains a zero byte");
      value += c;
    }
    return make(TokenKind::kString, start, std::move(value));
  }

  Token number(std::size_t start) {
    if (text_[pos_] == '-' || text_[pos_] == '+') ++pos_;
    while (pos_ < text_.size() && is_digit(text_[pos_])) ++pos_;
    if (pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      while (pos_ < text_.size() && is_digit(text_[pos_])) ++pos_;
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      std::size_t save = pos_;
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      if (pos_ < text_.size() && is_digit(text_[pos_])) {
        while (pos_ < text_.size() && is_digit(text_[pos_])) ++pos_;
      } else {
        pos_ = save;
      }
    }
    if (pos_ < text_.size() && is_ident_start(static_cast<unsigned char>(text_[pos_]))) {
      throw_syntax_error(text_, start,
                         "trailing junk after number \"" +
                             std::string(text_.substr(start, pos_ - start)) +
                             "\" in segment filter",
                         "Separate the number from the next word with a space.");
    }
    std::optional<std::string> canonical = canonical_number(text_.substr(start, pos_ - start));
    if (!canonical) throw_syntax_error(text_, start, "invalid number in segment filter");
    return make(TokenKind::kNumber, start, std::move(*canonical));
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace

std::vector<Token> tokenize(std::string_view text) {
  return Lexer(text).run();
}

bool is_keyword(const Token& token, std::string_view keyword) {
  return token.kind == TokenKind::kIdentifier && token.text == keyword;
}

bool is_reserved_word(std::string_view lower_case_word) {
  for (std::string_view word : kReserved) {
    if (word == lower_case_word) return true;
  }
  return false;
}

std::string describe_token(std::string_view text, const Token& token) {
  if (token.kind == TokenKind::kEnd) return "end of input";
  std::string_view source = text.substr(token.offset, token.length);
  if (source.size() > 40) return "\"" + std::string(source.substr(0, 37)) + "...\"";
  return "\"" + std::string(source) + "\"";
}

}  // namespace pgseg
