// libFuzzer target: the binary receive format of segment_filter.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  pgseg::NodePtr ast;
  try {
    ast = pgseg::decode_binary(input);
  } catch (const pgseg::Error&) {
    return 0;
  }
  pgseg::fuzz::check_accepted(*ast);
  return 0;
}
