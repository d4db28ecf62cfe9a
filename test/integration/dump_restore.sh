#!/usr/bin/env bash
# pg_dump and pg_restore keep definitions, membership, the change feed and history; the
# restored database works (triggers follow writes, ids continue) and DROP EXTENSION there still
# removes everything the extension created. Both the custom and the plain dump formats.
# Needs PGHOST/PGPORT/PGUSER of a running server.
set -euo pipefail
SOURCE=pgseg_dump_source
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $SOURCE" -c "CREATE DATABASE $SOURCE" 2>/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d "$SOURCE" <<'SQL'
CREATE EXTENSION pg_segments;
CREATE TABLE people (id bigint PRIMARY KEY, city text, score int);
INSERT INTO people SELECT i, (ARRAY['Muscat', 'Dubai', 'Riyadh'])[1 + i % 3], i FROM generate_series(1, 300) AS i;
CREATE TABLE accounts (handle text PRIMARY KEY, plan text);
INSERT INTO accounts SELECT 'acct-' || i, CASE WHEN i % 4 = 0 THEN 'pro' ELSE 'free' END FROM generate_series(1, 40) AS i;
SELECT segments.create_segment('Muscat people', 'people', 'city = ''Muscat''');
SELECT segments.create_segment('High scores', 'people', 'score > 250', kind => 'scheduled');
SELECT segments.create_segment('Picked people', 'people', kind => 'static');
SELECT segments.add_members('picked-people', ARRAY[1, 2, 3, 150]);
SELECT segments.create_segment('Pro accounts', 'accounts', 'plan = ''pro''');
DELETE FROM people WHERE id = 2;
SQL

snapshot() {  # definitions, members of every segment, feed and history sizes
  sql "$1" "SELECT segments.export_definitions()::text"
  sql "$1" "SELECT string_agg(s.system_name || '=' || (SELECT string_agg(m, ',') FROM segments.members(s.id) m), ';' ORDER BY s.system_name) FROM segments.segment s"
  sql "$1" "SELECT count(*) || '/' || max(id) FROM segments.changes"
  sql "$1" "SELECT count(*) FROM segments.history"
}
expected=$(snapshot "$SOURCE")

for format in custom plain; do
  TARGET=pgseg_dump_target_$format
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $TARGET" -c "CREATE DATABASE $TARGET" 2>/dev/null
  if [ "$format" == custom ]; then
    pg_dump -Fc -d "$SOURCE" -f "$WORK/dump"
    pg_restore --exit-on-error -d "$TARGET" "$WORK/dump"
  else
    pg_dump -Fp -d "$SOURCE" -f "$WORK/dump.sql"
    psql -X -q -v ON_ERROR_STOP=1 -d "$TARGET" -f "$WORK/dump.sql" >/dev/null
  fi
  check "$format: definitions, membership, feed and history restored" "$expected" "$(snapshot "$TARGET")"
  check "$format: object triggers restored" "3" \
    "$(sql "$TARGET" "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'people'::regclass AND tgname LIKE '\_segments\_%'")"
  check "$format: runtime objects re-attached to the extension" "10" \
    "$(sql "$TARGET" "SELECT count(*) FROM pg_depend WHERE refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_segments') AND deptype = 'a'")"
  sql "$TARGET" "DELETE FROM people WHERE id = 3"
  check "$format: restored triggers follow deletions" "1,150" \
    "$(sql "$TARGET" "SELECT string_agg(m, ',') FROM segments.members('picked-people') m")"
  check "$format: segment ids continue after the restored ones" "t" \
    "$(sql "$TARGET" "SELECT segments.create_segment('After restore', 'people', 'TRUE') > (SELECT max(id) FROM segments.segment WHERE system_name <> 'after-restore')")"
  check "$format: feed ids continue" "t" \
    "$(sql "$TARGET" "SELECT (SELECT min(id) FROM segments.changes WHERE segment_id = segments.segment_id('after-restore')) > (SELECT max(id) FROM segments.changes WHERE segment_id <> segments.segment_id('after-restore'))")"
  sql "$TARGET" "DROP EXTENSION pg_segments"
  check "$format: DROP EXTENSION removes triggers and membership relations" "0|0" \
    "$(sql "$TARGET" "SELECT (SELECT count(*) FROM pg_trigger WHERE tgname LIKE '\_segments\_%') || '|' || (SELECT count(*) FROM pg_namespace WHERE nspname = 'segments')")"
  check "$format: DROP EXTENSION keeps the objects' rows" "298|40" \
    "$(sql "$TARGET" "SELECT (SELECT count(*) FROM people) || '|' || (SELECT count(*) FROM accounts)")"
  psql -X -q -d postgres -c "DROP DATABASE $TARGET"
done

# DROP EXTENSION in the original database, too.
sql "$SOURCE" "DROP EXTENSION pg_segments"
check "source: DROP EXTENSION removes everything it created" "0" \
  "$(sql "$SOURCE" "SELECT count(*) FROM pg_trigger WHERE tgname LIKE '\_segments\_%'")"
psql -X -q -d postgres -c "DROP DATABASE $SOURCE"

if [ "$failures" -gt 0 ]; then
  echo "dump_restore: $failures failures"
  exit 1
fi
echo "dump_restore: all checks passed"
