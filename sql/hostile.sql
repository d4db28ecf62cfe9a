-- A hostile search_path and hostile names: the extension's SQL resolves nothing through the
-- caller's search_path, and no name or literal from a filter, a JSON document or a table's name
-- changes the statements it runs.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';

-- Every SECURITY DEFINER function of the extension pins search_path.
SELECT count(*) AS definer_functions_without_search_path
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'segments' AND p.prosecdef
   AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) AS c WHERE c LIKE 'search_path=%');

-- A schema that shadows what generated SQL uses, first in search_path (pg_catalog after it):
-- every shadow records that it was called.
CREATE SCHEMA evil;
CREATE TABLE evil.calls (what text);
GRANT ALL ON SCHEMA evil TO PUBLIC;
GRANT ALL ON evil.calls TO PUBLIC;
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE sql AS
  $$ INSERT INTO evil.calls VALUES ('now()') RETURNING timestamptz '2000-01-01' $$;
CREATE FUNCTION evil.text_eq(text, text) RETURNS boolean LANGUAGE sql AS
  $$ INSERT INTO evil.calls VALUES ('text =') RETURNING true $$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.text_eq);
CREATE FUNCTION evil.int8_eq(bigint, bigint) RETURNS boolean LANGUAGE sql AS
  $$ INSERT INTO evil.calls VALUES ('bigint =') RETURNING true $$;
CREATE OPERATOR evil.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.int8_eq);
CREATE FUNCTION evil.num_gt(numeric, numeric) RETURNS boolean LANGUAGE sql AS
  $$ INSERT INTO evil.calls VALUES ('numeric >') RETURNING true $$;
CREATE OPERATOR evil.> (LEFTARG = numeric, RIGHTARG = numeric, FUNCTION = evil.num_gt);
CREATE FUNCTION evil.count(bigint) RETURNS bigint LANGUAGE sql AS
  $$ INSERT INTO evil.calls VALUES ('count') RETURNING 0::bigint $$;
CREATE FUNCTION evil.unnest(anyarray) RETURNS SETOF anyelement LANGUAGE sql AS
  $$ INSERT INTO evil.calls VALUES ('unnest') RETURNING NULL $$;

-- A table whose name and columns would break SQL built by pasting names.
CREATE TABLE "we""ird; DROP TABLE evil.calls; --" (
  id bigint PRIMARY KEY,
  "tier'); DELETE FROM evil.calls; --" text,
  lifetime_value numeric
);
INSERT INTO "we""ird; DROP TABLE evil.calls; --"
SELECT i, (ARRAY['gold', 'it''s', E'back\\slash'])[1 + i % 3], i * 100 FROM generate_series(1, 9) AS i;
CREATE TABLE hostile_orders (
  id bigint PRIMARY KEY,
  customer_id bigint REFERENCES "we""ird; DROP TABLE evil.calls; --",
  status text
);
INSERT INTO hostile_orders VALUES (1, 1, 'paid'), (2, 1, 'paid'), (3, 2, 'x');

SET search_path = evil, public, pg_catalog;

-- Definitions, refreshes, realtime writes, reads and exports under that search_path.
SELECT segments.create_segment('Gold', '"we""ird; DROP TABLE evil.calls; --"',
  '"tier''); DELETE FROM evil.calls; --" = ''gold''', system_name => 'hostile-gold') > 0;
SELECT segments.create_segment('Quoted', '"we""ird; DROP TABLE evil.calls; --"',
  '"tier''); DELETE FROM evil.calls; --" IN (''it''''s'', ''back\slash'')',
  kind => 'scheduled', system_name => 'hostile-quoted') > 0;
SELECT segments.create_segment('Buyers', '"we""ird; DROP TABLE evil.calls; --"',
  'hostile_orders.count(status = ''paid'') >= 2 AND lifetime_value > 50',
  system_name => 'hostile-buyers') > 0;
SELECT segments.create_segment('Gold buyers', '"we""ird; DROP TABLE evil.calls; --"',
  'IN SEGMENT ''hostile-gold'' AND IN SEGMENT ''hostile-buyers''',
  system_name => 'hostile-gold-buyers') > 0;
INSERT INTO "we""ird; DROP TABLE evil.calls; --" VALUES (10, 'gold', 5000);
UPDATE "we""ird; DROP TABLE evil.calls; --" SET "tier'); DELETE FROM evil.calls; --" = 'gold'
 WHERE id = 1;
INSERT INTO hostile_orders VALUES (4, 10, 'paid'), (5, 10, 'paid');
SELECT segments.refresh('hostile-quoted') IS NOT NULL AS refreshed;
SELECT count(*) FROM segments.refresh_due();
SELECT s, array_agg(m::bigint ORDER BY m::bigint) AS members
  FROM pg_catalog.unnest(ARRAY['hostile-gold', 'hostile-quoted', 'hostile-buyers',
                               'hostile-gold-buyers']) AS s,
       segments.members(s) AS m
 GROUP BY s ORDER BY s;
SELECT segments.member_count('hostile-gold'), segments.is_member('hostile-gold', 10),
       segments.is_member('hostile-buyers', 10::bigint);
SELECT count(*) FROM segments.preview('hostile-gold', 3);
SELECT left(line, 60) FROM segments.export_csv('hostile-quoted') AS line LIMIT 1;
SELECT segments.alter_segment('hostile-gold', description => 'x''); DROP TABLE evil.calls; --');
SELECT segments.rename_segment('hostile-quoted', 'Quoted ''); DROP TABLE evil.calls; --');
SELECT system_name FROM segments.segment WHERE name LIKE 'Quoted%';
SELECT * FROM segments.import_definitions(segments.export_definitions());
SELECT segments.to_sql('"tier''); DELETE FROM evil.calls; --" = ''x''''; DROP TABLE evil.calls; --''',
                       '"we""ird; DROP TABLE evil.calls; --"');
SELECT segments.segment_filter_from_jsonb(
  '{"field": ["tier''); DELETE FROM evil.calls; --"], "op": "=", "value": "''; DROP TABLE evil.calls; --"}');

RESET search_path;
-- Nothing of the hostile schema ran, and everything is still there.
SELECT count(*) AS hostile_calls FROM evil.calls;
SELECT to_regclass('evil.calls') IS NOT NULL AS calls_table_kept;

SELECT segments.drop_segment(s)
  FROM unnest(ARRAY['hostile-gold-buyers', 'hostile-gold', 'hostile-quoted', 'hostile-buyers']) AS s;
DROP TABLE hostile_orders, "we""ird; DROP TABLE evil.calls; --";
DROP SCHEMA evil CASCADE;
