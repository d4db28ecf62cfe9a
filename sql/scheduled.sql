-- Scheduled segments: schedules, time zones, refresh_due(), failures, events, auto-disable.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
CREATE TABLE sch_customers (
  id bigint PRIMARY KEY,
  tier text,
  country text,
  visits int
);
INSERT INTO sch_customers
SELECT i, (ARRAY['gold', 'silver', 'bronze'])[1 + i % 3], (ARRAY['OM', 'AE'])[1 + i % 2], i
FROM generate_series(1, 60) AS i;

-- Schedule arithmetic, as segments.schedule_runs() shows it: cron and readable forms, month
-- ends, leap years, and daylight-saving changes (Berlin springs forward on 2026-03-29 and falls
-- back on 2026-10-25; New York on 2026-03-08 and 2026-11-01).
SELECT * FROM segments.schedule_runs('0 3 * * *', 'UTC', 2, '2026-01-10 12:00+00');
SELECT * FROM segments.schedule_runs('every monday, thursday at 09:30', 'Europe/Berlin', 4,
                                     '2026-03-25 00:00+00');
SELECT * FROM segments.schedule_runs('30 2 * * *', 'Europe/Berlin', 3, '2026-03-28 00:00+00');
SELECT * FROM segments.schedule_runs('30 2 * * *', 'Europe/Berlin', 3, '2026-10-24 00:00+00');
SELECT * FROM segments.schedule_runs('every hour', 'Europe/Berlin', 4, '2026-10-24 23:30+00');
SELECT * FROM segments.schedule_runs('every day at 9am', 'America/New_York', 3,
                                     '2026-03-06 20:00+00');
SELECT * FROM segments.schedule_runs('every month on last at 23:00', 'Asia/Muscat', 3,
                                     '2026-01-15 00:00+00');
SELECT * FROM segments.schedule_runs('0 0 29 2 *', 'UTC', 2, '2026-01-01 00:00+00');
SELECT * FROM segments.schedule_runs('*/20 9-10 * * mon-fri', 'UTC', 4, '2026-01-09 10:30+00');
SELECT * FROM segments.schedule_runs('0 12 * * fri-sun', 'UTC', 4, '2026-01-08 00:00+00');
-- Without a time zone, the session's.
SET TimeZone = 'Asia/Muscat';
SELECT segments._next_run('0 3 * * *', NULL, '2026-01-01 00:00+00') AT TIME ZONE 'UTC' AS muscat;
SET TimeZone = 'UTC';

-- Invalid schedules and time zones are refused with where and why.
SELECT * FROM segments.schedule_runs('every mondy at 09:00');
SELECT * FROM segments.schedule_runs('0 25 * * *');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM segments.schedule_runs('0 3 * *');
SELECT * FROM segments.schedule_runs('0 0 30 2 *');
SELECT * FROM segments.schedule_runs('30 seconds');
SELECT * FROM segments.schedule_runs('0 3 * * *', 'Mars/Olympus');
\echo :LAST_ERROR_SQLSTATE

-- A scheduled segment: its next run is a column, computed when saved.
SELECT segments.create_segment('Gold daily', 'sch_customers', 'tier = ''gold''',
                               kind => 'scheduled', schedule => 'every day at 03:00',
                               timezone => 'Asia/Muscat') > 0 AS created;
SELECT name, schedule, timezone, status,
       next_run_at = segments._next_run(schedule, timezone, now()) AS next_run_computed,
       to_char(next_run_at AT TIME ZONE 'Asia/Muscat', 'HH24:MI') AS local_time,
       segments.member_count('gold-daily') AS members
FROM segments.segment WHERE system_name = 'gold-daily';
SELECT segments.create_segment('Bad', 'sch_customers', 'TRUE', kind => 'scheduled',
                               schedule => 'every day at 25:00');
\echo :LAST_ERROR_SQLSTATE
SELECT segments.create_segment('Bad', 'sch_customers', 'TRUE', kind => 'scheduled',
                               schedule => '0 3 * * *', timezone => 'Nowhere/City');
SELECT segments.create_segment('Bad', 'sch_customers', 'TRUE', schedule => '0 3 * * *');
SELECT segments.create_segment('Bad', 'sch_customers', 'TRUE', kind => 'scheduled',
                               schedule => '0 3 * * 9', active => false);
SELECT count(*) AS nothing_created FROM segments.segment WHERE name = 'Bad';
-- Changing the schedule or zone recomputes the next run; '' clears the schedule.
SELECT segments.alter_segment('gold-daily', schedule => '0 4 * * *', timezone => 'UTC');
SELECT to_char(next_run_at, 'HH24:MI') AS next_run FROM segments.segment
 WHERE system_name = 'gold-daily';
SELECT segments.alter_segment('gold-daily', schedule => '');
SELECT schedule, next_run_at FROM segments.segment WHERE system_name = 'gold-daily';
SELECT segments.alter_segment('gold-daily', schedule => 'every day at 03:00');
SELECT segments.alter_segment('gold-daily', schedule => 'every day at 3 oclock');
SELECT schedule FROM segments.segment WHERE system_name = 'gold-daily';

-- refresh_due() refreshes what is due (setting next_run_at in the past means "due now"),
-- writes only the difference, and computes the next run.
SELECT segments.create_segment('Oman visitors', 'sch_customers',
                               'country = ''OM'' AND visits > 10', kind => 'scheduled',
                               schedule => '*/5 * * * *') > 0 AS created;
SELECT segments.create_segment('Not due', 'sch_customers', 'TRUE', kind => 'scheduled',
                               schedule => '0 0 1 1 *') > 0 AS created;
-- Without a time zone, the saving session's is recorded.
SELECT system_name, timezone FROM segments.segment
 WHERE system_name IN ('oman-visitors', 'not-due') ORDER BY 1;
UPDATE sch_customers SET tier = 'gold' WHERE id IN (1, 2);
UPDATE sch_customers SET country = 'OM' WHERE id = 13;
UPDATE segments.segment SET next_run_at = now() - interval '1 minute'
 WHERE system_name IN ('gold-daily', 'oman-visitors');
SELECT * FROM segments.refresh_due() ORDER BY 1;
SELECT system_name, status, next_run_at > now() AS next_run_ahead,
       last_refresh_at IS NOT NULL AS refreshed
FROM segments.segment WHERE kind = 'scheduled' ORDER BY id;
SELECT segments.is_member('gold-daily', 1) AS one_is_gold, segments.is_member('oman-visitors', 13)
       AS thirteen_visits;
SELECT count(*) AS history_points FROM segments.history h
 WHERE h.segment_id = segments.segment_id('gold-daily');
-- Nothing left to do.
SELECT * FROM segments.refresh_due();
-- A refresh that changes nothing writes no membership row and no feed row.
SELECT count(*) AS feed_before FROM segments.changes \gset
SELECT array_agg(ctid ORDER BY ctid)::text AS rows_before FROM segments.sch_customers_members \gset
UPDATE segments.segment SET next_run_at = now() - interval '1 minute'
 WHERE system_name = 'gold-daily';
SELECT * FROM segments.refresh_due();
SELECT (SELECT count(*) FROM segments.changes) - :feed_before AS feed_rows_written,
       (SELECT array_agg(m.ctid ORDER BY m.ctid)::text FROM segments.sch_customers_members m)
         = :'rows_before' AS membership_rows_untouched;

-- Inactive segments are skipped; a failing refresh is recorded, keeps its old membership and
-- does not stop the others.
SELECT segments.deactivate('not-due');
UPDATE segments.segment SET next_run_at = now() - interval '1 minute'
 WHERE system_name = 'not-due';
SELECT * FROM segments.refresh_due();
CREATE ROLE sch_owner LOGIN IN ROLE segments_admin;
GRANT SELECT ON sch_customers TO sch_owner;
SET ROLE sch_owner;
SELECT segments.create_segment('Owned', 'sch_customers', 'tier = ''silver''',
                               kind => 'scheduled', schedule => '0 * * * *') > 0 AS created;
RESET ROLE;
SELECT segments.member_count('owned') AS owned_before;
REVOKE SELECT ON sch_customers FROM sch_owner;
UPDATE sch_customers SET tier = 'silver' WHERE id = 3;
UPDATE segments.segment SET next_run_at = now() - interval '1 minute'
 WHERE system_name IN ('owned', 'oman-visitors');
SELECT * FROM segments.refresh_due() ORDER BY 1;
SELECT system_name, status, last_error, next_run_at > now() AS next_run_ahead
FROM segments.segment WHERE system_name IN ('owned', 'oman-visitors') ORDER BY 1;
SELECT segments.member_count('owned') AS owned_kept;
GRANT SELECT ON sch_customers TO sch_owner;
SELECT added, removed, total FROM segments.refresh('owned');
SELECT status, last_error FROM segments.segment WHERE system_name = 'owned';
-- A scheduled activation that fails is recorded and does not stop the others; a segment whose
-- owner lost a privilege can still be deactivated.
SELECT segments.deactivate('owned');
REVOKE SELECT ON sch_customers FROM sch_owner;
UPDATE segments.segment SET activate_at = now() - interval '1 second'
 WHERE system_name IN ('owned', 'not-due');
SELECT * FROM segments.refresh_due() ORDER BY 1;
SELECT segments.rename_segment('owned', 'Owned (broken)');
SELECT segments.rename_segment('owned', 'Owned');
SELECT system_name, active, status, last_error FROM segments.segment
 WHERE system_name IN ('owned', 'not-due') ORDER BY 1;
GRANT SELECT ON sch_customers TO sch_owner;
SELECT * FROM segments.refresh_due() ORDER BY 1;
SELECT active, activate_at FROM segments.segment WHERE system_name = 'owned';
-- A refresh shown as running that nobody holds was interrupted: recorded as such.
UPDATE segments.segment SET status = 'running' WHERE system_name = 'owned';
SELECT * FROM segments.refresh_due() ORDER BY 1;
SELECT status, last_error FROM segments.segment WHERE system_name = 'owned';

-- The procedure form commits after each segment.
UPDATE segments.segment SET next_run_at = now() - interval '1 minute'
 WHERE system_name IN ('owned', 'gold-daily');
UPDATE sch_customers SET tier = 'gold' WHERE id = 4;
CALL segments.refresh_due_proc();
SELECT system_name, status, next_run_at > now() AS next_run_ahead FROM segments.segment
 WHERE system_name IN ('owned', 'gold-daily') ORDER BY 1;
SELECT segments.is_member('gold-daily', 4) AS four_is_gold;

-- Update on events: declared once; an event of a listed type makes the segment due, a burst
-- of events means one refresh, other types do nothing.
CREATE TABLE sch_events (id bigserial PRIMARY KEY, customer_id bigint, kind text, at timestamptz
                         DEFAULT now());
SELECT segments.declare_events('sch_events', 'customer', 'kind');
\echo :LAST_ERROR_SQLSTATE
CREATE SEQUENCE sch_sequence;
SELECT segments.declare_events('sch_sequence', 'customer_id', 'kind');
\echo :LAST_ERROR_SQLSTATE
SET ROLE sch_owner;
SELECT segments.declare_events('sch_events', 'customer_id', 'kind');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT segments.declare_events('sch_events', 'customer_id', 'kind');
SELECT segments.create_segment('Buyers', 'sch_customers', 'visits > 55', kind => 'scheduled',
                               update_on_events => ARRAY[' purchase', 'refund', ''],
                               auto_disable_after => '30 days') > 0 AS created;
SELECT update_on_events, next_run_at FROM segments.segment WHERE system_name = 'buyers';
SELECT segments.create_segment('Events on realtime', 'sch_customers', 'TRUE',
                               update_on_events => ARRAY['purchase']);
UPDATE sch_customers SET visits = 56 WHERE id = 5;
INSERT INTO sch_events (customer_id, kind) VALUES (5, 'page_view');
SELECT count(*) AS marks_after_other_type FROM segments.event_marks;
BEGIN;
INSERT INTO sch_events (customer_id, kind) SELECT 5, 'purchase' FROM generate_series(1, 50);
INSERT INTO sch_events (customer_id, kind) VALUES (5, 'refund');
COMMIT;
INSERT INTO sch_events (customer_id, kind) VALUES (6, 'purchase');
SELECT count(*) AS marks_one_per_transaction FROM segments.event_marks;
SELECT * FROM segments.refresh_due();
SELECT segments.is_member('buyers', 5) AS five_bought,
       (SELECT count(*) FROM segments.event_marks) AS marks_left;
SELECT * FROM segments.refresh_due();
-- A rolled-back event marks nothing.
BEGIN;
INSERT INTO sch_events (customer_id, kind) VALUES (7, 'purchase');
ROLLBACK;
SELECT count(*) AS marks_after_rollback FROM segments.event_marks;
SELECT segments.undeclare_events('sch_events');
INSERT INTO sch_events (customer_id, kind) VALUES (7, 'purchase');
SELECT count(*) AS marks_after_undeclare FROM segments.event_marks;
SELECT segments.undeclare_events('sch_events');
SELECT segments.declare_events('sch_events', 'customer_id', 'kind');
-- The declared columns stay.
ALTER TABLE sch_events DROP COLUMN kind;
\echo :LAST_ERROR_SQLSTATE
ALTER TABLE sch_events RENAME COLUMN customer_id TO customer;
ALTER TABLE sch_events ADD COLUMN note text;

-- Auto-disable: a schedule unused for auto_disable_after switches to manual refresh, saying so;
-- changing the schedule turns it back on. Reads count as use.
SELECT segments.create_segment('Rarely read', 'sch_customers', 'tier = ''bronze''',
                               kind => 'scheduled', schedule => '0 * * * *',
                               auto_disable_after => '30 days') > 0 AS created;
UPDATE segments.segment SET created_at = now() - interval '31 days',
                            updated_at = now() - interval '31 days'
 WHERE system_name IN ('rarely-read', 'buyers');
SELECT segments.member_count('buyers') > 0 AS buyers_read;
SELECT * FROM segments.refresh_due() ORDER BY 1;
SELECT system_name, next_run_at IS NULL AS manual, auto_disabled_at IS NOT NULL AS disabled,
       status_detail LIKE 'manual refresh: schedule disabled because the segment was not used for %'
         AS says_so
FROM segments.segment WHERE system_name IN ('rarely-read', 'buyers') ORDER BY 1;
INSERT INTO sch_events (customer_id, kind) VALUES (8, 'purchase');
SELECT count(*) AS marks_for_disabled FROM segments.event_marks m
 WHERE m.segment_id = segments.segment_id('rarely-read');
SELECT segments.alter_segment('rarely-read', schedule => '0 */2 * * *');
SELECT next_run_at IS NOT NULL AS scheduled_again, auto_disabled_at, status_detail
FROM segments.segment WHERE system_name = 'rarely-read';
-- Clearing auto_disabled_at by hand turns it back on too.
UPDATE segments.segment SET updated_at = now() - interval '31 days', last_used_at = NULL
 WHERE system_name = 'rarely-read';
SELECT * FROM segments.refresh_due() ORDER BY 1;
UPDATE segments.segment SET auto_disabled_at = NULL WHERE system_name = 'rarely-read';
SELECT next_run_at IS NOT NULL AS scheduled_again, status_detail,
       updated_at > now() - interval '1 minute' AS counts_as_use
FROM segments.segment WHERE system_name = 'rarely-read';
-- A segment without a schedule made due by hand runs once, not forever.
UPDATE segments.segment SET next_run_at = now() - interval '1 minute' WHERE system_name = 'buyers';
SELECT * FROM segments.refresh_due();
SELECT next_run_at FROM segments.segment WHERE system_name = 'buyers';
SELECT * FROM segments.refresh_due();

-- pg_cron is not installed in this database: a clear message.
SELECT segments.schedule_with_pg_cron();
\echo :LAST_ERROR_SQLSTATE
SELECT segments.unschedule_pg_cron() AS removed;

-- Dropping a segment removes its marks; dropping an events table forgets it.
INSERT INTO sch_events (customer_id, kind) VALUES (9, 'refund');
SELECT segments.drop_segment('buyers');
SELECT count(*) AS marks_of_dropped FROM segments.event_marks;
DROP TABLE sch_events;
SELECT count(*) AS event_sources FROM segments.event_source;
SELECT segments.drop_segment('owned');
DROP OWNED BY sch_owner;
DROP ROLE sch_owner;

-- Refreshes of integer keys compare them in memory: keys of every integer width, negative
-- ones, keys that differ in their high bytes, rows stored out of key order. After each
-- refresh, membership equals the filter's truth and the feed holds exactly the difference.
CREATE TABLE sch_wide (id bigint PRIMARY KEY, score int);
INSERT INTO sch_wide
SELECT k, (abs(k) % 7)::int
FROM (SELECT (ARRAY[-1, 1])[1 + i % 2] * (i::bigint * 2654435761 % 9000000000000000000) AS k
      FROM generate_series(1, 3000) AS i) AS keys ORDER BY md5(k::text);
CREATE TABLE sch_small (id smallint PRIMARY KEY, score int);
INSERT INTO sch_small SELECT i, abs(i) % 7 FROM generate_series(-300, 300) AS i ORDER BY md5(i::text);
CREATE TABLE sch_plain (id integer PRIMARY KEY, score int);
INSERT INTO sch_plain SELECT i * 65537, abs(i) % 7 FROM generate_series(-3000, 3000, 3) AS i;
SELECT segments.create_segment('wide', 'sch_wide', 'score >= 3', kind => 'scheduled') > 0 AS wide,
       segments.create_segment('small', 'sch_small', 'score >= 3', kind => 'scheduled') > 0 AS small,
       segments.create_segment('plain', 'sch_plain', 'score >= 3', kind => 'scheduled') > 0 AS plain;
UPDATE sch_wide SET score = (score + 2) % 7;
UPDATE sch_small SET score = (score + 2) % 7;
UPDATE sch_plain SET score = (score + 2) % 7;
-- Members against the truth, and the feed written since a mark.
CREATE FUNCTION sch_check(segment text, tbl regclass, since bigint, OUT members bigint,
                          OUT truth bigint, OUT missing bigint, OUT extra bigint,
                          OUT entered bigint, OUT exited bigint)
LANGUAGE plpgsql AS $$
BEGIN
  SELECT count(*) INTO members FROM segments.members(segment);
  EXECUTE format('SELECT count(*) FROM %s WHERE score >= 3', tbl) INTO truth;
  EXECUTE format('SELECT count(*) FROM %s t WHERE t.score >= 3 AND NOT EXISTS '
                 '(SELECT FROM segments.members(%L) m (key) WHERE m.key = t.id::text)',
                 tbl, segment) INTO missing;
  EXECUTE format('SELECT count(*) FROM segments.members(%L) m (key) WHERE NOT EXISTS '
                 '(SELECT FROM %s t WHERE t.score >= 3 AND t.id::text = m.key)',
                 segment, tbl) INTO extra;
  SELECT count(*) FILTER (WHERE c.change = 'entered'), count(*) FILTER (WHERE c.change = 'exited')
    INTO entered, exited
    FROM segments.changes c WHERE c.segment_id = segments._resolve(segment) AND c.id > since;
END
$$;
SELECT coalesce(max(id), 0) AS feed_mark FROM segments.changes \gset
BEGIN;
SET LOCAL track_functions = 'all';
SELECT s.name, r.added, r.removed, r.total, c.*
FROM (VALUES ('wide', 'sch_wide'), ('small', 'sch_small'), ('plain', 'sch_plain')) AS s (name, tbl),
     LATERAL segments.refresh(s.name) AS r,
     LATERAL sch_check(s.name, s.tbl::regclass, :feed_mark) AS c
ORDER BY s.name;
-- Each refresh went through the comparison in memory, none through the SQL statement.
SELECT funcname, calls FROM pg_stat_xact_user_functions
 WHERE funcname IN ('_refresh_by_integer_keys', '_execute_as') ORDER BY 1;
COMMIT;
-- Nothing left to change: nothing written.
SELECT coalesce(max(id), 0) AS feed_mark FROM segments.changes \gset
SELECT s.name, r.added, r.removed, r.total, c.*
FROM (VALUES ('wide', 'sch_wide'), ('small', 'sch_small'), ('plain', 'sch_plain')) AS s (name, tbl),
     LATERAL segments.refresh(s.name) AS r,
     LATERAL sch_check(s.name, s.tbl::regclass, :feed_mark) AS c
ORDER BY s.name;
-- More keys than the memory given: nothing is written and the caller falls back to SQL.
SELECT segments._refresh_by_integer_keys(
  'SELECT id, 2 FROM public.sch_wide',
  'SELECT pg_catalog.count(*) FROM pg_catalog.unnest($1) AS k',
  'SELECT pg_catalog.count(*) FROM public.sch_wide AS w WHERE w.id = ANY ($1)', 1, -1) AS too_many;
SELECT segments._refresh_by_integer_keys(
  'SELECT id::bigint, 2 FROM public.sch_plain WHERE id > 0',
  'SELECT pg_catalog.count(*) FROM pg_catalog.unnest($1) AS k',
  'SELECT pg_catalog.count(*) FROM public.sch_plain AS w WHERE w.id = ANY ($1)', 1, 1000) AS fits;
-- An object estimated larger than that is not read at all.
SELECT segments._refresh_by_integer_keys('SELECT 1', 'SELECT 0::bigint', 'SELECT 0::bigint', 1, 5000)
  AS estimated_too_large;
-- A read query of another shape is refused.
SELECT segments._refresh_by_integer_keys('SELECT 1', 'SELECT 0::bigint', 'SELECT 0::bigint', 1, 1);
SELECT segments.drop_segment(s) FROM unnest(ARRAY['wide', 'small', 'plain']) AS s;
DROP FUNCTION sch_check(text, regclass, bigint);
DROP TABLE sch_wide, sch_small, sch_plain;
