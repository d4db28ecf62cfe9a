// Shared checks for the fuzz targets: every accepted filter must print, re-read, convert to
// the JSON and binary forms and back unchanged, and bind, compile and evaluate against a mock
// object without any exception other than pgseg::Error.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

#include "../unit/mock_schema.hpp"
#include "core/ast.hpp"
#include "core/binary.hpp"
#include "core/binder.hpp"
#include "core/error.hpp"
#include "core/eval.hpp"
#include "core/json_form.hpp"
#include "core/parser.hpp"
#include "core/printer.hpp"
#include "core/sql_compiler.hpp"

namespace pgseg::fuzz {

[[noreturn]] inline void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "invariant broken: %s\n%s\n", what, detail.c_str());
  std::abort();
}

// Round trips and the binder/compiler/evaluator path for an accepted filter.
inline void check_accepted(const Node& ast) {
  const std::string text = print_filter(ast);
  NodePtr reparsed;
  try {
    reparsed = parse_filter(text);
  } catch (const Error& e) {
    fail("canonical text does not parse", text + "\n" + e.what());
  }
  if (!equal(ast, *reparsed)) fail("reparse differs", text);
  if (print_filter(*reparsed) != text) fail("printing is not stable", text);

  try {
    NodePtr from_json = filter_from_json_text(filter_to_json_text(ast));
    if (!equal(ast, *from_json)) fail("JSON round trip differs", text);
  } catch (const Error& e) {
    fail("JSON form of an accepted filter is refused", text + "\n" + e.what());
  }
  try {
    NodePtr from_binary = decode_binary(encode_binary(ast));
    if (!equal(ast, *from_binary)) fail("binary round trip differs", text);
  } catch (const Error& e) {
    fail("binary form of an accepted filter is refused", text + "\n" + e.what());
  }

  testing::MockSchema schema;
  BoundFilter bound;
  try {
    bound = bind_filter(ast, schema);
  } catch (const Error&) {
    return;  // not valid for this object: a clean refusal
  }
  (void)compile_sql(ast, bound, testing::QuoteAlways());
  testing::MockHost host;
  std::unique_ptr<Program> program;
  try {
    program = compile_program(ast, bound, schema, host);
  } catch (const Error&) {
    return;
  }
  testing::Row row;
  row.values["tier"] = std::string("gold");
  row.values["id"] = std::int64_t{7};
  row.values["tags"] = std::vector<std::string>{"vip"};
  row.json["plan"] = std::string("pro");
  testing::RowFiller filler(*program, schema, 9000LL * 86400000000LL);
  (void)filler.eval(row);
  (void)filler.eval(testing::Row());
}

}  // namespace pgseg::fuzz
