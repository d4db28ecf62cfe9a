#!/usr/bin/env bash
# ALTER EXTENSION pg_segments UPDATE from every earlier released version to the current one,
# with data in place:
#   - a database is created at the old version with objects, related tables and segments of
#     every kind (realtime, relative time, relationships, IN SEGMENT, scheduled with events,
#     static), membership, feed and history;
#   - after the update (and segments.post_upgrade()) definitions, membership, feed and history
#     are unchanged, the extension's objects equal those of a new installation that ran the
#     same statements, and post_upgrade() has nothing left to do;
#   - the updated database works: writes move realtime membership (related rows too), refresh,
#     refresh_due and new segments work, and DROP EXTENSION removes everything.
# Released versions are the install scripts extension/pg_segments--X.sql kept in the tree.
# Needs PGHOST/PGPORT/PGUSER of a running server with the current version installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
CURRENT=$(sed -n "s/^default_version = '\(.*\)'$/\1/p" pg_segments.control)
source test/integration/checks.sh

# The same statements run in the updated database (at its old version) and in a new one.
setup() {
  psql -X -q -v ON_ERROR_STOP=1 -d "$1" <<'SQL'
CREATE TABLE organizations (id int PRIMARY KEY, industry text);
CREATE TABLE customers (
  id bigint PRIMARY KEY, organization_id int REFERENCES organizations, tier text,
  country text, tags text[] NOT NULL DEFAULT '{}', attributes jsonb NOT NULL DEFAULT '{}',
  last_seen_at timestamptz);
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers,
                     amount numeric NOT NULL, paid boolean NOT NULL, created_at timestamptz NOT NULL);
CREATE INDEX ON orders (customer_id);
CREATE TABLE events (customer_id bigint, type text, at timestamptz DEFAULT now());
INSERT INTO organizations SELECT i, (ARRAY['software', 'retail', 'energy'])[1 + i % 3]
  FROM generate_series(1, 30) AS i;
INSERT INTO customers
SELECT i, 1 + i % 30, (ARRAY['gold', 'silver', 'bronze'])[1 + i % 3],
       (ARRAY['OM', 'AE', 'SA', 'QA'])[1 + i % 4],
       CASE WHEN i % 5 = 0 THEN ARRAY['vip'] ELSE '{}' END,
       jsonb_build_object('plan', CASE WHEN i % 2 = 0 THEN 'pro' ELSE 'free' END),
       now() - (i % 60) * interval '1 day'
  FROM generate_series(1, 600) AS i;
INSERT INTO orders SELECT i, 1 + i % 600, (i % 50) + 0.5, i % 3 <> 0,
                          now() - (i % 90) * interval '1 day'
  FROM generate_series(1, 3000) AS i;
SELECT segments.create_segment('Gold in Oman', 'customers', 'tier = ''gold'' AND country = ''OM''');
SELECT segments.create_segment('VIP or pro', 'customers',
  'tags CONTAINS ''vip'' OR attributes.plan = ''pro''');
SELECT segments.create_segment('Seen this month', 'customers', 'last_seen_at WITHIN LAST 30 DAYS');
SELECT segments.create_segment('Software customers', 'customers',
  'organizations.industry = ''software''');
SELECT segments.create_segment('Frequent buyers', 'customers',
  'orders.count(paid AND created_at WITHIN LAST 30 DAYS) >= 3');
SELECT segments.create_segment('Big spenders', 'customers', 'orders.sum(amount WHERE paid) > 100');
SELECT segments.create_segment('Gold not frequent', 'customers',
  'tier = ''gold'' AND NOT IN SEGMENT ''frequent-buyers''');
SELECT segments.declare_events('events', 'customer_id', 'type');
SELECT segments.create_segment('Silver nightly', 'customers', 'tier = ''silver''',
  kind => 'scheduled', schedule => 'every day at 03:00', timezone => 'Asia/Muscat',
  update_on_events => ARRAY['signup']);
SELECT segments.refresh('silver-nightly');
SELECT segments.create_segment('Hand picked', 'customers', kind => 'static');
SELECT segments.add_members('hand-picked', ARRAY[1, 2, 3, 500]::bigint[]);
UPDATE customers SET tier = 'gold' WHERE id BETWEEN 1 AND 40;
DELETE FROM orders WHERE customer_id = 7;
INSERT INTO events VALUES (5, 'signup');
SQL
}

# Definitions, membership of every segment, feed and history.
snapshot() {
  sql "$1" "SELECT segments.export_definitions()::text"
  sql "$1" "SELECT s.system_name || ' ' || s.status || ' ' || s.active || ' ' || coalesce(s.next_run_at::text, '-')
              FROM segments.segment s ORDER BY s.id"
  sql "$1" "SELECT s.system_name || '=' || coalesce((SELECT string_agg(m, ',') FROM segments.members(s.id) m), '')
              FROM segments.segment s ORDER BY s.id"
  sql "$1" "SELECT count(*) || ' ' || coalesce(md5(string_agg(concat_ws(' ', id, segment_id, member, change, changed_at), ',' ORDER BY id)), '')
              FROM segments.changes"
  sql "$1" "SELECT count(*) FROM segments.history"
  sql "$1" "SELECT count(*) FROM segments.event_marks"
}

# The extension's objects: members, routines with their code and settings, tables with their
# columns, constraints, indexes and privileges, triggers.
objects() {
  sql "$1" "
    WITH members AS (
      SELECT d.classid, d.objid, d.objsubid FROM pg_depend d
        JOIN pg_extension e ON e.oid = d.refobjid AND d.refclassid = 'pg_extension'::regclass
       WHERE e.extname = 'pg_segments' AND d.deptype = 'e')
    SELECT 'member ' || pg_describe_object(classid, objid, objsubid) FROM members
    UNION ALL
    SELECT 'routine ' || p.oid::regprocedure || ' ' || md5(pg_get_functiondef(p.oid)) || ' '
           || coalesce(p.proacl::text, '')
      FROM pg_proc p WHERE p.pronamespace = 'segments'::regnamespace
    UNION ALL
    SELECT 'column ' || a.attrelid::regclass || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
           || ' ' || a.attnotnull || ' ' || coalesce(pg_get_expr(ad.adbin, ad.adrelid), '')
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
     WHERE c.relnamespace = 'segments'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT concat_ws(' ', 'relation', c.oid::regclass, c.relkind, c.relacl)
      FROM pg_class c WHERE c.relnamespace = 'segments'::regnamespace
    UNION ALL
    SELECT 'index ' || pg_get_indexdef(i.indexrelid)
      FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
     WHERE c.relnamespace = 'segments'::regnamespace
    UNION ALL
    SELECT 'constraint ' || con.conrelid::regclass || ' ' || con.conname || ' ' || pg_get_constraintdef(con.oid)
      FROM pg_constraint con WHERE con.connamespace = 'segments'::regnamespace
    UNION ALL
    SELECT 'trigger ' || t.tgrelid::regclass || ' ' || pg_get_triggerdef(t.oid)
      FROM pg_trigger t WHERE NOT t.tgisinternal
    UNION ALL
    SELECT 'type ' || t.oid::regtype FROM pg_type t WHERE t.typnamespace = 'segments'::regnamespace
    ORDER BY 1"
}

for script in extension/pg_segments--*.sql; do
  version=$(basename "$script" .sql)
  version=${version#pg_segments--}
  case "$version" in *--*) continue ;; esac
  if [ "$version" == "$CURRENT" ]; then continue; fi
  OLD=pgseg_upgrade_from_${version//./_}
  NEW=pgseg_upgrade_new
  for db in "$OLD" "$NEW"; do
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" 2>/dev/null
  done
  echo "== from $version to $CURRENT"
  sql "$OLD" "CREATE EXTENSION pg_segments VERSION '$version'"
  setup "$OLD" >/dev/null
  sql "$NEW" "CREATE EXTENSION pg_segments"
  setup "$NEW" >/dev/null
  before=$(snapshot "$OLD")

  warning=$(psql -X -q -v ON_ERROR_STOP=1 -d "$OLD" -c "ALTER EXTENSION pg_segments UPDATE" 2>&1)
  check "$version: ALTER EXTENSION UPDATE reaches $CURRENT" "$CURRENT" \
    "$(sql "$OLD" "SELECT extversion FROM pg_extension WHERE extname = 'pg_segments'")"
  pending=$(sql "$OLD" "SELECT count(*) FROM segments.post_upgrade(dry_run => true)")
  if [ "$pending" -gt 0 ]; then
    check "$version: the update says post_upgrade() is needed" "yes" \
      "$(case "$warning" in *'segments.post_upgrade()'*) echo yes ;; *) echo "$warning" ;; esac)"
  fi
  check "$version: data untouched by the update" "$before" "$(snapshot "$OLD")"
  sql "$OLD" "SELECT count(*) FROM segments.post_upgrade()" >/dev/null
  check "$version: post_upgrade() leaves nothing to do" "0" \
    "$(sql "$OLD" "SELECT count(*) FROM segments.post_upgrade()")"
  check "$version: data untouched by post_upgrade()" "$before" "$(snapshot "$OLD")"
  old_objects=$(objects "$OLD")
  new_objects=$(objects "$NEW")
  if [ "$old_objects" == "$new_objects" ]; then
    check "$version: objects equal a new installation's ($(wc -l <<<"$new_objects") compared)" x x
  else
    check "$version: objects equal a new installation's" "" \
      "$(diff <(echo "$new_objects") <(echo "$old_objects") | head -40)"
  fi
  check "$version: membership equals a new installation's" \
    "$(sql "$NEW" "SELECT s.system_name || '=' || coalesce((SELECT string_agg(m, ',') FROM segments.members(s.id) m), '') FROM segments.segment s ORDER BY s.id")" \
    "$(sql "$OLD" "SELECT s.system_name || '=' || coalesce((SELECT string_agg(m, ',') FROM segments.members(s.id) m), '') FROM segments.segment s ORDER BY s.id")"

  # The updated database works.
  sql "$OLD" "UPDATE customers SET tier = 'gold', country = 'OM' WHERE id = 601 - 1" >/dev/null
  check "$version: realtime writes after the update" "t" \
    "$(sql "$OLD" "SELECT segments.is_member('gold-in-oman', '600')")"
  sql "$OLD" "INSERT INTO orders SELECT 100000 + i, 599, 1, true, now() FROM generate_series(1, 3) i" >/dev/null
  check "$version: related rows after the update" "true|false" \
    "$(sql "$OLD" "SELECT segments.is_member('frequent-buyers', '599') || '|' || segments.is_member('gold-not-frequent', '599')")"
  sql "$OLD" "UPDATE customers SET tier = 'silver' WHERE id = 2" >/dev/null
  sql "$OLD" "SELECT segments.refresh('silver-nightly')" >/dev/null
  check "$version: refresh after the update" "t" \
    "$(sql "$OLD" "SELECT segments.is_member('silver-nightly', '2')")"
  sql "$OLD" "SELECT segments.refresh_due()" >/dev/null
  check "$version: new segments after the update" \
    "$(sql "$OLD" "SELECT count(*) FROM customers WHERE country = 'QA'")" \
    "$(sql "$OLD" "SELECT segments.member_count(segments.create_segment('Qatar', 'customers', 'country = ''QA'''))")"
  psql -X -q -v ON_ERROR_STOP=1 -d "$OLD" >/dev/null <<'SQL'
CREATE FUNCTION wrong_segments() RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  s segments.segment;
  truth text[];
BEGIN
  FOR s IN SELECT * FROM segments.segment WHERE kind = 'realtime' LOOP
    EXECUTE format('SELECT array_agg(id::text ORDER BY id::text) FROM customers WHERE %s',
                   segments.to_sql(s.filter, s.object)) INTO truth;
    IF truth IS DISTINCT FROM
       (SELECT array_agg(m ORDER BY m) FROM segments.members(s.id) m) THEN
      RETURN NEXT s.system_name;
    END IF;
  END LOOP;
END
$$;
SQL
  check "$version: every realtime segment equals its truth" "" \
    "$(sql "$OLD" "SELECT string_agg(w, ',') FROM wrong_segments() w")"
  sql "$OLD" "DROP EXTENSION pg_segments" >/dev/null
  check "$version: DROP EXTENSION removes everything" "0|0" \
    "$(sql "$OLD" "SELECT (SELECT count(*) FROM pg_trigger WHERE tgname LIKE '\_segments\_%') || '|' || (SELECT count(*) FROM pg_namespace WHERE nspname = 'segments')")"
  for db in "$OLD" "$NEW"; do psql -X -q -d postgres -c "DROP DATABASE $db"; done
done

if [ "$checks" -eq 0 ]; then
  echo "upgrade: no earlier version to update from"
  exit 1
fi
if [ "$failures" -gt 0 ]; then
  echo "upgrade: $failures of $checks checks failed"
  exit 1
fi
echo "upgrade: all $checks checks passed"
