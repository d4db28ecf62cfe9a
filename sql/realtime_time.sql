-- Relative time stays exact: rows whose answer will flip are rechecked by refresh_due() when
-- their time comes, through an index on that time, and exits and entries reach the feed.
\set SHOW_CONTEXT never
CREATE TABLE rt_visits (id int PRIMARY KEY, seen timestamptz, attrs jsonb);
-- Around the edges of "within the last minute", and future times. One transaction, so that
-- everything below sees the same now().
BEGIN;
INSERT INTO rt_visits VALUES
  (1, now() - interval '58 seconds', '{}'),
  (2, now() - interval '10 seconds', '{}'),
  (3, now() - interval '5 minutes', '{}'),
  (4, now() + interval '2 seconds', '{}'),
  (5, now() + interval '1 hour', '{}'),
  (6, NULL, jsonb_build_object('at', (now() - interval '59 seconds')::text)),
  (7, NULL, '{"at": "not a time"}');
SELECT segments.create_segment('Seen in the last minute', 'rt_visits',
                               'seen WITHIN LAST 1 MINUTE OR attrs.at WITHIN LAST 1 MINUTE') > 0 AS created;
SELECT segments.create_segment('Coming soon', 'rt_visits', 'seen WITHIN NEXT 30 MINUTES') > 0 AS created;
SELECT segments.create_segment('Gone quiet', 'rt_visits', 'seen OLDER THAN 1 MINUTE') > 0 AS created;
SELECT system_name, (SELECT array_agg(m::int ORDER BY m::int) FROM segments.members(id) m) AS members
FROM segments.segment WHERE object = 'rt_visits'::regclass ORDER BY id;
-- Every row with a future flip has a recheck time; the rest have none.
SELECT member, due_at > now() AS in_future FROM segments.rt_visits_members_rechecks ORDER BY member;
-- Nothing is due yet.
SELECT count(*) AS actions FROM segments.refresh_due();
COMMIT;
-- The rechecks are found through an index on their time.
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT member FROM segments.rt_visits_members_rechecks WHERE due_at <= now() ORDER BY due_at LIMIT 1000;
RESET enable_seqscan;

-- Time passes.
SELECT pg_sleep(3);
SELECT * FROM segments.refresh_due();
SELECT system_name, (SELECT array_agg(m::int ORDER BY m::int) FROM segments.members(id) m) AS members
FROM segments.segment WHERE object = 'rt_visits'::regclass ORDER BY id;
-- After refresh_due(), membership equals the filter's truth at that moment.
SELECT s.system_name,
       (SELECT array_agg(v.id ORDER BY v.id) FROM rt_visits v WHERE segments.matches(s.filter, v)) AS truth
FROM segments.segment s WHERE s.object = 'rt_visits'::regclass ORDER BY s.id;
SELECT c.member, c.change, s.system_name FROM segments.changes c JOIN segments.segment s ON s.id = c.segment_id
WHERE s.object = 'rt_visits'::regclass AND c.changed_at > now() - interval '2 seconds'
ORDER BY c.id;

-- A write moves a row's recheck time with its value.
UPDATE rt_visits SET seen = now() - interval '30 seconds' WHERE id = 3;
SELECT member, due_at > now() + interval '29 seconds' AS due_in_30_seconds
FROM segments.rt_visits_members_rechecks WHERE member = 3;
-- A recheck that is due but not yet applied survives later writes of the row: an UPDATE of
-- another column (which evaluates only the segments reading it), a change of the row's key, and
-- an UPDATE of another time column (which computes new times from its own evaluation).
CREATE TABLE rt_overdue (id int PRIMARY KEY, seen timestamptz, born timestamptz, note text);
INSERT INTO rt_overdue VALUES (1, now() - interval '59 seconds', now(), 'a'),
                              (2, now() - interval '59 seconds', now(), 'a'),
                              (3, now() - interval '59 seconds', now(), 'a');
SELECT segments.create_segment('Overdue seen', 'rt_overdue', 'seen WITHIN LAST 1 MINUTE') > 0 AS created;
SELECT segments.create_segment('Overdue old', 'rt_overdue', 'born OLDER THAN 1 HOUR') > 0 AS created;
SELECT segments.create_segment('Overdue noted', 'rt_overdue', 'note = ''b''') > 0 AS created;
SELECT pg_sleep(1.5);
UPDATE rt_overdue SET note = 'b' WHERE id = 1;
UPDATE rt_overdue SET id = 20 WHERE id = 2;
UPDATE rt_overdue SET born = now() - interval '30 minutes' WHERE id = 3;
SELECT member, due_at <= now() AS still_due FROM segments.rt_overdue_members_rechecks ORDER BY member;
SELECT count(*) >= 0 AS rechecked FROM segments.refresh_due();
SELECT (SELECT array_agg(m::int ORDER BY m::int) FROM segments.members('overdue-seen') m) AS seen,
       (SELECT array_agg(v.id ORDER BY v.id) FROM rt_overdue v WHERE v.seen >= now() - interval '1 minute') AS truth;
SELECT count(*) AS dropped FROM (SELECT segments.drop_segment(s.id) FROM segments.segment s
                                  WHERE s.object = 'rt_overdue'::regclass) AS d;
DROP TABLE rt_overdue;

-- A write evaluates a relative-time segment only when one of its conditions changes its answer
-- or a column it compares with a relative time changes; the row's recheck time follows.
CREATE OR REPLACE FUNCTION test_evaluations() RETURNS bigint
  AS '$libdir/pg_segments', 'pgseg_test_realtime_evaluations' LANGUAGE C;
CREATE TABLE rt_paths (id int PRIMARY KEY, tier text, seen timestamptz, ltv numeric);
INSERT INTO rt_paths VALUES (1, 'silver', now() - interval '30 seconds', 10),
                            (2, 'gold', now() - interval '30 seconds', 10);
SELECT segments.create_segment('Gold lately', 'rt_paths',
                               'tier = ''gold'' AND seen WITHIN LAST 1 MINUTE') > 0 AS created;
SELECT segments.create_segment('Rich lately', 'rt_paths',
                               'ltv > 100 AND seen WITHIN LAST 1 MINUTE') > 0 AS created;
-- Only row 2 reaches a time bound (tier = 'gold'); row 1's answer cannot change with time.
SELECT member FROM segments.rt_paths_members_rechecks ORDER BY member;
SELECT test_evaluations() AS before \gset
UPDATE rt_paths SET ltv = ltv + 1 WHERE id = 2;
SELECT test_evaluations() - :before AS evaluated_for_ltv;
SELECT test_evaluations() AS before \gset
UPDATE rt_paths SET tier = 'gold' WHERE id = 1;
SELECT test_evaluations() - :before AS evaluated_for_tier,
       segments.is_member('gold-lately', 1) AS gold_lately,
       (SELECT due_at BETWEEN now() + interval '25 seconds' AND now() + interval '35 seconds'
          FROM segments.rt_paths_members_rechecks WHERE member = 1) AS due_in_30_seconds;
SELECT test_evaluations() AS before \gset
UPDATE rt_paths SET seen = seen + interval '10 seconds' WHERE id = 1;
SELECT test_evaluations() - :before AS evaluated_for_seen,
       (SELECT due_at BETWEEN now() + interval '35 seconds' AND now() + interval '45 seconds'
          FROM segments.rt_paths_members_rechecks WHERE member = 1) AS due_in_40_seconds;
UPDATE rt_paths SET tier = 'silver' WHERE id = 1;
SELECT segments.is_member('gold-lately', 1) AS gold_lately,
       (SELECT count(*) FROM segments.rt_paths_members_rechecks WHERE member = 1) AS rechecks;
SELECT count(*) AS dropped FROM (SELECT segments.drop_segment(s.id) FROM segments.segment s
                                  WHERE s.object = 'rt_paths'::regclass) AS d;
DROP TABLE rt_paths;

-- Dropping the last relative-time segment drops the recheck times.
SELECT segments.drop_segment('seen-in-the-last-minute');
SELECT segments.drop_segment('coming-soon');
SELECT segments.drop_segment('gone-quiet');
SELECT count(*) FROM segments.object WHERE object = 'rt_visits'::regclass;
