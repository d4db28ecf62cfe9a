-- Roles: segments_admin defines, segments_reader reads, nobody else changes definitions;
-- segments only over columns their creator may SELECT; refreshes run with the owner's rights;
-- writers of an object keep membership true without any grant on the segments schema.
\set SHOW_CONTEXT never
CREATE ROLE seg_test_admin LOGIN IN ROLE segments_admin;
CREATE ROLE seg_test_reader LOGIN IN ROLE segments_reader;
CREATE ROLE seg_test_plain LOGIN;
CREATE ROLE seg_test_writer LOGIN;

CREATE TABLE accounts (id bigint PRIMARY KEY, region text, revenue numeric, secret text);
INSERT INTO accounts SELECT i, (ARRAY['north', 'south'])[1 + i % 2], i * 100, 's' || i
FROM generate_series(1, 10) AS i;
GRANT SELECT (id, region, revenue) ON accounts TO seg_test_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON accounts TO seg_test_writer;

SET ROLE seg_test_admin;
SELECT segments.create_segment('North accounts', 'accounts', 'region = ''north''') > 0 AS created;
SELECT segments.create_segment('Picked accounts', 'accounts', kind => 'static') > 0 AS created;
SELECT segments.add_members('picked-accounts', ARRAY[1, 2, 3]);
-- A column the creator may not SELECT is refused.
SELECT segments.create_segment('Secret', 'accounts', 'secret = ''s1''');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT system_name, owner FROM segments.segment WHERE object = 'accounts'::regclass ORDER BY id;

-- A reader reads definitions and membership, and changes nothing.
SET ROLE seg_test_reader;
SELECT system_name, kind FROM segments.segment WHERE object = 'accounts'::regclass ORDER BY id;
SELECT segments.member_count('north-accounts');
SELECT * FROM segments.members('picked-accounts');
SELECT segments.create_segment('Reader made', 'accounts', 'TRUE');
\echo :LAST_ERROR_SQLSTATE
SELECT segments.drop_segment('north-accounts');
\echo :LAST_ERROR_SQLSTATE
UPDATE segments.segment SET name = 'hijacked';
\echo :LAST_ERROR_SQLSTATE
DELETE FROM segments.contacts_members;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- A plain role can neither read nor change definitions.
SET ROLE seg_test_plain;
SELECT count(*) FROM segments.segment;
\echo :LAST_ERROR_SQLSTATE
SELECT segments.member_count('north-accounts');
\echo :LAST_ERROR_SQLSTATE
SELECT segments.create_segment('Plain made', 'accounts', 'TRUE');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO segments.segment (name, object, filter) VALUES ('Plain insert', 'accounts', 'TRUE');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- A writer of the object keeps membership true with no grant on the segments schema.
SET ROLE seg_test_writer;
DELETE FROM accounts WHERE id = 1;
UPDATE accounts SET id = 200 WHERE id = 2;
RESET ROLE;
SELECT * FROM segments.members('picked-accounts');

-- Writers of related tables keep related and nested segments true with no grant on the
-- segments schema and none on the object itself.
CREATE ROLE seg_test_order_writer LOGIN;
CREATE TABLE regions (code text PRIMARY KEY, market text);
INSERT INTO regions VALUES ('north', 'core'), ('south', 'new');
ALTER TABLE accounts ADD FOREIGN KEY (region) REFERENCES regions;
CREATE TABLE deals (id int PRIMARY KEY, account_id bigint NOT NULL REFERENCES accounts, won boolean);
CREATE INDEX ON deals (account_id);
GRANT SELECT, INSERT, UPDATE, DELETE ON deals, regions TO seg_test_order_writer;
SELECT segments.create_segment('Two wins', 'accounts', 'deals.count(won) >= 2') > 0 AS created;
SELECT segments.create_segment('Core market', 'accounts', 'regions.market = ''core''') > 0 AS created;
SELECT segments.create_segment('Core winners', 'accounts',
  'IN SEGMENT ''core-market'' AND IN SEGMENT ''two-wins''') > 0 AS created;
SET ROLE seg_test_order_writer;
INSERT INTO deals VALUES (1, 3, true), (2, 3, true), (3, 4, true), (4, 4, true), (5, 5, true);
UPDATE regions SET market = 'core' WHERE code = 'south';
DELETE FROM deals WHERE id = 4;
RESET ROLE;
SELECT segments.members('two-wins') AS two_wins, segments.member_count('core-market') AS core,
       segments.members('core-winners') AS core_winners;
SELECT segments.drop_segment('core-winners'), segments.drop_segment('core-market'),
       segments.drop_segment('two-wins');
DROP TABLE deals;
ALTER TABLE accounts DROP CONSTRAINT accounts_region_fkey;
DROP TABLE regions;

-- Refreshes run with the segment owner's rights.
REVOKE SELECT (region) ON accounts FROM seg_test_admin;
SELECT * FROM segments.refresh('north-accounts');
\echo :LAST_ERROR_SQLSTATE
GRANT SELECT (region) ON accounts TO seg_test_admin;
SELECT added, removed, total FROM segments.refresh('north-accounts');

-- Plain SQL cannot forge an owner or skip the checks with a restored-looking status.
CREATE ROLE seg_test_admin2 LOGIN IN ROLE segments_admin;
GRANT SELECT (id) ON accounts TO seg_test_admin2;
SET ROLE seg_test_admin2;
INSERT INTO segments.segment (name, object, filter, owner, status)
VALUES ('Forged', 'accounts', 'secret = ''s1''', 'postgres', 'ok');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO segments.segment (name, object, filter, owner, status)
VALUES ('Own', 'accounts', 'TRUE', 'postgres', 'ok');
-- An admin cannot point another admin's segment at columns only that owner may read.
SELECT segments.alter_segment('north-accounts', filter => 'revenue > 500');
\echo :LAST_ERROR_SQLSTATE
-- Membership, the feed and history are written by pg_segments only.
INSERT INTO segments.changes (segment_id, member, change) VALUES (1, '1', 'entered');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO segments.accounts_members (segment_id, member) VALUES (1, 5);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT system_name, owner, status, segments.member_count(id) AS members
FROM segments.segment WHERE name = 'Own';
SELECT segments.drop_segment('own');

-- Row-level security the owner is subject to is refused (segments see every row).
CREATE TABLE guarded (id int PRIMARY KEY, region text);
ALTER TABLE guarded ENABLE ROW LEVEL SECURITY;
GRANT SELECT ON guarded TO seg_test_admin;
SET ROLE seg_test_admin;
SELECT segments.create_segment('Guarded', 'guarded', 'region = ''north''');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT segments.create_segment('Guarded by owner', 'guarded', 'region = ''north''') > 0 AS table_owner_may;
SELECT segments.drop_segment('guarded-by-owner');
DROP TABLE guarded;

-- Privileges of the catalog objects as installed.
SELECT has_schema_privilege('seg_test_plain', 'segments', 'USAGE') AS plain_usage,
       has_table_privilege('segments_reader', 'segments.segment', 'SELECT') AS reader_select,
       has_table_privilege('segments_reader', 'segments.segment', 'UPDATE') AS reader_update,
       has_table_privilege('segments_admin', 'segments.segment', 'INSERT') AS admin_insert,
       has_function_privilege('segments_reader', 'segments.drop_segment(text)', 'EXECUTE') AS reader_drop,
       has_function_privilege('segments_admin', 'segments.drop_segment(text)', 'EXECUTE') AS admin_drop,
       has_function_privilege('segments_admin', 'segments.post_upgrade(boolean)', 'EXECUTE') AS admin_post_upgrade,
       has_function_privilege('segments_reader', 'segments.refresh_due()', 'EXECUTE') AS reader_refresh_due;

-- Every SECURITY DEFINER function pins its search_path.
SELECT p.oid::regprocedure AS definer_without_search_path
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'segments' AND p.prosecdef
  AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%');

SELECT segments.drop_segment('north-accounts');
SELECT segments.drop_segment('picked-accounts');
DROP TABLE accounts;
DROP ROLE seg_test_admin, seg_test_admin2, seg_test_reader, seg_test_plain, seg_test_writer,
  seg_test_order_writer;
