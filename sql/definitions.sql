-- export_definitions / import_definitions: moving definitions between databases as JSON.
\set SHOW_CONTEXT never
CREATE TABLE leads (id bigint PRIMARY KEY, source text, score int);
INSERT INTO leads SELECT i, (ARRAY['web', 'event', 'referral'])[1 + i % 3], i FROM generate_series(1, 12) AS i;
SELECT segments.create_segment('Web leads', 'leads', 'source = ''web''', description => 'From the site',
                               tags => ARRAY['growth']) > 0;
SELECT segments.create_segment('Hot leads', 'leads', 'score > 8', kind => 'scheduled') > 0;
SELECT segments.create_segment('Lead list', 'leads', kind => 'static', external_id => 'list-1') > 0;

SELECT jsonb_pretty(d) FROM (
  SELECT jsonb_set(segments.export_definitions(), '{segments}',
    (SELECT jsonb_agg(s - 'external_id') FILTER (WHERE s ->> 'object' = 'public.leads')
       FROM jsonb_array_elements(segments.export_definitions() -> 'segments') AS s)) AS d) x;

-- Re-importing the export changes nothing.
SELECT * FROM segments.import_definitions(jsonb_build_object('segments',
  (SELECT jsonb_agg(s) FROM jsonb_array_elements(segments.export_definitions() -> 'segments') AS s
    WHERE s ->> 'object' = 'public.leads')));

-- A changed document updates by system name and creates what is missing; twice is once.
CREATE TEMP TABLE doc AS SELECT jsonb_build_object('version', 1, 'segments', jsonb_build_array(
  jsonb_build_object('name', 'Web leads', 'system_name', 'web-leads', 'object', 'leads',
                     'kind', 'realtime', 'filter', 'source = ''web'' AND score > 3'),
  jsonb_build_object('name', 'Event leads', 'system_name', 'event-leads', 'object', 'public.leads',
                     'filter', 'source = ''event''', 'tags', jsonb_build_array('events')))) AS d;
SELECT * FROM segments.import_definitions((SELECT d FROM doc));
SELECT * FROM segments.import_definitions((SELECT d FROM doc));
SELECT system_name, filter, description, tags, segments.member_count(id) AS members
FROM segments.segment WHERE object = 'leads'::regclass ORDER BY id;

-- A bad document changes nothing.
SELECT count(*) AS before FROM segments.segment;
SELECT * FROM segments.import_definitions('{"segments": [
  {"name": "Fine", "system_name": "fine-one", "object": "leads", "filter": "TRUE"},
  {"name": "Broken", "system_name": "broken-one", "object": "leads", "filter": "scor > 1"}]}');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM segments.import_definitions('{"segments": [{"name": "x", "object": "leads"}]}');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM segments.import_definitions('{"segments": [{"name": "x", "system_name": "x", "object": "leads", "filtr": "TRUE"}]}');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM segments.import_definitions('{"segments": [{"name": "x", "system_name": "hot-leads", "object": "leads", "kind": "static"}]}');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM segments.import_definitions('[1, 2]');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM segments.import_definitions('{"version": 9, "segments": []}');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS after FROM segments.segment;
SELECT count(*) FROM segments.segment WHERE system_name = 'fine-one';

SELECT segments.drop_segment(system_name) FROM segments.segment WHERE object = 'leads'::regclass;
DROP TABLE leads;
