-- Membership: storage per object in the object's key type, reading it, static segments, the
-- change feed, and what happens when rows are deleted, re-keyed or truncated.
\set SHOW_CONTEXT never
CREATE TABLE contacts (
  code uuid PRIMARY KEY,
  email text,
  plan text,
  score integer
);
INSERT INTO contacts VALUES
  ('00000000-0000-0000-0000-000000000001', 'a@example.com', 'pro', 10),
  ('00000000-0000-0000-0000-000000000002', 'b@example.com', 'free', 20),
  ('00000000-0000-0000-0000-000000000003', 'c,"quoted"@example.com', 'pro', 30),
  ('00000000-0000-0000-0000-000000000004', NULL, 'free', 40);
SELECT segments.create_segment('Pro contacts', 'contacts', 'plan = ''pro''') > 0 AS created;
SELECT segments.create_segment('Picked contacts', 'contacts', kind => 'static') > 0 AS created;

-- The membership relation is typed by the object's key: joins need no cast.
SELECT membership, key_column, key_type FROM segments.object WHERE object = 'contacts'::regclass;
SELECT a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_attribute a WHERE a.attrelid = 'segments.contacts_members'::regclass AND a.attnum > 0
ORDER BY a.attnum;
SELECT indexrelid::regclass, indisprimary FROM pg_index
WHERE indrelid = 'segments.contacts_members'::regclass ORDER BY 1;
-- The one-line join:
SELECT c.email FROM contacts c JOIN segments.contacts_members m ON m.member = c.code
 AND m.segment_id = segments.segment_id('pro-contacts') ORDER BY c.email;

-- Reading membership.
SELECT segments.member_count('pro-contacts');
SELECT * FROM segments.members('pro-contacts');
SELECT segments.is_member('pro-contacts', '00000000-0000-0000-0000-000000000001'::uuid) AS typed,
       segments.is_member('pro-contacts', '00000000-0000-0000-0000-000000000003') AS literal,
       segments.is_member('pro-contacts', '00000000-0000-0000-0000-000000000002') AS not_member;
SELECT segments.is_member('pro-contacts', 'not-a-uuid');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM segments.preview('pro-contacts', 1);
SELECT * FROM segments.export_csv('pro-contacts');
SELECT system_name, name, kind FROM segments.segments_of('contacts', '00000000-0000-0000-0000-000000000001');

-- Static segments: add and remove keys, unknown keys refused atomically.
SELECT segments.add_members('picked-contacts',
  ARRAY['00000000-0000-0000-0000-000000000002', '00000000-0000-0000-0000-000000000004']::uuid[]);
SELECT segments.add_members('picked-contacts',
  ARRAY['00000000-0000-0000-0000-000000000002']::uuid[]) AS already_members;
SELECT segments.add_members('picked-contacts',
  ARRAY['00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-000000000099']::uuid[]);
\echo :LAST_ERROR_SQLSTATE
SELECT segments.add_members('picked-contacts', ARRAY['garbage']);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM segments.members('picked-contacts');
SELECT segments.add_members_from_query('picked-contacts', 'SELECT code FROM contacts WHERE score >= 30;');
SELECT * FROM segments.members('picked-contacts');
SELECT segments.remove_members('picked-contacts', ARRAY['00000000-0000-0000-0000-000000000002']::uuid[]);
SELECT * FROM segments.members('picked-contacts');
-- Only static segments take members by hand.
SELECT segments.add_members('pro-contacts', ARRAY['00000000-0000-0000-0000-000000000002']::uuid[]);
\echo :LAST_ERROR_SQLSTATE

-- audience: in any included segment and in no excluded one.
SELECT * FROM segments.audience(ARRAY['pro-contacts', 'picked-contacts']);
SELECT * FROM segments.audience(ARRAY['pro-contacts'], exclude => ARRAY['picked-contacts']);
SELECT * FROM segments.audience(ARRAY['pro-contacts', 'no-such']);
\echo :LAST_ERROR_SQLSTATE

-- Rows deleted from the object leave every segment; key changes are followed; all in the feed.
DELETE FROM contacts WHERE code = '00000000-0000-0000-0000-000000000003';
UPDATE contacts SET code = '00000000-0000-0000-0000-000000000044'
 WHERE code = '00000000-0000-0000-0000-000000000004';
SELECT * FROM segments.members('picked-contacts');
SELECT * FROM segments.members('pro-contacts');
SELECT s.system_name, c.member, c.change
FROM segments.changes c JOIN segments.segment s ON s.id = c.segment_id
WHERE s.object = 'contacts'::regclass ORDER BY c.id;

-- A rolled-back change writes nothing.
BEGIN;
DELETE FROM contacts;
SELECT segments.member_count('picked-contacts') AS inside_transaction;
ROLLBACK;
SELECT segments.member_count('picked-contacts') AS after_rollback;
BEGIN;
SAVEPOINT s;
DELETE FROM contacts WHERE plan = 'pro';
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT segments.member_count('pro-contacts') AS after_savepoint_rollback;

-- members_at replays the feed: membership as it was before the deletion above.
SELECT count(*) AS members_then FROM segments.members_at('picked-contacts',
  (SELECT min(changed_at) FROM segments.changes c JOIN segments.segment s ON s.id = c.segment_id
    WHERE s.system_name = 'picked-contacts' AND c.change = 'exited') - interval '1 microsecond');

-- TRUNCATE of the object ends every membership.
TRUNCATE contacts;
SELECT segments.member_count('pro-contacts') AS pro, segments.member_count('picked-contacts') AS picked;

-- CSV quoting of awkward values.
SELECT segments._csv_record(ARRAY['plain', '', NULL, 'a,b', 'say "hi"', 'two
lines', ' padded']);

-- Text keys keep their collation, and integer keys accept any integer type.
CREATE TABLE tagged (handle text COLLATE "C" PRIMARY KEY, n int);
INSERT INTO tagged VALUES ('b', 1), ('a', 2), ('B', 3);
SELECT segments.create_segment('Tagged all', 'tagged', 'TRUE') > 0 AS created;
SELECT * FROM segments.members('tagged-all');
SELECT pg_collation_for(member) FROM segments.tagged_members LIMIT 1;
CREATE TABLE numbered (id integer PRIMARY KEY);
INSERT INTO numbered SELECT generate_series(1, 5);
SELECT segments.create_segment('Numbered odd', 'numbered', kind => 'static') > 0 AS created;
SELECT segments.add_members('numbered-odd', ARRAY[1, 3, 5]::bigint[]);
SELECT segments.is_member('numbered-odd', 3::smallint), segments.is_member('numbered-odd', 4);
