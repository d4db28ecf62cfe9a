-- pg_segments 1.0: customer segments kept true inside PostgreSQL.
\echo Use "CREATE EXTENSION pg_segments" to load this file. \quit

CREATE SCHEMA segments;
COMMENT ON SCHEMA segments IS 'pg_segments: segment definitions, membership and functions';

-------------------------------------------------------------------------------
-- The filter type
-------------------------------------------------------------------------------

CREATE TYPE segments.segment_filter;

CREATE FUNCTION segments.segment_filter_in(cstring) RETURNS segments.segment_filter
  AS 'MODULE_PATHNAME', 'pgseg_filter_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION segments.segment_filter_out(segments.segment_filter) RETURNS cstring
  AS 'MODULE_PATHNAME', 'pgseg_filter_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION segments.segment_filter_recv(internal) RETURNS segments.segment_filter
  AS 'MODULE_PATHNAME', 'pgseg_filter_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION segments.segment_filter_send(segments.segment_filter) RETURNS bytea
  AS 'MODULE_PATHNAME', 'pgseg_filter_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE segments.segment_filter (
  INPUT = segments.segment_filter_in,
  OUTPUT = segments.segment_filter_out,
  RECEIVE = segments.segment_filter_recv,
  SEND = segments.segment_filter_send,
  INTERNALLENGTH = VARIABLE,
  STORAGE = extended
);
COMMENT ON TYPE segments.segment_filter IS
  'A saved condition over one row of an object, in the pg_segments filter language';

CREATE FUNCTION segments.segment_filter_eq(segments.segment_filter, segments.segment_filter)
  RETURNS boolean AS 'MODULE_PATHNAME', 'pgseg_filter_eq'
  LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION segments.segment_filter_ne(segments.segment_filter, segments.segment_filter)
  RETURNS boolean AS 'MODULE_PATHNAME', 'pgseg_filter_ne'
  LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OPERATOR segments.= (
  LEFTARG = segments.segment_filter, RIGHTARG = segments.segment_filter,
  PROCEDURE = segments.segment_filter_eq, COMMUTATOR = OPERATOR(segments.=),
  NEGATOR = OPERATOR(segments.<>)
);
CREATE OPERATOR segments.<> (
  LEFTARG = segments.segment_filter, RIGHTARG = segments.segment_filter,
  PROCEDURE = segments.segment_filter_ne, COMMUTATOR = OPERATOR(segments.<>),
  NEGATOR = OPERATOR(segments.=)
);

CREATE CAST (text AS segments.segment_filter) WITH INOUT AS ASSIGNMENT;
CREATE CAST (segments.segment_filter AS text) WITH INOUT AS ASSIGNMENT;

CREATE FUNCTION segments.segment_filter_from_jsonb(jsonb) RETURNS segments.segment_filter
  AS 'MODULE_PATHNAME', 'pgseg_filter_from_jsonb' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION segments.segment_filter_from_jsonb(jsonb) IS
  'The filter described by the JSON form (groups of conditions)';
CREATE FUNCTION segments.segment_filter_to_jsonb(segments.segment_filter) RETURNS jsonb
  AS 'MODULE_PATHNAME', 'pgseg_filter_to_jsonb' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION segments.segment_filter_to_jsonb(segments.segment_filter) IS
  'The JSON form of a filter (groups of conditions), for form-builder UIs';

-------------------------------------------------------------------------------
-- Typed reads of jsonb keys: compiled filters call these; they never raise on data.
-------------------------------------------------------------------------------

CREATE FUNCTION segments.jsonb_text(doc jsonb, VARIADIC keys text[]) RETURNS text
  AS 'MODULE_PATHNAME', 'pgseg_jsonb_text' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION segments.jsonb_number(doc jsonb, VARIADIC keys text[]) RETURNS numeric
  AS 'MODULE_PATHNAME', 'pgseg_jsonb_number' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION segments.jsonb_bool(doc jsonb, VARIADIC keys text[]) RETURNS boolean
  AS 'MODULE_PATHNAME', 'pgseg_jsonb_bool' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION segments.jsonb_timestamptz(doc jsonb, VARIADIC keys text[]) RETURNS timestamptz
  AS 'MODULE_PATHNAME', 'pgseg_jsonb_timestamptz' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION segments.jsonb_array(doc jsonb, VARIADIC keys text[]) RETURNS jsonb
  AS 'MODULE_PATHNAME', 'pgseg_jsonb_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION segments.jsonb_value(doc jsonb, VARIADIC keys text[]) RETURNS jsonb
  AS 'MODULE_PATHNAME', 'pgseg_jsonb_value' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-------------------------------------------------------------------------------
-- Filters against objects
-------------------------------------------------------------------------------

CREATE FUNCTION segments.to_sql(filter segments.segment_filter, object regclass) RETURNS text
  AS 'MODULE_PATHNAME', 'pgseg_to_sql' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION segments.to_sql(segments.segment_filter, regclass) IS
  'The SQL WHERE clause a filter compiles to over an object';

CREATE FUNCTION segments.matches(filter segments.segment_filter, "row" anyelement) RETURNS boolean
  AS 'MODULE_PATHNAME', 'pgseg_matches' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION segments.matches(segments.segment_filter, anyelement) IS
  'Evaluates a filter on one row of its object: true, false or NULL (unknown)';

CREATE FUNCTION segments.estimate(filter segments.segment_filter, object regclass,
                                  OUT count bigint, OUT by_condition jsonb)
  AS 'MODULE_PATHNAME', 'pgseg_estimate' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION segments.estimate(segments.segment_filter, regclass) IS
  'Rows of the object matching the filter now, and matching each top-level condition';
