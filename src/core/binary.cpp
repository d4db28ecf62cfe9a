// Binary format: version byte plus canonical text, parsed by the text parser.
#include "core/binary.hpp"

#include "core/error.hpp"
#include "core/parser.hpp"
#include "core/printer.hpp"

namespace pgseg {

std::string encode_binary(const Node& root) {
  std::string out(1, static_cast<char>(kBinaryFormatVersion));
  out += print_filter(root);
  return out;
}

NodePtr decode_binary(std::string_view bytes) {
  if (bytes.empty()) {
    throw Error(sqlstate::kInvalidBinaryRepresentation, "invalid binary segment filter",
                "The message is empty.");
  }
  auto version = static_cast<std::uint8_t>(bytes.front());
  if (version != kBinaryFormatVersion) {
    throw Error(sqlstate::kInvalidBinaryRepresentation, "invalid binary segment filter",
                "Unsupported format version " + std::to_string(version) +
                    "; this version of "
                    "pg_segments reads version " +
                    std::to_string(kBinaryFormatVersion) + ".");
  }
  return parse_filter(bytes.substr(1));
}

}  // namespace pgseg
