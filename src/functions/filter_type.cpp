// Type I/O of segments.segment_filter and its JSON form.
#include <string>

#include "core/binary.hpp"
#include "core/json_form.hpp"
#include "core/parser.hpp"
#include "core/printer.hpp"
#include "pg/boundary.hpp"
#include "pg/filter_datum.hpp"

using pgseg::pg::filter_text;
using pgseg::pg::make_filter_datum;
using pgseg::pg::pg_guard;

namespace {

void check_stack() {
  pg_guard([] { check_stack_depth(); });
}

const struct varlena* filter_arg(FunctionCallInfo fcinfo, int n) {
  return pg_guard([&] { return PG_GETARG_VARLENA_PP(n); });
}

}  // namespace

// segment_filter_in(cstring): parses and stores the canonical text.
PGSEG_FUNCTION(pgseg_filter_in) {
  check_stack();
  const char* input_text = PG_GETARG_CSTRING(0);
  return make_filter_datum(pgseg::print_filter(*pgseg::parse_filter(input_text)));
}

// segment_filter_out(segment_filter): the canonical text.
PGSEG_FUNCTION(pgseg_filter_out) {
  std::string_view canonical = filter_text(filter_arg(fcinfo, 0));
  return pg_guard([&] { return CStringGetDatum(pnstrdup(canonical.data(), canonical.size())); });
}

// segment_filter_recv(internal): format version byte, then text, checked like text input.
PGSEG_FUNCTION(pgseg_filter_recv) {
  check_stack();
  StringInfo buffer = reinterpret_cast<StringInfo>(PG_GETARG_POINTER(0));
  struct Message {
    int version;
    char* body;
    int length;
  };
  Message message = pg_guard([&] {
    Message m{-1, nullptr, 0};
    if (buffer->cursor < buffer->len) {
      m.version = pq_getmsgbyte(buffer);
      m.body = pq_getmsgtext(buffer, buffer->len - buffer->cursor, &m.length);
    }
    return m;
  });
  std::string bytes;
  if (message.version >= 0) {
    bytes.push_back(static_cast<char>(message.version));
    bytes.append(message.body, static_cast<std::size_t>(message.length));
  }
  return make_filter_datum(pgseg::print_filter(*pgseg::decode_binary(bytes)));
}

// segment_filter_send(segment_filter): format version byte, then the canonical text.
PGSEG_FUNCTION(pgseg_filter_send) {
  std::string_view canonical = filter_text(filter_arg(fcinfo, 0));
  return pg_guard([&] {
    StringInfoData buffer;
    pq_begintypsend(&buffer);
    pq_sendbyte(&buffer, pgseg::kBinaryFormatVersion);
    pq_sendtext(&buffer, canonical.data(), static_cast<int>(canonical.size()));
    return PointerGetDatum(pq_endtypsend(&buffer));
  });
}

// segment_filter_eq: equal canonical text.
PGSEG_FUNCTION(pgseg_filter_eq) {
  return BoolGetDatum(filter_text(filter_arg(fcinfo, 0)) == filter_text(filter_arg(fcinfo, 1)));
}

// segment_filter_ne: different canonical text.
PGSEG_FUNCTION(pgseg_filter_ne) {
  return BoolGetDatum(filter_text(filter_arg(fcinfo, 0)) != filter_text(filter_arg(fcinfo, 1)));
}

// segment_filter_from_jsonb(jsonb): the filter described by the JSON form.
PGSEG_FUNCTION(pgseg_filter_from_jsonb) {
  check_stack();
  const char* json = pg_guard([&] {
    Jsonb* document = PG_GETARG_JSONB_P(0);
    return JsonbToCString(nullptr, &document->root, VARSIZE(document));
  });
  return make_filter_datum(pgseg::print_filter(*pgseg::filter_from_json_text(json)));
}

// segment_filter_to_jsonb(segment_filter): the JSON form.
PGSEG_FUNCTION(pgseg_filter_to_jsonb) {
  check_stack();
  std::string json =
      pgseg::filter_to_json_text(*pgseg::parse_filter(filter_text(filter_arg(fcinfo, 0))));
  return pg_guard([&] { return DirectFunctionCall1(jsonb_in, CStringGetDatum(json.c_str())); });
}
