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
cat >>"$CLUSTER_DIR/data/postgresql.conf" <<CONF
shared_buffers = 1GB
max_wal_size = 8GB
checkpoint_timeout = 30min
synchronous_commit = off
autovacuum = off
CONF
as_cluster_user "$PG_BINDIR/pg_ctl" -D "$CLUSTER_DIR/data" -w restart >/dev/null
DB=pgseg_bench
psql -X -q -d postgres -c "CREATE DATABASE $DB"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d $DB -c "$1"; }

echo "# Realtime benchmark" 
echo
echo "$(date -u +%Y-%m-%d), $CUSTOMERS customers, $CLIENTS clients, ${SECONDS_PER_RUN} s per run, $(nproc) cores, PostgreSQL $(q 'SHOW server_version'), fsync off, synchronous_commit off (CPU-bound: the strictest setting for ratios)."
echo

psql -X -q -v ON_ERROR_STOP=1 -d $DB -v customers="$CUSTOMERS" <<'SQL'
CREATE EXTENSION pg_segments;
SELECT setseed(0.7) AS seeded \gset
CREATE TABLE customers (
  id bigint PRIMARY KEY, name text NOT NULL, email text, tier text NOT NULL, country text,
  language text, platform text, tags text[] NOT NULL DEFAULT '{}', attrs jsonb NOT NULL DEFAULT '{}',
  lifetime_value numeric(12, 2) NOT NULL DEFAULT 0, opted_out boolean NOT NULL DEFAULT false,
  whatsapp_opt_in boolean NOT NULL DEFAULT false, created_at timestamptz NOT NULL,
  last_interaction_at timestamptz);
INSERT INTO customers
SELECT i, 'Customer ' || i, 'c' || i || '@example.com',
       (ARRAY['bronze', 'bronze', 'silver', 'silver', 'gold', 'platinum'])[1 + floor(random() * 6)::int],
       (ARRAY['OM', 'AE', 'AE', 'SA', 'SA', 'QA', 'KW', 'BH'])[1 + floor(random() * 8)::int],
       CASE WHEN random() < 0.55 THEN 'ar' ELSE 'en' END,
       (ARRAY['whatsapp', 'whatsapp', 'instagram', 'email', 'sms'])[1 + floor(random() * 5)::int],
       ARRAY(SELECT t FROM unnest(ARRAY['vip', 'lead', 'newsletter', 'beta', 'churn-risk']) AS t
              WHERE random() < 0.15 AND i > 0),
       jsonb_build_object('plan', (ARRAY['free', 'pro', 'team'])[1 + floor(random() * 3)::int],
                          'visits', floor(random() * 60)::int,
                          'interest', (ARRAY['enterprise', 'smb', 'consumer'])[1 + floor(random() * 3)::int]),
       round((random() * 3000)::numeric, 2), random() < 0.05, random() < 0.6,
       now() - interval '700 days' * (random() + 0 * i), now() - interval '120 days' * (random() + 0 * i)
FROM generate_series(1, :customers) AS i;
CREATE SEQUENCE insert_ids START 100000000;
ANALYZE customers;

-- Realistic mixed filters: 2 to 4 conditions over tier, country, language, platform, tags,
-- jsonb attributes, lifetime value and relative time; some with an OR group.
CREATE TABLE bench_filters (n int PRIMARY KEY, filter text NOT NULL);
DO $$
DECLARE
  pool text[] := ARRAY[
    'tier = ''gold''', 'tier IN (''gold'', ''platinum'')', 'tier <> ''bronze''',
    'country = ''OM''', 'country IN (''AE'', ''SA'')', 'country = ''QA''',
    'language = ''ar''', 'language = ''en''',
    'platform = ''whatsapp''', 'platform IN (''email'', ''sms'')',
    'tags CONTAINS ''vip''', 'tags CONTAINS ANY (''lead'', ''beta'')', 'tags NOT CONTAINS ''churn-risk''',
    'attrs.plan = ''pro''', 'attrs.visits > 20', 'attrs.interest = ''enterprise''',
    'lifetime_value > 500', 'lifetime_value BETWEEN 100 AND 1000', 'lifetime_value > 2000',
    'last_interaction_at OLDER THAN 30 DAYS', 'last_interaction_at WITHIN LAST 7 DAYS',
    'created_at WITHIN LAST 90 DAYS', 'NOT opted_out', 'whatsapp_opt_in'];
  k int;
  picked text[];
  f text;
BEGIN
  PERFORM setseed(0.3);
  FOR n IN 1..1000 LOOP
    k := 2 + floor(random() * 3)::int;
    picked := ARRAY(SELECT pool[1 + floor(random() * cardinality(pool))::int] FROM generate_series(1, k));
    IF random() < 0.3 THEN
      f := '(' || picked[1] || ' OR ' || picked[2] || ') AND ' || array_to_string(picked[3:], ' AND ');
      f := rtrim(f, ' AND ');
    ELSE
      f := array_to_string(picked, ' AND ');
    END IF;
    INSERT INTO bench_filters VALUES (n, f);
  END LOOP;
END
$$;

-- The naive application trigger, over the same filters compiled to SQL.
CREATE TABLE naive_segment (id int PRIMARY KEY, where_sql text NOT NULL);
CREATE TABLE naive_members (segment_id int, member bigint, PRIMARY KEY (segment_id, member));
CREATE FUNCTION naive_trigger() RETURNS trigger LANGUAGE plpgsql AS $t$
DECLARE
  s record;
  hit boolean;
BEGIN
  FOR s IN SELECT id, where_sql FROM naive_segment LOOP
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM customers WHERE id = $1 AND (%s))', s.where_sql)
      INTO hit USING NEW.id;
    IF hit THEN
      INSERT INTO naive_members VALUES (s.id, NEW.id) ON CONFLICT DO NOTHING;
    ELSE
      DELETE FROM naive_members WHERE segment_id = s.id AND member = NEW.id;
    END IF;
  END LOOP;
  RETURN NULL;
END
$t$;
SQL

cat >"$WORK/quiet.sql" <<'SCRIPT'
\set id random(1, :rows)
UPDATE customers SET lifetime_value = lifetime_value + 0.01 WHERE id = :id;
SCRIPT
cat >"$WORK/churn.sql" <<'SCRIPT'
\set id random(1, :rows)
\set t random(1, 4)
UPDATE customers SET tier = (ARRAY['bronze', 'silver', 'gold', 'platinum'])[:t], tags = CASE WHEN 'vip' = ANY (tags) THEN array_remove(tags, 'vip') ELSE tags || '{vip}'::text[] END, last_interaction_at = now() - random() * interval '60 days' WHERE id = :id;
SCRIPT
cat >"$WORK/insert.sql" <<'SCRIPT'
\set t random(1, 4)
INSERT INTO customers (id, name, tier, country, language, platform, tags, attrs, lifetime_value, created_at, last_interaction_at) VALUES (nextval('insert_ids'), 'New customer', (ARRAY['bronze', 'silver', 'gold', 'platinum'])[:t], 'OM', 'ar', 'whatsapp', '{lead}', '{"plan": "pro", "visits": 3}', random() * 3000, now(), now());
SCRIPT
q "COPY (SELECT 200000000 + i, name, email, tier, country, language, platform, tags, attrs, lifetime_value, opted_out, whatsapp_opt_in, created_at, last_interaction_at FROM customers c, LATERAL (SELECT c.id AS i) x ORDER BY id LIMIT 100000) TO '$WORK/copy.tsv'" 2>/dev/null || \
  psql -X -q -d $DB -c "\\copy (SELECT 200000000 + id, name, email, tier, country, language, platform, tags, attrs, lifetime_value, opted_out, whatsapp_opt_in, created_at, last_interaction_at FROM customers ORDER BY id LIMIT 100000) TO '$WORK/copy.tsv'"

reset_table() {  # back to the loaded rows, vacuumed
  q "DELETE FROM customers WHERE id > $CUSTOMERS" >/dev/null
  q "VACUUM (ANALYZE) customers" >/dev/null
  q "CHECKPOINT" >/dev/null
}

tps() {  # tps SCRIPT
  reset_table
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
before=$(feed_count)
R[churn_100]=$(tps churn)
R[flips_100]=$(( $(feed_count) - before ))
R[quiet_100]=$(tps quiet); R[insert_100]=$(tps insert); R[copy_100]=$(copy_seconds)
R[ltv_100]=$(q "SELECT count(*) FROM bench_filters WHERE n <= 100 AND filter LIKE '%lifetime_value%'")
echo "- 100 segments: quiet ${R[quiet_100]} tps, churn ${R[churn_100]} tps (${R[flips_100]} membership changes), insert ${R[insert_100]} tps, COPY ${R[copy_100]} s"

set_segments 1000
before=$(feed_count)
R[churn_1000]=$(tps churn)
R[flips_1000]=$(( $(feed_count) - before ))
R[quiet_1000]=$(tps quiet)
R[ltv_1000]=$(q "SELECT count(*) FROM bench_filters WHERE filter LIKE '%lifetime_value%'")
echo "- 1000 segments: quiet ${R[quiet_1000]} tps, churn ${R[churn_1000]} tps (${R[flips_1000]} membership changes)"
set_segments 0

ratio() { echo "scale=3; $1 / $2" | bc -l | sed 's/^\./0./'; }
us_per_row() { echo "scale=2; ($CLIENTS / $1 - $CLIENTS / $2) * 1000000" | bc -l | sed 's/^\./0./; s/^-\./-0./'; }
per_eval() { echo "scale=1; ($CLIENTS / $1 - $CLIENTS / $2) * 1000000000 / ($3 * 2)" | bc -l | sed 's/^\./0./'; }

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
echo "- membership changes per second while churning: $(echo "${R[flips_100]} / $SECONDS_PER_RUN" | bc) with 100 segments, $(echo "${R[flips_1000]} / $SECONDS_PER_RUN" | bc) with 1000"
echo "- added time per updated row, quiet UPDATE: $(us_per_row ${R[quiet_100]} ${R[quiet_0]}) us with 100 segments (${R[ltv_100]} read lifetime_value), $(us_per_row ${R[quiet_1000]} ${R[quiet_0]}) us with 1000 (${R[ltv_1000]} read it)"
echo "- evaluation cost per segment per row (quiet UPDATE, each affected segment evaluated on the old and the new row): $(per_eval ${R[quiet_1000]} ${R[quiet_0]} ${R[ltv_1000]}) ns with 1000 segments"
