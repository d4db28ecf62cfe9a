#!/usr/bin/env bash
# What bounds COPY with realtime segments: the same COPY of 100,000 customers as
# bench/realtime_bench.sh with no segments and with 100, then the membership and feed rows that
# COPY wrote written again by plain INSERT ... SELECT statements (no trigger, no evaluation, no
# netting): the cost of the rows alone, the floor for any design that stores a membership row and
# a feed row per entry. One private cluster, one script run.
# For planning, the same entries are then written in more compact forms that pg_segments does
# not use (yet): membership as one row per member holding its segment ids (without and with the
# GIN index that "members of segment s" would need), and the feed batched as one row per segment
# holding its members.
#
#   bash bench/write_floor.sh            # BENCH_CUSTOMERS=1000000
# Needs pg_segments built and installed (make install). Prints a Markdown report.
set -euo pipefail
cd "$(dirname "$0")/.."
CUSTOMERS=${BENCH_CUSTOMERS:-1000000}
WORK=$(mktemp -d)
source scripts/cluster.sh
cluster_start write-floor "${BENCH_PORT:-54342}"
trap 'cluster_stop; rm -rf "$WORK"' EXIT
cluster_tune_for_bench
DB=pgseg_write_floor
psql -X -q -d postgres -c "CREATE DATABASE $DB"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d $DB -c "$1"; }
psql -X -q -v ON_ERROR_STOP=1 -d $DB -v customers="$CUSTOMERS" -f bench/realtime_data.sql
psql -X -q -d $DB -c "\\copy (SELECT 200000000 + id, name, email, tier, country, language, platform, tags, attrs, lifetime_value, opted_out, whatsapp_opt_in, created_at, last_interaction_at FROM customers ORDER BY id LIMIT 100000) TO '$WORK/copy.tsv'"

seconds() {  # seconds SQL: wall time of one statement after a checkpoint
  q "CHECKPOINT" >/dev/null
  local start end
  start=$(date +%s.%N)
  psql -X -q -v ON_ERROR_STOP=1 -d $DB -c "$1" >/dev/null
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l | sed 's/^\./0./'
}
reset_table() {
  q "DELETE FROM customers WHERE id > $CUSTOMERS" >/dev/null
  q "VACUUM (ANALYZE) customers" >/dev/null
}

reset_table
none=$(seconds "\\copy customers FROM '$WORK/copy.tsv'")
reset_table
q "SELECT count(*) FROM (SELECT segments.create_segment('bench ' || n, 'customers', filter::segments.segment_filter) FROM bench_filters WHERE n <= 100 ORDER BY n) c" >/dev/null
feed_before=$(q "SELECT coalesce(max(id), 0) FROM segments.changes")
ours=$(seconds "\\copy customers FROM '$WORK/copy.tsv'")
# The rows that COPY wrote, kept aside; then removed, and written again without triggers.
q "CREATE TABLE copied_entries AS SELECT segment_id, member::bigint AS member FROM segments.changes WHERE id > $feed_before AND change = 'entered' ORDER BY segment_id, member::bigint"
q "CREATE TABLE copied_dues AS SELECT member, due_at FROM segments.customers_members_rechecks WHERE member > $CUSTOMERS ORDER BY member"
entries=$(q "SELECT count(*) FROM copied_entries")
dues=$(q "SELECT count(*) FROM copied_dues")
q "ALTER TABLE customers DISABLE TRIGGER USER"
q "DELETE FROM segments.customers_members WHERE member > $CUSTOMERS"
q "DELETE FROM segments.customers_members_rechecks WHERE member > $CUSTOMERS"
q "DELETE FROM segments.changes WHERE id > $feed_before"
q "VACUUM (ANALYZE) segments.customers_members, segments.customers_members_rechecks, segments.changes"
members=$(seconds "INSERT INTO segments.customers_members (segment_id, member) SELECT segment_id, member FROM copied_entries")
feed=$(seconds "INSERT INTO segments.changes (segment_id, member, change) SELECT segment_id, member::text, 'entered' FROM copied_entries")
rechecks=$(seconds "INSERT INTO segments.customers_members_rechecks (member, due_at) SELECT member, due_at FROM copied_dues")
q "ALTER TABLE customers ENABLE TRIGGER USER"
# Compact forms of the same entries (not what pg_segments stores).
q "CREATE TABLE compact_members (member bigint PRIMARY KEY, segment_ids bigint[] NOT NULL)"
q "CREATE TABLE compact_members_gin (member bigint PRIMARY KEY, segment_ids bigint[] NOT NULL)"
q "CREATE INDEX ON compact_members_gin USING gin (segment_ids)"
q "CREATE TABLE compact_feed (id bigserial PRIMARY KEY, segment_id bigint NOT NULL, change text NOT NULL,
     changed_at timestamptz NOT NULL DEFAULT now(), members text[] NOT NULL)"
q "CREATE INDEX ON compact_feed (segment_id, id)"
per_member=$(seconds "INSERT INTO compact_members SELECT member, array_agg(segment_id ORDER BY segment_id) FROM copied_entries GROUP BY member ORDER BY member")
per_member_gin=$(seconds "INSERT INTO compact_members_gin SELECT member, array_agg(segment_id ORDER BY segment_id) FROM copied_entries GROUP BY member ORDER BY member")
member_rows=$(q "SELECT count(*) FROM compact_members")
batched_feed=$(seconds "INSERT INTO compact_feed (segment_id, change, members) SELECT segment_id, 'entered', array_agg(member::text ORDER BY member) FROM copied_entries GROUP BY segment_id")
feed_rows=$(q "SELECT count(*) FROM compact_feed")

ratio() { echo "scale=2; $1 / $2" | bc -l | sed 's/^\./0./'; }
floor=$(echo "$members + $feed + $rechecks" | bc -l | sed 's/^\./0./')
echo "# What bounds COPY with realtime segments"
echo
echo "$(date -u +%Y-%m-%d), $CUSTOMERS customers, COPY of 100,000 rows, $(nproc) cores, PostgreSQL $(q 'SHOW server_version'), fsync off, synchronous_commit off."
echo
echo "| step | seconds | times the COPY without segments |"
echo "|---|---|---|"
echo "| COPY, no segments | $none | 1.00 |"
echo "| COPY, 100 realtime segments | $ours | $(ratio "$ours" "$none") |"
echo "| the $entries membership rows it wrote, by one INSERT ... SELECT | $members | $(ratio "$members" "$none") |"
echo "| the $entries feed rows, by one INSERT ... SELECT | $feed | $(ratio "$feed" "$none") |"
echo "| the $dues recheck rows, by one INSERT ... SELECT | $rechecks | $(ratio "$rechecks" "$none") |"
echo "| the rows alone (sum of the three) | $floor | $(ratio "$floor" "$none") |"
echo "| not used: the entries as $member_rows rows of (member, segment ids) | $per_member | $(ratio "$per_member" "$none") |"
echo "| not used: the same with a GIN index on the segment ids | $per_member_gin | $(ratio "$per_member_gin" "$none") |"
echo "| not used: the feed as $feed_rows rows of (segment, members) | $batched_feed | $(ratio "$batched_feed" "$none") |"
compact=$(echo "$per_member_gin + $batched_feed + $rechecks" | bc -l | sed 's/^\./0./')
echo "| not used: compact rows alone (GIN form, batched feed, rechecks) | $compact | $(ratio "$compact" "$none") |"
