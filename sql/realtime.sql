-- Realtime segments: membership changes in the writing statement, for every kind of write,
-- transactional, evaluated only for segments that read a changed column.
\set SHOW_CONTEXT never
CREATE FUNCTION test_evaluations() RETURNS bigint
  AS '$libdir/pg_segments', 'pgseg_test_realtime_evaluations' LANGUAGE C;
-- Rows of an object whose membership in one of its realtime segments differs from the truth
-- computed by plain SQL from to_sql().
CREATE FUNCTION truth_mismatches(object regclass) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  s record;
  entry segments.object;
  wrong bigint := 0;
  n bigint;
BEGIN
  SELECT * INTO entry FROM segments.object o WHERE o.object = truth_mismatches.object;
  FOR s IN SELECT id, filter FROM segments.segment
            WHERE segment.object = truth_mismatches.object AND kind = 'realtime' AND active LOOP
    EXECUTE format('SELECT count(*) FROM ((SELECT %1$I FROM %2$s WHERE %3$s EXCEPT '
                   'SELECT member FROM %4$s WHERE segment_id = %5$s) UNION ALL '
                   '(SELECT member FROM %4$s WHERE segment_id = %5$s EXCEPT '
                   'SELECT %1$I FROM %2$s WHERE %3$s)) d',
                   entry.key_column, object, segments.to_sql(s.filter, object),
                   entry.membership, s.id) INTO n;
    wrong := wrong + n;
  END LOOP;
  RETURN wrong;
END
$$;

CREATE TABLE rt_customers (
  id bigint PRIMARY KEY,
  tier text,
  country text,
  tags text[],
  ltv numeric,
  attrs jsonb,
  note text
);
INSERT INTO rt_customers
SELECT i, (ARRAY['gold', 'silver'])[1 + i % 2], (ARRAY['OM', 'AE', 'OM'])[1 + i % 3],
       CASE WHEN i % 4 = 0 THEN ARRAY['vip'] ELSE '{}' END, i * 150,
       jsonb_build_object('plan', CASE WHEN i % 5 = 0 THEN 'pro' ELSE 'free' END), 'n' || i
FROM generate_series(1, 12) AS i;
SELECT segments.create_segment('RT gold Oman', 'rt_customers', 'tier = ''gold'' AND country = ''OM''') > 0 AS created;
SELECT segments.create_segment('RT vip', 'rt_customers', 'tags CONTAINS ''vip''') > 0 AS created;
SELECT segments.create_segment('RT big', 'rt_customers', 'ltv > 1000') > 0 AS created;
SELECT segments.create_segment('RT pro', 'rt_customers', 'attrs.plan = ''pro'' OR tier = ''platinum''') > 0 AS created;
SELECT system_name, (SELECT array_agg(m::int ORDER BY m::int) FROM segments.members(id) m) AS members
FROM segments.segment WHERE object = 'rt_customers'::regclass ORDER BY id;

-- INSERT: new rows enter at once, in the same statement.
INSERT INTO rt_customers VALUES (20, 'gold', 'OM', '{vip}', 5000, '{"plan": "pro"}', 'new');
SELECT system_name FROM segments.segments_of('rt_customers', 20);

-- UPDATE: entries and exits follow the new values.
UPDATE rt_customers SET tier = 'silver' WHERE id = 20;
UPDATE rt_customers SET tags = tags || ARRAY['vip'] WHERE id IN (1, 2, 3);
SELECT system_name FROM segments.segments_of('rt_customers', 20);
SELECT * FROM segments.members('rt-vip');

-- Only segments that read a changed column are looked at, and of those only the ones where a
-- condition on that column changed its answer are evaluated whole.
SELECT test_evaluations() AS before \gset
UPDATE rt_customers SET note = 'quiet' WHERE id = 5;
SELECT test_evaluations() - :before AS evaluated_for_note;
-- A column segments read, but no condition on it changes its answer: no segment is evaluated.
UPDATE rt_customers SET ltv = ltv + 0.01 WHERE id = 5;
SELECT test_evaluations() - :before AS evaluated_for_ltv;
-- The condition ltv > 1000 changes its answer: that segment is evaluated, and only that one.
UPDATE rt_customers SET ltv = ltv + 1000 WHERE id = 5;
SELECT test_evaluations() - :before AS evaluated_for_ltv_crossing,
       segments.is_member('rt-big', 5) AS big_now;
UPDATE rt_customers SET ltv = ltv - 1000 WHERE id = 5;
SELECT segments.is_member('rt-big', 5) AS big_again;
SELECT test_evaluations() AS before \gset
UPDATE rt_customers SET tier = 'gold' WHERE id = 5;
SELECT test_evaluations() - :before AS evaluated_after_tier;

-- DELETE: the row leaves every segment.
DELETE FROM rt_customers WHERE id = 20;
SELECT count(*) FROM segments.segments_of('rt_customers', 20);

-- Primary-key changes carry the memberships over.
UPDATE rt_customers SET id = 120 WHERE id = 12;
SELECT system_name FROM segments.segments_of('rt_customers', 120);

-- INSERT ... ON CONFLICT DO UPDATE, both ways.
INSERT INTO rt_customers VALUES (30, 'gold', 'OM', '{}', 10, '{}', 'upsert')
ON CONFLICT (id) DO UPDATE SET tier = EXCLUDED.tier;
INSERT INTO rt_customers VALUES (30, 'silver', 'OM', '{}', 10, '{}', 'upsert')
ON CONFLICT (id) DO UPDATE SET tier = EXCLUDED.tier, ltv = 99999;
SELECT system_name FROM segments.segments_of('rt_customers', 30);

-- COPY.
COPY rt_customers (id, tier, country, tags, ltv, attrs, note) FROM stdin;
40	gold	OM	{vip}	2000	{"plan": "pro"}	copied
41	silver	AE	{}	10	{}	copied
\.
SELECT system_name FROM segments.segments_of('rt_customers', 40);

-- A multi-row statement is written set-wise, all at once.
UPDATE rt_customers SET country = 'OM' WHERE tier = 'gold';
SELECT truth_mismatches('rt_customers');

-- Inside a transaction the change is visible at once; ROLLBACK undoes it.
BEGIN;
UPDATE rt_customers SET tier = 'gold', country = 'OM' WHERE id = 41;
SELECT segments.is_member('rt-gold-oman', 41) AS inside;
ROLLBACK;
SELECT segments.is_member('rt-gold-oman', 41) AS after_rollback;
SELECT count(*) AS feed_rows_for_41 FROM segments.changes WHERE member = '41' AND segment_id = segments.segment_id('rt-gold-oman');
-- ROLLBACK TO SAVEPOINT undoes only what followed the savepoint.
BEGIN;
UPDATE rt_customers SET tier = 'gold', country = 'OM' WHERE id = 41;
SAVEPOINT s;
UPDATE rt_customers SET tags = '{vip}' WHERE id = 41;
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT segments.is_member('rt-gold-oman', 41) AS gold, segments.is_member('rt-vip', 41) AS vip;
-- A failing statement changes nothing, membership included.
UPDATE rt_customers SET tags = '{vip}', ltv = 1 / (id - 41) WHERE id IN (41, 1);
SELECT segments.is_member('rt-vip', 41) AS vip_after_error;

-- A statement that fails after pg_segments' row triggers ran (a later AFTER trigger raises)
-- leaves nothing behind for the next statement, in a transaction or a subtransaction.
CREATE FUNCTION fail_late() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.note = 'fail' THEN
    RAISE EXCEPTION 'late failure';
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER z_fail_late AFTER UPDATE ON rt_customers FOR EACH ROW EXECUTE FUNCTION fail_late();
UPDATE rt_customers SET tags = '{vip}', note = 'fail' WHERE id = 41;
UPDATE rt_customers SET ltv = ltv + 1 WHERE id = 1;
SELECT segments.is_member('rt-vip', 41) AS vip_after_late_failure;
BEGIN;
SAVEPOINT before_failure;
UPDATE rt_customers SET tags = '{vip}', note = 'fail' WHERE id = 41;
ROLLBACK TO SAVEPOINT before_failure;
UPDATE rt_customers SET ltv = ltv + 1 WHERE id = 1;
COMMIT;
SELECT segments.is_member('rt-vip', 41) AS vip_after_subtransaction_failure;
DROP TRIGGER z_fail_late ON rt_customers;

-- An AFTER trigger of the user that changes the row again: the net result counts.
CREATE FUNCTION bounce() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.note = 'bounce' THEN
    UPDATE rt_customers SET tier = 'silver', note = 'bounced' WHERE id = NEW.id;
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER bounce AFTER UPDATE ON rt_customers FOR EACH ROW EXECUTE FUNCTION bounce();
UPDATE rt_customers SET tier = 'gold', country = 'OM', note = 'bounce' WHERE id = 7;
SELECT tier, note, segments.is_member('rt-gold-oman', 7) AS member FROM rt_customers WHERE id = 7;
DROP TRIGGER bounce ON rt_customers;

-- The change feed records every entry and exit, in order.
SELECT c.member, c.change FROM segments.changes c
WHERE c.segment_id = segments.segment_id('rt-gold-oman') AND c.member IN ('5', '41', '7')
ORDER BY c.id;

-- TRUNCATE empties every membership of the object.
SELECT truth_mismatches('rt_customers');
CREATE TABLE rt_copy AS SELECT * FROM rt_customers;
TRUNCATE rt_customers;
SELECT segments.member_count('rt-vip') AS vip, segments.member_count('rt-big') AS big;
INSERT INTO rt_customers SELECT * FROM rt_copy;
SELECT truth_mismatches('rt_customers');

-- Filter and activation changes recompute; a definition change is seen by the next statement.
SELECT segments.alter_segment('rt-big', filter => 'ltv > 5000');
UPDATE rt_customers SET ltv = 6000 WHERE id = 2;
SELECT segments.is_member('rt-big', 2) AS big_now;
SELECT segments.deactivate('rt-vip');
UPDATE rt_customers SET tags = '{vip}' WHERE id = 6;
SELECT segments.member_count('rt-vip') AS inactive_members;
SELECT segments.activate('rt-vip');
SELECT truth_mismatches('rt_customers');

-- Table changes that would break a segment are refused; others are fine.
ALTER TABLE rt_customers DROP COLUMN tags;
\echo :LAST_ERROR_SQLSTATE
ALTER TABLE rt_customers RENAME COLUMN tier TO level;
ALTER TABLE rt_customers ALTER COLUMN id TYPE text;
ALTER TABLE rt_customers ADD COLUMN extra int;
ALTER TABLE rt_customers DROP COLUMN note;
UPDATE rt_customers SET extra = 1, tier = 'gold', country = 'OM' WHERE id = 3;
SELECT segments.is_member('rt-gold-oman', 3) AS after_added_and_dropped_columns;
ALTER TABLE rt_customers RENAME COLUMN id TO customer_id;
UPDATE rt_customers SET tier = 'silver' WHERE customer_id = 3;
SELECT segments.is_member('rt-gold-oman', 3) AS after_key_rename;
SELECT truth_mismatches('rt_customers');

-- Writers need no grant on the segments schema (see privileges), and a statement that changes
-- no segment's answer writes nothing to the feed.
SELECT count(*) AS feed_before FROM segments.changes \gset
UPDATE rt_customers SET ltv = ltv + 0.01;
SELECT count(*) - :feed_before AS feed_rows_written FROM segments.changes;

-- Keys of other types: uuid (netted in C++) and text (netted by SQL), with a user trigger that
-- changes the row again within the same statement.
CREATE TABLE rt_devices (id uuid PRIMARY KEY, platform text, note text);
CREATE TABLE rt_handles (handle text PRIMARY KEY, platform text, note text);
SELECT segments.create_segment('rt-ios-devices', 'rt_devices', 'platform = ''ios''') > 0 AS created;
SELECT segments.create_segment('rt-ios-handles', 'rt_handles', 'platform = ''ios''') > 0 AS created;
INSERT INTO rt_devices SELECT ('00000000-0000-0000-0000-' || lpad(i::text, 12, '0'))::uuid,
  CASE WHEN i % 2 = 0 THEN 'ios' ELSE 'android' END FROM generate_series(1, 20) i;
INSERT INTO rt_handles SELECT 'h' || i, CASE WHEN i % 2 = 0 THEN 'ios' ELSE 'android' END
  FROM generate_series(1, 20) i;
CREATE FUNCTION bounce_platform() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.note = 'bounce' THEN
    EXECUTE format('UPDATE %s SET platform = %L, note = %L WHERE platform = %L AND note = %L',
                   TG_RELID::regclass, 'android', 'bounced', 'ios', 'bounce');
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER bounce AFTER UPDATE ON rt_devices FOR EACH ROW EXECUTE FUNCTION bounce_platform();
CREATE TRIGGER bounce AFTER UPDATE ON rt_handles FOR EACH ROW EXECUTE FUNCTION bounce_platform();
UPDATE rt_devices SET platform = 'ios', note = 'bounce' WHERE id::text LIKE '%1';
UPDATE rt_handles SET platform = 'ios', note = 'bounce' WHERE handle LIKE '%1';
UPDATE rt_devices SET platform = CASE platform WHEN 'ios' THEN 'android' ELSE 'ios' END
  WHERE id::text LIKE '%3' OR id::text LIKE '%4';
UPDATE rt_handles SET platform = CASE platform WHEN 'ios' THEN 'android' ELSE 'ios' END
  WHERE handle LIKE '%3' OR handle LIKE '%4';
DELETE FROM rt_devices WHERE id::text LIKE '%6';
DELETE FROM rt_handles WHERE handle LIKE '%6';
SELECT segments.member_count('rt-ios-devices') AS ios_devices,
       segments.member_count('rt-ios-handles') AS ios_handles;
SELECT truth_mismatches('rt_devices') AS device_mismatches,
       truth_mismatches('rt_handles') AS handle_mismatches;
SELECT count(*) FILTER (WHERE change = 'entered') AS entered,
       count(*) FILTER (WHERE change = 'exited') AS exited
  FROM segments.changes
 WHERE segment_id IN (segments.segment_id('rt-ios-devices'), segments.segment_id('rt-ios-handles'));
-- A user trigger that fires before pg_segments' own (names sort first) and changes or deletes
-- the new rows: the newest version of each row counts.
CREATE FUNCTION demote() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('UPDATE %s SET platform = %L WHERE note = %L', TG_RELID::regclass,
                 'android', 'demote');
  EXECUTE format('DELETE FROM %s WHERE note = %L', TG_RELID::regclass, 'drop');
  RETURN NULL;
END
$$;
CREATE TRIGGER "A_demote" AFTER INSERT ON rt_devices FOR EACH ROW EXECUTE FUNCTION demote();
CREATE TRIGGER "A_demote" AFTER INSERT ON rt_handles FOR EACH ROW EXECUTE FUNCTION demote();
INSERT INTO rt_devices VALUES ('00000000-0000-0000-0000-000000000101', 'ios', 'demote'),
  ('00000000-0000-0000-0000-000000000102', 'ios', 'demote'),
  ('00000000-0000-0000-0000-000000000103', 'ios', 'drop'),
  ('00000000-0000-0000-0000-000000000104', 'ios', 'keep');
INSERT INTO rt_handles VALUES ('h101', 'ios', 'demote'), ('h102', 'ios', 'demote'),
  ('h103', 'ios', 'drop'), ('h104', 'ios', 'keep');
SELECT count(*) AS devices_left FROM rt_devices WHERE id::text LIKE '%10_';
SELECT segments.is_member('rt-ios-devices', '00000000-0000-0000-0000-000000000101') AS demoted,
       segments.is_member('rt-ios-devices', '00000000-0000-0000-0000-000000000104') AS kept,
       segments.is_member('rt-ios-handles', 'h102') AS demoted_handle,
       segments.is_member('rt-ios-handles', 'h103') AS dropped_handle;
SELECT truth_mismatches('rt_devices') AS device_mismatches,
       truth_mismatches('rt_handles') AS handle_mismatches;
-- Segments built from shared conditions (each condition is evaluated once per UPDATE for all
-- segments that use it, and only segments where one changed its answer are evaluated whole):
-- random updates of every column they read leave each segment equal to its truth.
CREATE TABLE rt_shared (id int PRIMARY KEY, tier text, ltv numeric, tags text[], attrs jsonb,
                        seen timestamptz);
INSERT INTO rt_shared SELECT i, 'silver', i * 10, '{}', '{}', now() - i * interval '1 hour'
  FROM generate_series(1, 60) AS i;
SELECT count(*) AS created FROM (
  SELECT segments.create_segment('Shared ' || n, 'rt_shared', f::segments.segment_filter)
    FROM unnest(ARRAY[
      'tier = ''gold''', 'tier = ''gold'' AND ltv > 300', 'ltv > 300 OR tags CONTAINS ''vip''',
      'NOT (ltv > 300) AND tier IN (''gold'', ''silver'')', 'ltv BETWEEN 100 AND 400',
      'ltv BETWEEN 100 AND 400 AND NOT tags CONTAINS ''vip''', 'attrs.plan = ''pro'' OR ltv > 500',
      'attrs.plan IS NULL AND tier = ''silver''', 'seen WITHIN LAST 1 DAY AND ltv > 300',
      'seen WITHIN LAST 1 DAY OR tier = ''gold''', 'tags CONTAINS ''vip'' AND attrs.plan = ''pro''',
      'ltv > 300']) WITH ORDINALITY AS t (f, n)) AS s;
SELECT setseed(0.42);
DO $$
BEGIN
  FOR i IN 1..300 LOOP
    CASE (random() * 5)::int
      WHEN 0 THEN UPDATE rt_shared SET ltv = ltv + (random() * 400 - 200)::int WHERE id = 1 + (random() * 59)::int;
      WHEN 1 THEN UPDATE rt_shared SET tier = CASE WHEN random() < 0.5 THEN 'gold' ELSE 'silver' END WHERE id = 1 + (random() * 59)::int;
      WHEN 2 THEN UPDATE rt_shared SET tags = CASE WHEN random() < 0.5 THEN '{vip}'::text[] ELSE '{}' END WHERE id = 1 + (random() * 59)::int;
      WHEN 3 THEN UPDATE rt_shared SET attrs = CASE WHEN random() < 0.5 THEN '{"plan": "pro"}'::jsonb ELSE '{}' END, ltv = ltv + 0.01 WHERE id = 1 + (random() * 59)::int;
      WHEN 4 THEN UPDATE rt_shared SET seen = now() - (random() * 48) * interval '1 hour' WHERE id = 1 + (random() * 59)::int;
      ELSE UPDATE rt_shared SET ltv = ltv + 0.01, tier = tier WHERE id % 7 = (random() * 6)::int;
    END CASE;
  END LOOP;
END
$$;
SELECT truth_mismatches('rt_shared') AS shared_mismatches;
SELECT count(*) AS dropped FROM (SELECT segments.drop_segment(s.id) FROM segments.segment s
                                  WHERE s.object = 'rt_shared'::regclass) AS d;
DROP TABLE rt_shared;
-- A user's write never fails because of a segment: jsonb values of every type and size, huge
-- and tiny numbers, times that are not times, and related rows whose sums overflow every
-- float and integer type are all written; each segment still equals its truth.
CREATE TABLE rt_hostile (id int PRIMARY KEY, attrs jsonb, score float8, n bigint, at timestamptz);
CREATE TABLE rt_hostile_items (id int PRIMARY KEY, owner int REFERENCES rt_hostile,
                               v float8, k bigint, at timestamptz DEFAULT now());
CREATE INDEX ON rt_hostile_items (owner);
SELECT count(*) AS created FROM (VALUES
  (segments.create_segment('H score', 'rt_hostile', 'attrs.score > 10')),
  (segments.create_segment('H seen', 'rt_hostile', 'attrs.seen WITHIN LAST 7 DAYS')),
  (segments.create_segment('H plan', 'rt_hostile', 'attrs.plan IN (''pro'', ''team'') AND attrs.tags CONTAINS ''x''')),
  (segments.create_segment('H big', 'rt_hostile', 'score > 1e300 OR n > 9000000000000000000')),
  (segments.create_segment('H time', 'rt_hostile', 'at OLDER THAN 60000 MONTHS OR at WITHIN NEXT 1000000 MONTHS')),
  (segments.create_segment('H soon', 'rt_hostile', 'at WITHIN NEXT 1 DAY OR attrs.seen OLDER THAN 260000 WEEKS')),
  (segments.create_segment('H sums', 'rt_hostile', 'rt_hostile_items.sum(v) > 1 OR rt_hostile_items.avg(k) > 1')),
  (segments.create_segment('H max', 'rt_hostile', 'rt_hostile_items.max(v) >= 1e308')),
  (segments.create_segment('H item soon', 'rt_hostile', 'rt_hostile_items.exists(at WITHIN NEXT 1 DAY)'))) AS s(id);
INSERT INTO rt_hostile VALUES
  (1, '{"score": "abc", "seen": "not a time", "plan": 7, "tags": "x"}', 'NaN', 9223372036854775807, 'infinity'),
  (2, '{"score": 1e400, "seen": "2026-13-45", "plan": ["pro"], "tags": {"x": 1}}', 'Infinity', -9223372036854775808, '-infinity'),
  (3, '{"score": {"a": 1}, "seen": 12345, "plan": null, "tags": [1, "x", null]}', '-Infinity', 0, '294276-12-31 23:59:59+00'),
  (4, '{"score": 11, "seen": "9999-12-31T23:59:59Z", "plan": "pro", "tags": ["x"]}', 1.7976931348623157e308, 1, now()),
  (5, '{"score": -1e-400, "seen": "4713-01-01 BC", "plan": "team", "tags": "x"}', 5e-324, -1, '4713-01-01 00:00:00+00 BC'),
  (6, 'null', NULL, NULL, NULL),
  (7, '[1, 2, 3]', 0, 0, now() + interval '12 hours');
INSERT INTO rt_hostile_items VALUES
  (1, 4, 1.7976931348623157e308, 9223372036854775807),
  (2, 4, 1.7976931348623157e308, 9223372036854775807),
  (3, 5, 'Infinity', -9223372036854775808), (4, 5, '-Infinity', -9223372036854775808),
  (5, 6, 'NaN', 1), (6, 7, -1.7976931348623157e308, 0);
UPDATE rt_hostile SET attrs = attrs || '{"score": "1e999999"}' WHERE id = 3;
UPDATE rt_hostile_items SET v = v * 0.5 WHERE id = 2;
DELETE FROM rt_hostile_items WHERE id = 3;
-- Rows written with at = now() are in WITHIN NEXT now and out a moment later: refresh_due()
-- (the relative-time guarantee) takes them out.
SELECT count(*) >= 0 AS rechecked FROM segments.refresh_due();
SELECT truth_mismatches('rt_hostile') AS hostile_mismatches;
-- Looking back before 4713 BC is refused when the segment is saved, not when rows are written.
SELECT segments.create_segment('H too far', 'rt_hostile', 'at OLDER THAN 1000000 MONTHS');
SELECT s.system_name, (SELECT string_agg(m, ',') FROM segments.members(s.id) m) AS members
  FROM segments.segment s WHERE s.object = 'rt_hostile'::regclass ORDER BY s.id;
SELECT count(*) AS dropped FROM (SELECT segments.drop_segment(s.id) FROM segments.segment s
                                  WHERE s.object = 'rt_hostile'::regclass) AS d;
DROP TABLE rt_hostile_items, rt_hostile;
