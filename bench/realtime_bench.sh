#!/usr/bin/env bash
# Realtime write-path benchmark. One private cluster, one script run, every ratio taken here:
#   quiet UPDATE  (lifetime_value + 0.01: read by filters, flips almost nothing)
#   churn UPDATE  (random tier, a tag toggled, last_interaction_at moved)
#   single-row INSERT
#   COPY of 100,000 rows
# with 0, 10, 100 and 1000 realtime segments of mixed filters, and a naive PL/pgSQL trigger
# (loop over segments, dynamic SQL per filter, insert/delete membership) as the baseline an
# application developer would write. 2 clients, 30 s per run.
#
#   bash bench/realtime_bench.sh            # BENCH_CUSTOMERS=1000000 BENCH_SECONDS=30
# Needs pg_segments built and installed (make install). Prints a Markdown report.
set -euo pipefail
cd "$(dirname "$0")/.."
CUSTOMERS=${BENCH_CUSTOMERS:-1000000}
SECONDS_PER_RUN=${BENCH_SECONDS:-30}
CLIENTS=2
WORK=$(mktemp -d)
source scripts/cluster.sh
cluster_start bench "${BENCH_PORT:-54340}"
trap 'cluster_stop; rm -rf "$WORK"' EXIT
cluster_tune_for_bench
DB=pgseg_bench
psql -X -q -d postgres -c "CREATE DATABASE $DB"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d $DB -c "$1"; }

echo "# Realtime benchmark" 
echo
echo "$(date -u +%Y-%m-%d), $CUSTOMERS customers, $CLIENTS clients, ${SECONDS_PER_RUN} s per run, $(nproc) cores, PostgreSQL $(q 'SHOW server_version'), fsync off, synchronous_commit off (CPU-bound: the strictest setting for ratios)."
echo

psql -X -q -v ON_ERROR_STOP=1 -d $DB -v customers="$CUSTOMERS" -f bench/realtime_data.sql

cat >"$WORK/quiet.sql" <<'SCRIPT'
\set id random(1, :rows)
UPDATE customers SET lifetime_value = lifetime_value + 0.01 WHERE id = :id;
SCRIPT
cat >"$WORK/churn.sql" <<'SCRIPT'
\set id random(1, :rows)
\set t random(1, 4)
UPDATE customers SET tier = (ARRAY['bronze', 'silver', 'gold', 'platinum'])[:t], tags = CASE WHEN 'vip' = ANY (tags) THEN array_remove(tags, 'vip') ELSE tags || '{vip}'::text[] END, last_interaction_at = now() - random() * interval '60 days' WHERE id = :id;
SCRIPT
# New customers drawn from the same distribution as the loaded ones (pgbench variables, so
# the statement itself costs the same with and without segments).
cat >"$WORK/insert.sql" <<'SCRIPT'
\set tier random(1, 6)
\set country random(1, 8)
\set lang random(1, 100)
\set platform random(1, 5)
\set t1 random(1, 100)
\set t2 random(1, 100)
\set t3 random(1, 100)
\set t4 random(1, 100)
\set t5 random(1, 100)
\set plan random(1, 3)
\set visits random(0, 59)
\set interest random(1, 3)
\set cents random(0, 300000)
\set consent random(1, 100)
INSERT INTO customers (id, name, email, tier, country, language, platform, tags, attrs, lifetime_value, opted_out, whatsapp_opt_in, created_at, last_interaction_at) VALUES (nextval('insert_ids'), 'New customer', 'new@example.com', (ARRAY['bronze', 'bronze', 'silver', 'silver', 'gold', 'platinum'])[:tier], (ARRAY['OM', 'AE', 'AE', 'SA', 'SA', 'QA', 'KW', 'BH'])[:country], CASE WHEN :lang <= 55 THEN 'ar' ELSE 'en' END, (ARRAY['whatsapp', 'whatsapp', 'instagram', 'email', 'sms'])[:platform], array_remove(ARRAY[CASE WHEN :t1 <= 15 THEN 'vip' END, CASE WHEN :t2 <= 15 THEN 'lead' END, CASE WHEN :t3 <= 15 THEN 'newsletter' END, CASE WHEN :t4 <= 15 THEN 'beta' END, CASE WHEN :t5 <= 15 THEN 'churn-risk' END], NULL), jsonb_build_object('plan', (ARRAY['free', 'pro', 'team'])[:plan], 'visits', :visits, 'interest', (ARRAY['enterprise', 'smb', 'consumer'])[:interest]), :cents / 100.0, :consent <= 5, :consent > 40, now(), now());
SCRIPT
q "COPY (SELECT 200000000 + i, name, email, tier, country, language, platform, tags, attrs, lifetime_value, opted_out, whatsapp_opt_in, created_at, last_interaction_at FROM customers c, LATERAL (SELECT c.id AS i) x ORDER BY id LIMIT 100000) TO '$WORK/copy.tsv'" 2>/dev/null || \
  psql -X -q -d $DB -c "\\copy (SELECT 200000000 + id, name, email, tier, country, language, platform, tags, attrs, lifetime_value, opted_out, whatsapp_opt_in, created_at, last_interaction_at FROM customers ORDER BY id LIMIT 100000) TO '$WORK/copy.tsv'"

reset_table() {  # back to the loaded rows, vacuumed
  q "DELETE FROM customers WHERE id > $CUSTOMERS" >/dev/null
  q "VACUUM (ANALYZE) customers" >/dev/null
  q "CHECKPOINT" >/dev/null
}

tps() {  # tps SCRIPT: resets the table, then one pgbench run; FEED_BEFORE is the feed's
  # position after the reset (the reset's own exits are not the run's)
  reset_table
  q "SELECT coalesce(max(id), 0) FROM segments.changes" >"$WORK/feed_before"
  pgbench -n -c $CLIENTS -j $CLIENTS -T "$SECONDS_PER_RUN" -D rows="$CUSTOMERS" -f "$WORK/$1.sql" $DB 2>/dev/null |
    sed -n 's/^tps = \([0-9.]*\).*/\1/p'
}

copy_seconds() {
  reset_table
  local start end
  start=$(date +%s.%N)
  psql -X -q -d $DB -c "\\copy customers FROM '$WORK/copy.tsv'"
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}

set_segments() {  # set_segments N: exactly the first N filters as active realtime segments
  reset_table  # rows added by earlier runs leave while the segments are fewer
  q "SELECT count(*) FROM (SELECT segments.drop_segment(id) FROM segments.segment) d" >/dev/null
  if [ "$1" -gt 0 ]; then
    local start=$(date +%s)
    q "SELECT count(*) FROM (SELECT segments.create_segment('bench ' || n, 'customers', filter::segments.segment_filter) FROM bench_filters WHERE n <= $1 ORDER BY n) c" >/dev/null
    echo "   ($1 segments created, first memberships computed, in $(( $(date +%s) - start )) s)" >&2
  fi
}

feed_count() { q "SELECT coalesce(max(id), 0) FROM segments.changes"; }

declare -A R
echo "## Runs" 
echo
set_segments 0
R[quiet_0]=$(tps quiet); R[churn_0]=$(tps churn); R[insert_0]=$(tps insert); R[copy_0]=$(copy_seconds)
echo "- no segments: quiet ${R[quiet_0]} tps, churn ${R[churn_0]} tps, insert ${R[insert_0]} tps, COPY ${R[copy_0]} s"

# The naive trigger with 100 segments.
q "INSERT INTO naive_segment SELECT n, segments.to_sql(filter::segments.segment_filter, 'customers') FROM bench_filters WHERE n <= 100"
q "CREATE TRIGGER naive AFTER INSERT OR UPDATE ON customers FOR EACH ROW EXECUTE FUNCTION naive_trigger()"
R[churn_naive]=$(tps churn); R[quiet_naive]=$(tps quiet)
q "DROP TRIGGER naive ON customers"
echo "- naive PL/pgSQL trigger, 100 segments: churn ${R[churn_naive]} tps, quiet ${R[quiet_naive]} tps"

set_segments 10
R[copy_10]=$(copy_seconds)
echo "- 10 segments: COPY ${R[copy_10]} s"

set_segments 100
R[churn_100]=$(tps churn)
R[flips_100]=$(( $(feed_count) - $(cat "$WORK/feed_before") ))
R[quiet_100]=$(tps quiet)
R[insert_100]=$(tps insert)
R[insert_entries_100]=$(( $(feed_count) - $(cat "$WORK/feed_before") ))
R[copy_100]=$(copy_seconds)
R[selectivity_100]=$(q "SELECT round(100.0 * avg(segments.member_count(id)) / $CUSTOMERS, 1) FROM segments.segment")
R[ltv_100]=$(q "SELECT count(*) FROM bench_filters WHERE n <= 100 AND filter LIKE '%lifetime_value%'")
echo "- 100 segments: quiet ${R[quiet_100]} tps, churn ${R[churn_100]} tps (${R[flips_100]} membership changes), insert ${R[insert_100]} tps, COPY ${R[copy_100]} s"

set_segments 1000
R[churn_1000]=$(tps churn)
R[flips_1000]=$(( $(feed_count) - $(cat "$WORK/feed_before") ))
R[quiet_1000]=$(tps quiet)
R[ltv_1000]=$(q "SELECT count(*) FROM bench_filters WHERE filter LIKE '%lifetime_value%'")
echo "- 1000 segments: quiet ${R[quiet_1000]} tps, churn ${R[churn_1000]} tps (${R[flips_1000]} membership changes)"

ratio() { echo "scale=3; $1 / $2" | bc -l | sed 's/^\./0./'; }
# bc's scale applies to every division: compute with 12 digits, then round for printing.
us_per_row() { printf '%.2f' "$(echo "scale=12; ($CLIENTS / $1 - $CLIENTS / $2) * 1000000" | bc -l)"; }
per_eval() { printf '%.1f' "$(echo "scale=12; ($CLIENTS / $1 - $CLIENTS / $2) * 1000000000 / ($3 * 2)" | bc -l)"; }

echo
echo "## Ratios (throughput with segments / throughput with none)"
echo
echo "| workload | segments | ratio | target |"
echo "|---|---|---|---|"
echo "| quiet UPDATE | 100 | $(ratio ${R[quiet_100]} ${R[quiet_0]}) | >= 0.90 |"
echo "| quiet UPDATE | 1000 | $(ratio ${R[quiet_1000]} ${R[quiet_0]}) | >= 0.80 |"
echo "| churning UPDATE | 100 | $(ratio ${R[churn_100]} ${R[churn_0]}) | >= 0.40 |"
echo "| churning UPDATE | 1000 | $(ratio ${R[churn_1000]} ${R[churn_0]}) | >= 0.15 |"
echo "| single-row INSERT | 100 | $(ratio ${R[insert_100]} ${R[insert_0]}) | >= 0.50 |"
echo "| COPY 100,000 rows (time ratio) | 10 | $(ratio ${R[copy_10]} ${R[copy_0]}) | <= 1.2 |"
echo "| COPY 100,000 rows (time ratio) | 100 | $(ratio ${R[copy_100]} ${R[copy_0]}) | <= 3 |"
echo
echo "## Against the naive PL/pgSQL trigger (100 segments)"
echo
echo "| workload | pg_segments tps | naive tps | pg_segments / naive |"
echo "|---|---|---|---|"
echo "| churning UPDATE | ${R[churn_100]} | ${R[churn_naive]} | $(ratio ${R[churn_100]} ${R[churn_naive]}) (target >= 25) |"
echo "| quiet UPDATE | ${R[quiet_100]} | ${R[quiet_naive]} | $(ratio ${R[quiet_100]} ${R[quiet_naive]}) |"
echo
echo "## Costs"
echo
echo "- the 100 segments hold on average ${R[selectivity_100]}% of the customers; a new customer entered $(echo "scale=1; ${R[insert_entries_100]} / (${R[insert_100]} * $SECONDS_PER_RUN)" | bc -l) of them on average (each entry is a membership row and a feed row)"
echo "- membership changes per second while churning: $(echo "${R[flips_100]} / $SECONDS_PER_RUN" | bc) with 100 segments, $(echo "${R[flips_1000]} / $SECONDS_PER_RUN" | bc) with 1000"
echo "- added time per updated row, quiet UPDATE: $(us_per_row ${R[quiet_100]} ${R[quiet_0]}) us with 100 segments (${R[ltv_100]} read lifetime_value), $(us_per_row ${R[quiet_1000]} ${R[quiet_0]}) us with 1000 (${R[ltv_1000]} read it)"
echo "- added time per updated row divided by twice the segments reading lifetime_value (quiet UPDATE, 1000 segments; not an evaluation cost: no segment is evaluated whole when no condition changes its answer): $(per_eval ${R[quiet_1000]} ${R[quiet_0]} ${R[ltv_1000]}) ns"
