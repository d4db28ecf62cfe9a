#!/usr/bin/env bash
# Scheduled refresh benchmark. One private cluster, one script run, every ratio taken here.
# For filters of about 1%, 10% and 50% selectivity over a CDP-shaped customers table:
#   first refresh (empty membership)     vs CREATE TEMP TABLE ... AS SELECT key ... WHERE <sql>
#   refresh that changes nothing          vs SELECT count(*) ... WHERE <sql>   (+ WAL bytes)
#   refresh after 1% of the rows changed  vs the refresh that changes nothing
# and, on the 50% filter, what a developer would write by hand: a SQL diff (DELETE the rows that
# left, INSERT the ones that entered) and REFRESH MATERIALIZED VIEW CONCURRENTLY.
# Every time is the median of 3 runs.
#
#   bash bench/refresh_bench.sh              # BENCH_CUSTOMERS=1000000
# Needs pg_segments built and installed (make install). Prints a Markdown report.
set -euo pipefail
cd "$(dirname "$0")/.."
CUSTOMERS=${BENCH_CUSTOMERS:-1000000}
source scripts/cluster.sh
cluster_start refresh_bench "${BENCH_PORT:-54345}"
trap cluster_stop EXIT
cluster_tune_for_bench  # work_mem stays at its default: refreshes raise their own
DB=pgseg_refresh_bench
psql -X -q -d postgres -c "CREATE DATABASE $DB"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d $DB -c "$1"; }
psql -X -q -v ON_ERROR_STOP=1 -d $DB -v customers="$CUSTOMERS" -f bench/realtime_data.sql
q "VACUUM ANALYZE customers"
psql -X -q -v ON_ERROR_STOP=1 -d $DB <<'SQL'
-- Milliseconds one statement takes, in its own transaction (the caller's).
CREATE FUNCTION bench_ms(statement text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
  started timestamptz := clock_timestamp();
BEGIN
  EXECUTE statement;
  RETURN extract(epoch FROM clock_timestamp() - started) * 1000;
END
$$;
SQL
median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
ms() { q "SELECT round(bench_ms(\$bench\$$1\$bench\$)::numeric, 1)"; }
ratio() { echo "scale=2; $1 / $2" | bc -l | sed 's/^\./0./'; }

echo "# Scheduled refresh benchmark"
echo
echo "$(date -u +%Y-%m-%d), $CUSTOMERS customers, $(nproc) cores, PostgreSQL $(q 'SHOW server_version'), synchronous_commit off, medians of 3 runs."
echo
echo "| filter | selectivity | CTAS ms | first refresh ms | ratio (target <= 1.5) | count(*) ms | no-change refresh ms | ratio (target <= 2.0) | no-change WAL bytes | membership and feed rows written | 1% change refresh ms | added / removed (3 runs) | ratio to no-change (target <= 1.5) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"

n=0
for filter in "tier = 'platinum' AND country = 'QA' AND language = 'ar'" \
              "lifetime_value > 2700" "lifetime_value > 1500"; do
  n=$((n + 1))
  name="bench-$n"
  sql=$(q "SELECT segments.to_sql(\$f\$$filter\$f\$, 'customers')")
  selectivity=$(q "SELECT round(100.0 * count(*) / $CUSTOMERS, 1) FROM customers WHERE $sql")
  ctas=() counts=() firsts=() nochange=() changed=()
  for run in 1 2 3; do
    ctas+=("$(ms "CREATE TEMP TABLE bench_ctas AS SELECT id FROM customers WHERE $sql")")
    counts+=("$(ms "SELECT count(*) FROM customers WHERE $sql")")
  done
  q "SELECT segments.create_segment('$name', 'customers', \$f\$$filter\$f\$, kind => 'scheduled',
                                    system_name => '$name', active => false)" >/dev/null
  for run in 1 2 3; do
    q "VACUUM segments.customers_members" >/dev/null
    firsts+=("$(ms "SELECT segments.activate('$name')")")
    q "SELECT segments.deactivate('$name')" >/dev/null
  done
  q "SELECT segments.activate('$name')" >/dev/null
  q "VACUUM ANALYZE segments.customers_members" >/dev/null
  # refresh() reports its own duration; the no-change and 1% runs are both read from it.
  refresh() { q "SELECT added || ' ' || removed || ' ' ||
                        round((extract(epoch FROM duration) * 1000)::numeric, 1)
                   FROM segments.refresh('$name')"; }
  for run in 1 2 3; do
    nochange+=("$(refresh | cut -d' ' -f3)")
  done
  # One more no-change refresh: the WAL it writes, and the membership and feed rows it wrote
  # (counted by PostgreSQL for its own transaction).
  wal=$(q "SELECT pg_current_wal_insert_lsn()")
  written=$(q "SELECT segments.refresh('$name');
               SELECT sum(pg_stat_get_xact_tuples_inserted(r) + pg_stat_get_xact_tuples_updated(r)
                          + pg_stat_get_xact_tuples_deleted(r))
                 FROM unnest(ARRAY['segments.customers_members'::regclass,
                                   'segments.changes'::regclass]) AS r" | tail -n 1)
  wal_bytes=$(q "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '$wal')")
  # 1% of the customers get new values in the columns the filters read (another 1% each run).
  moved=""
  for run in 1 2 3; do
    q "UPDATE customers SET
         tier = (ARRAY['bronze', 'silver', 'gold', 'platinum'])[1 + floor(random() * 4)::int],
         country = (ARRAY['OM', 'AE', 'SA', 'QA'])[1 + floor(random() * 4)::int],
         lifetime_value = round((random() * 3000)::numeric, 2)
       WHERE id % 100 = $((n * 10 + run))"
    read -r added removed took <<<"$(refresh)"
    changed+=("$took")
    moved="$moved${moved:+, }$added / $removed"
  done
  c=$(median "${ctas[@]}"); f=$(median "${firsts[@]}")
  k=$(median "${counts[@]}"); z=$(median "${nochange[@]}"); d=$(median "${changed[@]}")
  echo "| \`$filter\` | $selectivity% | $c | $f | $(ratio "$f" "$c") | $k | $z | $(ratio "$z" "$k") | $wal_bytes | $written | $d | $moved | $(ratio "$d" "$z") |"
  LAST_SQL=$sql
  LAST_NAME=$name
done

# What a developer would write, on the last (50%) filter: the same table of members kept by a
# SQL diff, and a materialized view refreshed concurrently.
q "CREATE TABLE hand_members (member bigint PRIMARY KEY)"
q "INSERT INTO hand_members SELECT id FROM customers WHERE $LAST_SQL"
q "CREATE MATERIALIZED VIEW hand_view AS SELECT id FROM customers WHERE $LAST_SQL"
q "CREATE UNIQUE INDEX ON hand_view (id)"
q "VACUUM ANALYZE hand_members"
diffs=() views=() ours=()
for run in 1 2 3; do
  diffs+=("$(ms "WITH target AS (SELECT id FROM customers WHERE $LAST_SQL),
                     gone AS (DELETE FROM hand_members h WHERE NOT EXISTS
                                (SELECT 1 FROM target t WHERE t.id = h.member)),
                     new AS (INSERT INTO hand_members SELECT t.id FROM target t WHERE NOT EXISTS
                                (SELECT 1 FROM hand_members h WHERE h.member = t.id))
                SELECT 1")")
  views+=("$(ms "REFRESH MATERIALIZED VIEW CONCURRENTLY hand_view")")
  ours+=("$(ms "SELECT segments.refresh('$LAST_NAME')")")
done
k=$(q "SELECT round(bench_ms(\$b\$SELECT count(*) FROM customers WHERE $LAST_SQL\$b\$)::numeric, 1)")
echo
echo "No-change refresh of the 50% filter against what a developer would write (same run):"
echo
echo "| method | ms | ratio to count(*) ($k ms) |"
echo "|---|---|---|"
echo "| segments.refresh() | $(median "${ours[@]}") | $(ratio "$(median "${ours[@]}")" "$k") |"
echo "| SQL diff (DELETE NOT EXISTS + INSERT NOT EXISTS) | $(median "${diffs[@]}") | $(ratio "$(median "${diffs[@]}")" "$k") |"
echo "| REFRESH MATERIALIZED VIEW CONCURRENTLY | $(median "${views[@]}") | $(ratio "$(median "${views[@]}")" "$k") |"
