-- Realtime segments over related rows: changes to referenced rows, to foreign keys, to child
-- rows and to other segments' membership update exactly the affected members, in the same
-- transaction.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
CREATE TABLE rr_orgs (
  id int PRIMARY KEY,
  industry text
);
CREATE TABLE rr_customers (
  id bigint PRIMARY KEY,
  tier text,
  org_id int REFERENCES rr_orgs
);
CREATE TABLE rr_orders (
  id bigint PRIMARY KEY,
  customer_id bigint REFERENCES rr_customers ON DELETE CASCADE,
  status text,
  amount numeric,
  placed_at timestamptz DEFAULT now()
);
CREATE INDEX ON rr_orders (customer_id);
INSERT INTO rr_orgs VALUES (1, 'software'), (2, 'retail'), (3, NULL);
INSERT INTO rr_customers
SELECT i, (ARRAY['gold', 'silver', 'bronze'])[1 + i % 3], 1 + i % 3 FROM generate_series(1, 12) AS i;
INSERT INTO rr_orders (id, customer_id, status, amount)
VALUES (1, 1, 'paid', 100), (2, 1, 'paid', 50), (3, 2, 'paid', 700), (4, 3, 'refunded', 900);

-- Every active segment of rr_customers against the truth its compiled SQL gives.
CREATE FUNCTION rr_check() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  s record;
  wrong text := '';
  truth bigint[];
  held bigint[];
BEGIN
  FOR s IN SELECT id, system_name, filter FROM segments.segment
            WHERE object = 'rr_customers'::regclass AND active ORDER BY id LOOP
    EXECUTE format('SELECT coalesce(array_agg(id ORDER BY id), ''{}'') FROM rr_customers WHERE %s',
                   segments.to_sql(s.filter, 'rr_customers')) INTO truth;
    SELECT coalesce(array_agg(m.member ORDER BY m.member), '{}') INTO held
      FROM segments.rr_customers_members m WHERE m.segment_id = s.id;
    IF truth IS DISTINCT FROM held THEN
      wrong := wrong || format(' %s: truth %s, held %s;', s.system_name, truth, held);
    END IF;
  END LOOP;
  RETURN CASE WHEN wrong = '' THEN 'membership is true' ELSE 'WRONG' || wrong END;
END
$$;
CREATE FUNCTION rr_members(segment text) RETURNS bigint[] LANGUAGE sql AS $$
  SELECT coalesce(array_agg(m::bigint ORDER BY m::bigint), '{}') FROM segments.members(segment) m
$$;

SELECT segments.create_segment('Gold', 'rr_customers', 'tier = ''gold''', system_name => 'gold') > 0;
SELECT segments.create_segment('Software', 'rr_customers', 'rr_orgs.industry = ''software''',
                               system_name => 'software') > 0;
SELECT segments.create_segment('Repeat', 'rr_customers', 'rr_orders.count(status = ''paid'') >= 2',
                               system_name => 'repeat') > 0;
SELECT segments.create_segment('Big spender', 'rr_customers',
  'rr_orders.sum(amount WHERE status = ''paid'') > 500', system_name => 'big-spender') > 0;
SELECT segments.create_segment('Gold repeat', 'rr_customers',
  'IN SEGMENT ''gold'' AND IN SEGMENT ''repeat''', system_name => 'gold-repeat') > 0;
SELECT segments.create_segment('Gold outside software', 'rr_customers',
  'IN SEGMENT ''gold'' AND NOT IN SEGMENT ''software''', system_name => 'gold-elsewhere') > 0;
SELECT rr_members('software') AS software, rr_members('repeat') AS repeat,
       rr_members('big-spender') AS big, rr_members('gold-repeat') AS gold_repeat,
       rr_members('gold-elsewhere') AS gold_elsewhere;
-- The extension installed triggers on the tables these segments read.
SELECT tgrelid::regclass, count(*) FROM pg_trigger WHERE tgname LIKE '\_segments\_related\_%'
 GROUP BY 1 ORDER BY tgrelid::regclass::text;
SELECT related, object FROM segments.related_source ORDER BY related::text;

-- A child row: visible in the same transaction, undone by ROLLBACK.
BEGIN;
INSERT INTO rr_orders (id, customer_id, status, amount) VALUES (10, 4, 'paid', 10), (11, 4, 'paid', 20);
SELECT segments.is_member('repeat', 4) AS repeat_4;
ROLLBACK;
SELECT segments.is_member('repeat', 4) AS repeat_4_after_rollback,
       (SELECT count(*) FROM segments.changes c
         WHERE c.member = '4' AND c.segment_id = segments.segment_id('repeat')) AS feed_rows_for_4;
INSERT INTO rr_orders (id, customer_id, status, amount) VALUES (10, 4, 'paid', 10), (11, 4, 'paid', 20);
SELECT rr_members('repeat') AS repeat, rr_members('gold-repeat') AS gold_repeat, rr_check();

-- Updating and deleting child rows.
UPDATE rr_orders SET status = 'refunded' WHERE id = 2;
SELECT rr_members('repeat') AS repeat, rr_check();
UPDATE rr_orders SET status = 'paid' WHERE id = 4;
SELECT rr_members('big-spender') AS big, rr_check();
DELETE FROM rr_orders WHERE id = 11;
SELECT rr_members('repeat') AS repeat, rr_check();
-- A child row moving to another parent changes both.
UPDATE rr_orders SET customer_id = 5 WHERE id = 3;
SELECT rr_members('big-spender') AS big, rr_check();

-- The referenced row changes: every customer of the organization follows.
UPDATE rr_orgs SET industry = 'software' WHERE id = 2;
SELECT rr_members('software') AS software, rr_members('gold-elsewhere') AS gold_elsewhere, rr_check();
UPDATE rr_orgs SET industry = NULL WHERE id = 1;
SELECT rr_members('software') AS software, rr_check();
-- The foreign key changes (the object's own row).
UPDATE rr_customers SET org_id = 2 WHERE id = 3;
UPDATE rr_customers SET org_id = NULL WHERE id = 6;
SELECT rr_members('software') AS software, rr_members('gold-elsewhere') AS gold_elsewhere, rr_check();

-- A plain segment's change cascades to the segments that read it, in the same statement.
UPDATE rr_customers SET tier = 'gold' WHERE id IN (4, 5);
SELECT rr_members('gold') AS gold, rr_members('gold-repeat') AS gold_repeat,
       rr_members('gold-elsewhere') AS gold_elsewhere, rr_check();
SELECT s.system_name, c.change FROM segments.changes c JOIN segments.segment s ON s.id = c.segment_id
 WHERE c.member = '4' AND s.object = 'rr_customers'::regclass ORDER BY c.id;

-- Savepoints, multi-row statements, COPY, deletes of the object's rows.
BEGIN;
SAVEPOINT a;
INSERT INTO rr_orders (id, customer_id, status, amount) VALUES (20, 7, 'paid', 1), (21, 7, 'paid', 1);
ROLLBACK TO SAVEPOINT a;
INSERT INTO rr_orders (id, customer_id, status, amount)
SELECT 100 + i, 1 + i % 12, 'paid', i FROM generate_series(1, 30) AS i;
COMMIT;
SELECT rr_members('repeat') AS repeat, rr_check();
COPY rr_orders (id, customer_id, status, amount) FROM stdin;
200	12	paid	600
\.
SELECT rr_members('big-spender') AS big, rr_check();
DELETE FROM rr_customers WHERE id = 12;
SELECT rr_check();
TRUNCATE rr_orders;
SELECT rr_members('repeat') AS repeat, rr_members('gold-repeat') AS gold_repeat, rr_check();

-- Writers need no grant on the segments schema.
CREATE ROLE rr_writer;
GRANT SELECT, INSERT, UPDATE, DELETE ON rr_orders TO rr_writer;
GRANT SELECT, UPDATE ON rr_orgs TO rr_writer;
GRANT SELECT ON rr_customers TO rr_writer;
SET ROLE rr_writer;
INSERT INTO rr_orders (id, customer_id, status, amount) VALUES (300, 2, 'paid', 1), (301, 2, 'paid', 1);
UPDATE rr_orgs SET industry = 'software' WHERE id = 1;
RESET ROLE;
SELECT rr_members('repeat') AS repeat, rr_check();

-- Relative time inside an aggregate: refresh_due() keeps it exact as time passes, rechecking
-- only the rows whose time has come.
SELECT segments.create_segment('Recent buyers', 'rr_customers',
  'rr_orders.count(placed_at WITHIN LAST 30 DAYS) >= 1', system_name => 'recent') > 0;
INSERT INTO rr_orders (id, customer_id, status, amount, placed_at)
VALUES (400, 9, 'paid', 1, now() - interval '30 days' + interval '2 seconds');
SELECT segments.is_member('recent', 9) AS recent_9;
-- Each row with a recent order has its recheck time (when its newest order leaves the window).
SELECT count(*) > 1 AS rows_with_times, bool_and(due_at > now()) AS all_ahead
  FROM segments.related_rechecks WHERE segment_id = segments.segment_id('recent');
SELECT due_at - now() <= interval '2 seconds' AS nine_soon FROM segments.related_rechecks
 WHERE segment_id = segments.segment_id('recent') AND member = '9';
SELECT pg_sleep(2.5);
SELECT segment, action FROM segments.refresh_due() WHERE segment = 'recent';
SELECT segments.is_member('recent', 9) AS recent_9_later, rr_check();

-- Extreme times in related rows never make a write fail.
INSERT INTO rr_orders (id, customer_id, status, amount, placed_at)
VALUES (401, 10, 'paid', 1, 'infinity'), (402, 11, 'paid', 1, '-infinity'),
       (403, 10, 'paid', 1, '290000-01-01'), (404, 11, 'paid', 1, '4000-01-01 BC');
SELECT rr_check();

-- A foreign key of the object to itself: referred customers follow their referrer.
ALTER TABLE rr_customers ADD COLUMN referrer bigint REFERENCES rr_customers;
UPDATE rr_customers SET referrer = 3 WHERE id IN (1, 2);
SELECT segments.create_segment('Referred by gold', 'rr_customers', 'rr_customers.tier = ''gold''',
                               system_name => 'referred-by-gold') > 0;
SELECT rr_members('referred-by-gold') AS referred_by_gold;
UPDATE rr_customers SET tier = 'silver' WHERE id = 3;
SELECT rr_members('referred-by-gold') AS referred_by_gold, rr_check();
UPDATE rr_customers SET tier = 'gold' WHERE id = 3;
SELECT rr_members('referred-by-gold') AS referred_by_gold, rr_check();
SELECT segments.drop_segment('referred-by-gold');

-- Changing, switching off and dropping segments over related rows while IN SEGMENT readers sit
-- on the object ('gold-repeat' reads 'repeat'): each change holds in its own transaction, the
-- readers follow it, and nothing is left of a dropped segment.
SELECT segments.alter_segment('repeat', filter => 'rr_orders.count(status = ''paid'') >= 1');
SELECT segments.alter_segment('big-spender',
                              filter => 'rr_orders.sum(amount WHERE status = ''paid'') > 100');
SELECT rr_members('repeat') AS repeat, rr_members('gold-repeat') AS gold_repeat, rr_check();
SELECT segments.deactivate('big-spender');
SELECT segments.member_count('big-spender') AS inactive_members, rr_check();
SELECT segments.activate('big-spender');
SELECT segments.alter_segment('repeat', filter => 'rr_orders.count(status = ''paid'') >= 2');
SELECT segments.alter_segment('big-spender',
                              filter => 'rr_orders.sum(amount WHERE status = ''paid'') > 500');
SELECT rr_members('repeat') AS repeat, rr_members('gold-repeat') AS gold_repeat, rr_check();
SELECT segments.create_segment('Any order', 'rr_customers', 'rr_orders.count() >= 1',
                               system_name => 'any-order') > 0;
SELECT segments.drop_segment('any-order');
SELECT count(*) AS left_behind FROM segments.rr_customers_members m
 WHERE NOT EXISTS (SELECT FROM segments.segment s WHERE s.id = m.segment_id);

-- DDL that breaks a related filter: writes go on (the segment is left alone until its filter
-- is changed or the column comes back).
ALTER TABLE rr_orders RENAME COLUMN status TO state;
INSERT INTO rr_orders (id, customer_id, state, amount) VALUES (500, 1, 'paid', 1);
UPDATE rr_orgs SET industry = 'retail' WHERE id = 3;
ALTER TABLE rr_orders RENAME COLUMN state TO status;
INSERT INTO rr_orders (id, customer_id, status, amount) VALUES (501, 1, 'paid', 1);
SELECT rr_check();

-- The aggregates of all segments over one relationship are computed in one pass over its rows,
-- each with its own condition: count, sum, avg, min, max, exists, none at all, and a condition
-- that crosses a relationship again.
SELECT count(*) AS created FROM (
  SELECT segments.create_segment('Agg avg', 'rr_customers',
           'rr_orders.avg(amount WHERE status = ''paid'') > 60', system_name => 'agg-avg')
  UNION ALL
  SELECT segments.create_segment('Agg min', 'rr_customers', 'rr_orders.min(amount) < 60',
           system_name => 'agg-min')
  UNION ALL
  SELECT segments.create_segment('Agg max', 'rr_customers',
           'rr_orders.max(amount WHERE status <> ''paid'') >= 500', system_name => 'agg-max')
  UNION ALL
  SELECT segments.create_segment('Agg exists', 'rr_customers',
           'rr_orders.exists(status = ''refunded'') AND NOT rr_orders.exists(amount > 800)',
           system_name => 'agg-exists')
  UNION ALL
  SELECT segments.create_segment('Agg none', 'rr_customers',
           'rr_orders.count(status = ''paid'') = 0 AND rr_orders.sum(amount) IS NULL',
           system_name => 'agg-none')
  UNION ALL
  SELECT segments.create_segment('Agg software', 'rr_customers',
           'rr_orders.count(rr_customers.rr_orgs.industry = ''software'') >= 2',
           system_name => 'agg-software')) AS c;
INSERT INTO rr_orgs VALUES (4, 'media');
INSERT INTO rr_customers VALUES (101, 'gold', 4), (102, 'silver', 4), (103, 'bronze', 4);
INSERT INTO rr_orders (id, customer_id, status, amount)
VALUES (601, 101, 'paid', 20), (602, 101, 'paid', 130), (603, 102, 'refunded', 550),
       (604, 102, 'paid', 900), (605, 103, 'refunded', 10);
UPDATE rr_orders SET status = 'paid' WHERE id = 603;
UPDATE rr_orders SET amount = 70 WHERE id = 605;
DELETE FROM rr_orders WHERE id = 604;
UPDATE rr_orgs SET industry = 'software' WHERE id = 4;
SELECT rr_members('agg-avg') AS avg, rr_members('agg-min') AS min, rr_members('agg-max') AS max,
       rr_members('agg-exists') AS exists, rr_members('agg-none') AS none,
       rr_members('agg-software') AS software, rr_check();
UPDATE rr_orgs SET industry = 'media' WHERE id = 4;
SELECT rr_members('agg-software') AS software, rr_check();
DELETE FROM rr_customers WHERE id > 100;
DELETE FROM rr_orgs WHERE id = 4;
SELECT count(*) AS dropped FROM (
  SELECT segments.drop_segment(s)
    FROM unnest(ARRAY['agg-avg', 'agg-min', 'agg-max', 'agg-exists', 'agg-none',
                      'agg-software']) AS s) AS d;

-- IN SEGMENT inside an aggregate's condition cannot be realtime (yet).
SELECT segments.create_segment('Big orders', 'rr_orders', kind => 'static',
                               system_name => 'big-orders') > 0;
SELECT segments.create_segment('Nested', 'rr_customers', 'rr_orders.exists(IN SEGMENT ''big-orders'')');
SELECT segments.drop_segment('big-orders');

-- Deactivating and dropping: triggers leave the tables no realtime segment reads any more.
SELECT segments.deactivate('software');
SELECT related FROM segments.related_source ORDER BY related::text;
SELECT segments.activate('software');
SELECT rr_members('software') AS software, rr_check();
SELECT segments.drop_segment(s)
  FROM unnest(ARRAY['gold-repeat', 'gold-elsewhere', 'software', 'repeat', 'big-spender',
                    'recent']) AS s;
SELECT count(*) AS related_triggers FROM pg_trigger WHERE tgname LIKE '\_segments\_related\_%';
SELECT count(*) AS related_sources FROM segments.related_source;
SELECT segments.drop_segment('gold');
-- Objects keyed by text: the answers are compared with stored membership by key, entries and
-- exits written for exactly the keys that changed, in the writing transaction.
CREATE TABLE rr_handles (handle text PRIMARY KEY, tier text);
CREATE TABLE rr_posts (id int PRIMARY KEY, handle text REFERENCES rr_handles ON DELETE CASCADE,
                       likes int);
CREATE INDEX ON rr_posts (handle);
INSERT INTO rr_handles VALUES ('@ana', 'gold'), ('@bo''b', 'gold'), ('@cy', 'silver');
SELECT segments.create_segment('Posters', 'rr_handles', 'rr_posts.count() >= 2',
                               system_name => 'posters') > 0,
       segments.create_segment('Liked gold', 'rr_handles',
                               'rr_posts.sum(likes) > 10 AND tier = ''gold''',
                               system_name => 'liked-gold') > 0;
CREATE FUNCTION rr_handle_check() RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(format('%s: %s', s, coalesce((SELECT string_agg(m, ', ' ORDER BY m)
                                                    FROM segments.members(s) m), '-')), '; '
                    ORDER BY s)
    FROM unnest(ARRAY['liked-gold', 'posters']) AS s
$$;
SELECT rr_handle_check();
INSERT INTO rr_posts VALUES (1, '@ana', 4), (2, '@ana', 9), (3, '@bo''b', 20), (4, '@cy', 1);
SELECT rr_handle_check();
BEGIN;
INSERT INTO rr_posts VALUES (5, '@cy', 1), (6, '@bo''b', 0);
UPDATE rr_posts SET likes = 0 WHERE id = 2;
SELECT rr_handle_check();
ROLLBACK;
SELECT rr_handle_check();
-- One statement with exits and entries: a post moves from @ana to @cy.
UPDATE rr_posts SET handle = '@cy' WHERE id = 2;
SELECT rr_handle_check();
DELETE FROM rr_handles WHERE handle = '@ana';  -- its posts go by cascade
SELECT rr_handle_check(), (SELECT count(*) FROM segments.rr_handles_members
                            WHERE member = '@ana') AS ana_rows;
SELECT s.system_name, c.member, c.change FROM segments.changes c
  JOIN segments.segment s ON s.id = c.segment_id
 WHERE s.system_name IN ('posters', 'liked-gold')
 ORDER BY c.id;
SELECT segments.drop_segment('posters'), segments.drop_segment('liked-gold');
DROP TABLE rr_posts, rr_handles;
DROP FUNCTION rr_handle_check;
DROP TABLE rr_orders, rr_customers, rr_orgs;
DROP FUNCTION rr_check, rr_members;
DROP OWNED BY rr_writer;
DROP ROLE rr_writer;
