-- The segment catalog: creating, checking, altering and dropping definitions.
\set SHOW_CONTEXT never
CREATE TABLE shop_customers (
  id bigint PRIMARY KEY,
  name text,
  tier text,
  country text,
  tags text[],
  lifetime_value numeric,
  created_at timestamptz DEFAULT now()
);
INSERT INTO shop_customers (id, name, tier, country, tags, lifetime_value)
SELECT i, 'customer ' || i, (ARRAY['gold', 'silver', 'bronze'])[1 + i % 3],
       (ARRAY['OM', 'AE', 'SA'])[1 + (i / 3) % 3],
       CASE WHEN i % 4 = 0 THEN ARRAY['vip'] ELSE ARRAY[]::text[] END, i * 10
FROM generate_series(1, 30) AS i;

-- create_segment: every kind; the first membership is computed (static starts empty).
SELECT segments.create_segment('Gold in Oman', 'shop_customers',
                               'tier = ''gold'' AND country = ''OM''') AS gold_id \gset
SELECT segments.create_segment('VIP customers', 'shop_customers', 'tags CONTAINS ''vip''',
                               kind => 'scheduled', description => 'Tagged VIP',
                               tags => ARRAY['marketing']) > :gold_id AS second;
SELECT segments.create_segment('Hand picked', 'shop_customers', kind => 'static',
                               system_name => 'hand-picked', external_id => 'crm-42') > 0 AS created;
SELECT id = :gold_id AS first, name, system_name, kind, active, status, owner, tags,
       description, filter, length(external_id) AS external_id_length,
       created_at = updated_at AS fresh, last_refresh_at IS NOT NULL AS refreshed
FROM segments.segment ORDER BY id;
SELECT system_name, member_count FROM segments.segment_summary ORDER BY id;

-- System names: generated slugs, made unique; given ones checked.
SELECT segments.create_segment('Gold in Oman', 'shop_customers', 'tier = ''gold''') > 0 AS created;
SELECT segments.create_segment('  Árabe & VIP!! ', 'shop_customers', 'TRUE') > 0 AS created;
SELECT segments.create_segment('عملاء', 'shop_customers', 'FALSE') > 0 AS created;
SELECT system_name FROM segments.segment ORDER BY id;
SELECT segments.create_segment('x', 'shop_customers', 'TRUE', system_name => 'gold-in-oman');
\echo :LAST_ERROR_SQLSTATE
SELECT segments.create_segment('x', 'shop_customers', 'TRUE', system_name => 'Bad Name');
\echo :LAST_ERROR_SQLSTATE
SELECT segments.create_segment('x', 'shop_customers', 'TRUE', external_id => 'crm-42');
\echo :LAST_ERROR_SQLSTATE

-- Every other misuse is refused with a clear error, and changes nothing.
SELECT segments.create_segment('x', 'shop_customers', 'TRUE', description => repeat('d', 301));
\echo :LAST_ERROR_SQLSTATE
SELECT segments.create_segment('x', 'shop_customers', 'TRUE', kind => 'weekly');
\echo :LAST_ERROR_SQLSTATE
SELECT segments.create_segment('x', 'shop_customers');
\echo :LAST_ERROR_SQLSTATE
SELECT segments.create_segment('x', 'shop_customers', 'TRUE', kind => 'static');
\echo :LAST_ERROR_SQLSTATE
SELECT segments.create_segment('', 'shop_customers', 'TRUE');
\echo :LAST_ERROR_SQLSTATE
SELECT segments.create_segment('x', 'shop_customers', 'tierr = ''gold''');
\echo :LAST_ERROR_SQLSTATE
SELECT segments.create_segment('x', 'shop_customers', 'tier = ');
\echo :LAST_ERROR_SQLSTATE
SELECT segments.create_segment('x', 'shop_customers', 'TRUE', timezone => 'Mars/Base');
\echo :LAST_ERROR_SQLSTATE
SELECT segments.create_segment('x', 'shop_customers', 'TRUE', schedule => '0 3 * * *');
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE no_key (a int);
CREATE TABLE two_keys (a int, b int, PRIMARY KEY (a, b));
CREATE VIEW a_view AS SELECT * FROM shop_customers;
SELECT segments.create_segment('x', 'no_key', 'TRUE');
\echo :LAST_ERROR_SQLSTATE
SELECT segments.create_segment('x', 'two_keys', 'TRUE');
\echo :LAST_ERROR_SQLSTATE
SELECT segments.create_segment('x', 'a_view', 'TRUE');
\echo :LAST_ERROR_SQLSTATE
SELECT segments.create_segment('x', 'no_such_table', 'TRUE');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS segments_after_refusals FROM segments.segment;
SELECT count(*) AS objects_with_segments FROM segments.object;

-- Unknown segments: a clear error with a suggestion.
SELECT segments.member_count('gold-in-omann');
\echo :LAST_ERROR_SQLSTATE
SELECT segments.member_count(999);
\echo :LAST_ERROR_SQLSTATE
SELECT segments.drop_segment('nothing-like-it');

-- alter_segment: a filter change recomputes; omitted arguments keep their value.
SELECT segments.member_count('gold-in-oman') AS before;
SELECT segments.alter_segment('gold-in-oman', filter => 'tier = ''gold''');
SELECT filter, description, segments.member_count('gold-in-oman') AS after,
       updated_at > created_at OR updated_at = created_at AS stamped
FROM segments.segment WHERE system_name = 'gold-in-oman';
SELECT segments.alter_segment('gold-in-oman', description => 'All gold customers',
                              tags => ARRAY['tiers']);
SELECT filter, description, tags FROM segments.segment WHERE system_name = 'gold-in-oman';
SELECT segments.alter_segment('gold-in-oman', description => '');
SELECT description IS NULL AS cleared FROM segments.segment WHERE system_name = 'gold-in-oman';
-- A refused change leaves everything as it was.
SELECT segments.alter_segment('gold-in-oman', filter => 'nope = 1');
SELECT segments.alter_segment('gold-in-oman', description => repeat('d', 400));
SELECT filter, segments.member_count('gold-in-oman') AS members
FROM segments.segment WHERE system_name = 'gold-in-oman';

-- Kind and object are fixed for life.
UPDATE segments.segment SET kind = 'static', filter = NULL WHERE system_name = 'gold-in-oman';
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE other_customers (id bigint PRIMARY KEY, tier text);
UPDATE segments.segment SET object = 'other_customers' WHERE system_name = 'gold-in-oman';
\echo :LAST_ERROR_SQLSTATE

-- rename and duplicate.
SELECT segments.rename_segment('gold-in-oman', 'Gold everywhere');
SELECT name, system_name FROM segments.segment WHERE system_name = 'gold-in-oman';
SELECT segments.add_members('hand-picked', ARRAY[1, 2, 3]);
SELECT segments.duplicate_segment('hand-picked', 'Hand picked copy') > 0 AS duplicated;
SELECT segments.duplicate_segment('gold-in-oman', 'Gold copy') > 0 AS duplicated;
SELECT system_name, kind, filter, external_id <> 'crm-42' AS new_external_id,
       segments.member_count(id) AS members
FROM segments.segment WHERE system_name IN ('hand-picked-copy', 'gold-copy') ORDER BY id;

-- Plain SQL on the catalog obeys the same rules.
INSERT INTO segments.segment (name, object, filter) VALUES ('Silver by SQL', 'shop_customers', 'tier = ''silver''');
SELECT system_name, kind, status, segments.member_count(id) AS members, owner
FROM segments.segment WHERE name = 'Silver by SQL';
INSERT INTO segments.segment (name, object, kind, filter) VALUES ('Bad', 'shop_customers', 'static', 'TRUE');
\echo :LAST_ERROR_SQLSTATE
UPDATE segments.segment SET filter = 'tier = ''bronze''' WHERE system_name = 'silver-by-sql';
SELECT segments.member_count('silver-by-sql') AS bronze_members;
UPDATE segments.segment SET description = repeat('x', 301) WHERE system_name = 'silver-by-sql';
\echo :LAST_ERROR_SQLSTATE
DELETE FROM segments.segment WHERE system_name = 'silver-by-sql';
SELECT count(*) AS gone FROM segments.segment WHERE system_name = 'silver-by-sql';

-- activate / deactivate now: inactive segments hold no members.
SELECT segments.deactivate('vip-customers');
SELECT active, status, segments.member_count('vip-customers') AS members
FROM segments.segment WHERE system_name = 'vip-customers';
SELECT added, removed, total FROM segments.refresh('vip-customers');
SELECT segments.activate('vip-customers');
SELECT active, status, segments.member_count('vip-customers') AS members
FROM segments.segment WHERE system_name = 'vip-customers';
-- ... and at a future time, applied by refresh_due() when the time has come.
SELECT segments.deactivate('vip-customers', now() + interval '1 hour');
SELECT active, deactivate_at > now() AS scheduled FROM segments.segment WHERE system_name = 'vip-customers';
SELECT * FROM segments.refresh_due();
UPDATE segments.segment SET deactivate_at = now() - interval '1 second' WHERE system_name = 'vip-customers';
SELECT * FROM segments.refresh_due();
SELECT active, deactivate_at FROM segments.segment WHERE system_name = 'vip-customers';
SELECT segments.activate('vip-customers', now() + interval '1 day');
UPDATE segments.segment SET activate_at = now() - interval '1 second' WHERE system_name = 'vip-customers';
SELECT * FROM segments.refresh_due();
SELECT active, segments.member_count('vip-customers') AS members FROM segments.segment WHERE system_name = 'vip-customers';

-- refresh: one set-based recompute writing only the difference.
SELECT added, removed, total FROM segments.refresh('vip-customers');
UPDATE shop_customers SET tags = ARRAY['vip'] WHERE id IN (1, 2);
UPDATE shop_customers SET tags = ARRAY[]::text[] WHERE id = 4;
SELECT added, removed, total, duration > interval '0' AS timed FROM segments.refresh('vip-customers');
SELECT added, removed, total FROM segments.refresh('vip-customers');
SELECT count(*) AS history_points FROM segments.history('vip-customers');
SELECT member_count FROM segments.history('vip-customers') ORDER BY at DESC LIMIT 1;

-- drop_segment removes the definition and membership, never the object's rows.
SELECT segments.drop_segment('gold-copy');
SELECT count(*) FROM shop_customers;
SELECT count(*) FROM segments.segment WHERE system_name = 'gold-copy';

-- Dropping the last segment of an object removes its membership relation and triggers.
SELECT segments.create_segment('Other gold', 'other_customers', 'tier = ''gold''') > 0 AS created;
SELECT membership FROM segments.object WHERE object = 'other_customers'::regclass;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'other_customers'::regclass ORDER BY tgname;
SELECT segments.drop_segment('other-gold');
SELECT count(*) FROM segments.object WHERE object = 'other_customers'::regclass;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'other_customers'::regclass;
SELECT to_regclass('segments.other_customers_members') AS membership_relation;

-- Dropping an object drops its segments.
SELECT segments.create_segment('Other again', 'other_customers', 'TRUE') > 0 AS created;
DROP TABLE other_customers;
SELECT count(*) FROM segments.segment WHERE system_name = 'other-again';
SELECT to_regclass('segments.other_customers_members') AS membership_relation;

DROP VIEW a_view;
DROP TABLE no_key, two_keys;
