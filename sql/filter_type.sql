-- segments.segment_filter: canonical text, syntax errors, JSON form, binary form.
CREATE EXTENSION pg_segments;

-- Canonical output: keywords upper case, minimal parentheses, normalised spellings.
SELECT f::segments.segment_filter AS canonical FROM (VALUES
  ('tier = ''gold'' and country = ''OM'''),
  ('tags contains ''vip'' AND language = ''ar'''),
  ('last_interaction_at older than 30 days'),
  ('created_at within last 7 days'),
  ('attrs.interest = ''enterprise'' AND tags CONTAINS ''lead'' -- attrs is jsonb'),
  ('(lifetime_value > 500 OR tier IN (''gold'', ''platinum'')) AND NOT opted_out'),
  ('platform IN (''whatsapp'',''instagram'') AND opted_out = false'),
  ('email ILIKE ''%@example.com'' AND country IS NOT NULL'),
  ('NOT (a = 1)'),
  ('NOT x IN (1, 2)'),
  ('((a = 1 AND b = 2) AND c = 3) OR (d = 4 OR e = 5)'),
  ('n = 007.50e1 OR n != -0.0'),
  ('"Mixed Case" = ''x'' AND "not" = ''y'''),
  ('d WITHIN NEXT 1 week OR d OLDER THAN 2 months'),
  ('tags NOT CONTAINS ANY (''a'', ''b'') AND tags CONTAINS ALL (''c'')'),
  ('TRUE'),
  ('NOT TRUE')
) AS t(f);

-- parse -> print -> parse is stable, and equal filters compare equal.
SELECT f::segments.segment_filter::text::segments.segment_filter OPERATOR(segments.=) f::segments.segment_filter AS stable
FROM (VALUES ('a = 1 and (b = 2 or c like ''x%'')'), ('NOT NOT x')) AS t(f);
SELECT 'a=1 AND b=2'::segments.segment_filter OPERATOR(segments.=) 'a = 1 and b = 2'::segments.segment_filter AS equal,
       'a = 1'::segments.segment_filter OPERATOR(segments.<>) 'a = 2'::segments.segment_filter AS different;

-- Syntax errors: 42601 with the character position and a caret in DETAIL.
SELECT 'tier = ''gold'' ANDD country = ''OM'''::segments.segment_filter;
\echo :LAST_ERROR_SQLSTATE
SELECT 'tier = '::segments.segment_filter;
SELECT 'tier = ''gold'::segments.segment_filter;
SELECT 'tier == ''gold'''::segments.segment_filter;
SELECT 'tier = "gold"'::segments.segment_filter;
SELECT 'email = NULL'::segments.segment_filter;
SELECT '(a = 1'::segments.segment_filter;
SELECT 'a = 1; DROP TABLE customers'::segments.segment_filter;
SELECT 'created_at WITHIN LAST 7 YEARS'::segments.segment_filter;
SELECT 'created_at WITHIN LAST 0 DAYS'::segments.segment_filter;
\echo :LAST_ERROR_SQLSTATE
SELECT 'name LIKE ''abc\'''::segments.segment_filter;
SELECT ''::segments.segment_filter;
SELECT 'not = 1'::segments.segment_filter;
SELECT 'name = ''ü'' ANDD x'::segments.segment_filter;

-- Limits: deep nesting and huge input are refused, never a crash.
SELECT (repeat('(', 10000) || 'a = 1' || repeat(')', 10000))::segments.segment_filter;
\echo :LAST_ERROR_SQLSTATE
SELECT (repeat('NOT ', 10000) || 'a')::segments.segment_filter;
SELECT ('a IN (' || string_agg(quote_literal(repeat('x', 20) || i), ',') || ')')::segments.segment_filter
FROM generate_series(1, 60000) AS i;
\echo :LAST_ERROR_SQLSTATE
SELECT length(('a IN (' || string_agg(i::text, ',') || ')')::segments.segment_filter::text) AS in_list_of_100000
FROM generate_series(1, 100000) AS i;
-- A 10 MB filter, a 10 MB JSON form and JSON nested 10,000 levels deep are refused by their size
-- and depth limits (54000, 54001), never by running out of memory or stack.
SELECT (repeat('a = 1 OR ', 1200000) || 'a = 1')::segments.segment_filter;
\echo :LAST_ERROR_SQLSTATE
SELECT segments.segment_filter_from_jsonb(('{"groups": [' || repeat('{"conditions": [{"field": "a", "op": "=", "value": 1}]},', 200000) || '{"conditions": []}]}')::jsonb);
\echo :LAST_ERROR_SQLSTATE
SELECT segments.segment_filter_from_jsonb((repeat('{"not": ', 10000) || '{"field": "a"}' || repeat('}', 10000))::jsonb);
\echo :LAST_ERROR_SQLSTATE

-- The JSON form: groups (OR) of conditions (AND), both ways, without loss.
SELECT segments.segment_filter_to_jsonb(
  'tier = ''gold'' AND country IN (''OM'', ''AE'') OR tags CONTAINS ''vip''');
SELECT segments.segment_filter_to_jsonb(
  'NOT opted_out AND created_at WITHIN LAST 7 DAYS AND (a BETWEEN 1 AND 2 OR b IS NULL)');
SELECT segments.segment_filter_from_jsonb('{"groups": [
  {"conditions": [{"field": "tier", "op": "=", "value": "gold"},
                  {"field": "country", "op": "in", "values": ["OM", "AE"]}]},
  {"conditions": [{"field": "tags", "op": "contains any", "values": ["vip", "lead"]},
                  {"not": {"field": "opted_out"}}]}]}');
SELECT segments.segment_filter_from_jsonb('{"field": "attrs.plan", "op": "ilike", "value": "pro%"}');
SELECT segments.segment_filter_from_jsonb('{"field": "seen", "op": "within last", "amount": 30, "unit": "days"}');
SELECT segments.segment_filter_from_jsonb(segments.segment_filter_to_jsonb(f)) OPERATOR(segments.=) f AS lossless
FROM (VALUES ('a = 1 OR NOT (b = 2 AND c = 3)'::segments.segment_filter),
             ('x NOT BETWEEN 1 AND 5 AND y NOT ILIKE ''%z'''),
             ('orders.count(status = ''paid'' AND created_at WITHIN LAST 30 DAYS) >= 3'),
             ('IN SEGMENT ''vip'' AND NOT IN SEGMENT ''churned''')) AS t(f);

-- Bad JSON documents: a clear error naming the JSON path.
SELECT segments.segment_filter_from_jsonb('{"groups": [{"conditions": [{"field": "a", "op": "=", "vaule": 1}]}]}');
\echo :LAST_ERROR_SQLSTATE
SELECT segments.segment_filter_from_jsonb('{"groups": []}');
SELECT segments.segment_filter_from_jsonb('{"field": "a", "op": "~", "value": 1}');
SELECT segments.segment_filter_from_jsonb('{"field": "a", "op": "=", "value": null}');
SELECT segments.segment_filter_from_jsonb('{"field": "a", "op": "between", "values": [1]}');
SELECT segments.segment_filter_from_jsonb('{"field": "a b", "op": "=", "value": 1}');
SELECT segments.segment_filter_from_jsonb('[1, 2]');
SELECT segments.segment_filter_from_jsonb('"a = 1"');

-- Binary form: a format version byte, then the canonical text.
SELECT segments.segment_filter_send('a = 1');

-- Filters can be stored, and text casts to and from the type.
CREATE TABLE saved (f segments.segment_filter);
INSERT INTO saved VALUES ('x = 1'), ('y CONTAINS ''z''');
INSERT INTO saved SELECT 'z IS NULL'::text;
SELECT f, f::text AS as_text FROM saved ORDER BY f::text;
INSERT INTO saved VALUES ('broken =');
DROP TABLE saved;
