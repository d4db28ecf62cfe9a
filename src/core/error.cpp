// Error helpers: character positions and caret excerpts for syntax errors.
#include "core/error.hpp"

namespace pgseg {

namespace {

constexpr std::size_t kExcerptRadius = 40;

bool is_continuation_byte(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

}  // namespace

std::size_t character_count(std::string_view text, std::size_t byte_offset) {
  if (byte_offset > text.size()) byte_offset = text.size();
  std::size_t count = 0;
  for (std::size_t i = 0; i < byte_offset; ++i) {
    if (!is_continuation_byte(text[i])) ++count;
  }
  return count;
}

std::string caret_excerpt(std::string_view text, std::size_t byte_offset) {
  if (byte_offset > text.size()) byte_offset = text.size();
  std::size_t line_start = text.rfind('\n', byte_offset == 0 ? 0 : byte_offset - 1);
  line_start = (line_start == std::string_view::npos || byte_offset == 0) ? 0 : line_start + 1;
  if (line_start > byte_offset) line_start = byte_offset;
  std::size_t line_end = text.find('\n', byte_offset);
  if (line_end == std::string_view::npos) line_end = text.size();

  // Walk back and forward by characters to keep the excerpt short on long lines.
  std::size_t from = byte_offset;
  std::size_t chars_before = 0;
  while (from > line_start && chars_before < kExcerptRadius) {
    --from;
    while (from > line_start && is_continuation_byte(text[from])) --from;
    ++chars_before;
  }
  std::size_t to = byte_offset;
  std::size_t chars_after = 0;
  while (to < line_end && chars_after < kExcerptRadius) {
    ++to;
    while (to < line_end && is_continuation_byte(text[to])) ++to;
    ++chars_after;
  }
  std::string line;
  std::size_t caret_column = chars_before;
  if (from > line_start) {
    line += "...";
    caret_column += 3;
  }
  for (std::size_t i = from; i < to; ++i) {
    char c = text[i];
    line += (c == '\t' || c == '\r') ? ' ' : c;
  }
  if (to < line_end) line += "...";

  std::string detail = "at character " + std::to_string(character_count(text, byte_offset) + 1);
  detail += ":\n";
  detail += line;
  detail += '\n';
  detail += std::string(caret_column, ' ');
  detail += '^';
  return detail;
}

void throw_syntax_error(std::string_view text, std::size_t byte_offset, std::string message,
                        std::string hint) {
  throw Error(sqlstate::kSyntaxError, std::move(message), caret_excerpt(text, byte_offset),
              std::move(hint));
}

std::string quoted(std::string_view s) {
  std::string out = "\"";
  out += s;
  out += '"';
  return out;
}

}  // namespace pgseg
