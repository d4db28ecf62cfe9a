// The binary send/recv format of segment_filter: a format version byte, then canonical text.
#pragma once

#include "core/no_postgres.hpp"

#include <cstdint>
#include <string>
#include <string_view>

#include "core/ast.hpp"

namespace pgseg {

inline constexpr std::uint8_t kBinaryFormatVersion = 1;

std::string encode_binary(const Node& root);

// Reads the binary format with exactly the checks of the text input. Throws Error (22P03 for
// an unknown version or empty message; text errors as parse_filter).
NodePtr decode_binary(std::string_view bytes);

}  // namespace pgseg
