#!/usr/bin/env bash
# Realtime segments over related rows: single-row INSERT into orders while 20 realtime segments
# of customers read orders.count(...) or orders.sum(...), against the same workload with no
# segments and with a naive PL/pgSQL trigger (per order: every segment's compiled SQL for the
# customer, then insert or delete its membership). One private cluster, every ratio taken here.
#
#   bash bench/related_bench.sh    # BENCH_CUSTOMERS=100000 BENCH_ORDERS=1000000 BENCH_SECONDS=30
# Needs pg_segments built and installed (make install). Prints a Markdown report.
set -euo pipefail
cd "$(dirname "$0")/.."
CUSTOMERS=${BENCH_CUSTOMERS:-100000}
ORDERS=${BENCH_ORDERS:-1000000}
SECONDS_PER_RUN=${BENCH_SECONDS:-30}
CLIENTS=2
WORK=$(mktemp -d)
chmod 755 "$WORK"
source scripts/cluster.sh
cluster_start related-bench "${BENCH_PORT:-54345}"
trap 'cluster_stop; rm -rf "$WORK"' EXIT
cluster_tune_for_bench
DB=pgseg_related_bench
psql -X -q -d postgres -c "CREATE DATABASE $DB"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d $DB -c "$1"; }

q "CREATE EXTENSION pg_segments"
q "CREATE TABLE customers (id bigint PRIMARY KEY, tier text NOT NULL, country text NOT NULL)"
q "INSERT INTO customers SELECT i, (ARRAY['bronze', 'silver', 'gold', 'platinum'])[1 + i % 4],
     (ARRAY['OM', 'AE', 'SA', 'QA'])[1 + i % 4] FROM generate_series(1, $CUSTOMERS) AS i"
q "CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers,
     status text NOT NULL, amount numeric(10, 2) NOT NULL, created_at timestamptz NOT NULL)"
q "INSERT INTO orders SELECT n, 1 + (n::bigint * 7919) % $CUSTOMERS,
     (ARRAY['paid', 'paid', 'paid', 'refunded', 'pending'])[1 + n % 5], (n % 300) + 0.5,
     now() - (n % 365) * interval '1 day' FROM generate_series(1, $ORDERS) AS n"
q "CREATE INDEX orders_customer_idx ON orders (customer_id)"
q "CREATE SEQUENCE order_ids START $((ORDERS + 1))"
# 20 filters: paid-order counts and paid sums at several thresholds, half narrowed by a tier.
q "CREATE TABLE bench_filters (n int PRIMARY KEY, filter text NOT NULL)"
q "INSERT INTO bench_filters
   SELECT i, CASE WHEN i % 2 = 0
                  THEN format('orders.count(status = %L) >= %s', 'paid', 4 + i / 2)
                  ELSE format('orders.sum(amount WHERE status = %L) > %s', 'paid', 600 + 150 * i) END
          || CASE WHEN i % 4 < 2 THEN format(' AND tier = %L', (ARRAY['gold', 'silver'])[1 + i % 2]) ELSE '' END
     FROM generate_series(1, 20) AS i"
q "CREATE TABLE naive_segment (id int PRIMARY KEY, sql text NOT NULL)"
q "CREATE TABLE naive_members (segment int, member bigint, PRIMARY KEY (segment, member))"
q "CREATE FUNCTION naive_trigger() RETURNS trigger LANGUAGE plpgsql AS \$f\$
DECLARE
  s record;
  matched boolean;
BEGIN
  FOR s IN SELECT id, sql FROM naive_segment LOOP
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM customers WHERE id = \$1 AND (%s))', s.sql)
      INTO matched USING NEW.customer_id;
    IF matched THEN
      INSERT INTO naive_members VALUES (s.id, NEW.customer_id) ON CONFLICT DO NOTHING;
    ELSE
      DELETE FROM naive_members WHERE segment = s.id AND member = NEW.customer_id;
    END IF;
  END LOOP;
  RETURN NULL;
END
\$f\$"
q "VACUUM (ANALYZE)"

cat >"$WORK/insert.sql" <<'SCRIPT'
\set c random(1, :customers)
\set s random(1, 5)
\set a random(50, 30000)
INSERT INTO orders VALUES (nextval('order_ids'), :c, (ARRAY['paid', 'paid', 'paid', 'refunded', 'pending'])[:s], :a / 100.0, now());
SCRIPT

tps() {
  q "DELETE FROM orders WHERE id > $ORDERS" >/dev/null
  q "VACUUM (ANALYZE) orders" >/dev/null
  q "CHECKPOINT" >/dev/null
  pgbench -n -c $CLIENTS -j $CLIENTS -T "$SECONDS_PER_RUN" -D customers="$CUSTOMERS" \
    -f "$WORK/insert.sql" $DB 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p'
}

echo "# Realtime segments over related rows"
echo
echo "$(date -u +%Y-%m-%d), $CUSTOMERS customers, $ORDERS orders, $CLIENTS clients, ${SECONDS_PER_RUN} s per run, $(nproc) cores, PostgreSQL $(q 'SHOW server_version'), fsync off, synchronous_commit off."
echo
none=$(tps)
echo "- no segments: $none tps" >&2
q "INSERT INTO naive_segment SELECT n, segments.to_sql(filter::segments.segment_filter, 'customers') FROM bench_filters"
q "CREATE TRIGGER naive AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION naive_trigger()"
naive=$(tps)
q "DROP TRIGGER naive ON orders"
echo "- naive trigger: $naive tps" >&2
start=$(date +%s)
q "SELECT count(*) FROM (SELECT segments.create_segment('bench ' || n, 'customers', filter::segments.segment_filter) FROM bench_filters ORDER BY n) c" >/dev/null
created=$(( $(date +%s) - start ))
members=$(q "SELECT sum(segments.member_count(id)) FROM segments.segment")
feed_before=$(q "SELECT coalesce(max(id), 0) FROM segments.changes")
ours=$(tps)
feed_after=$(q "SELECT coalesce(max(id), 0) FROM segments.changes")
wrong=$(q "SELECT count(*) FROM segments.segment s WHERE segments.member_count(s.id) <> (SELECT count(*) FROM customers c WHERE segments.matches(s.filter, c))")
echo "- 20 segments: $ours tps" >&2

ratio() { echo "scale=3; $1 / $2" | bc -l | sed 's/^\./0./'; }
echo "| workload | tps | ratio to no segments |"
echo "|---|---|---|"
echo "| single-row INSERT into orders, no segments | $none | 1.000 |"
echo "| the same, 20 realtime segments (pg_segments) | $ours | $(ratio "$ours" "$none") (target >= 0.70) |"
echo "| the same, naive PL/pgSQL trigger over the 20 filters | $naive | $(ratio "$naive" "$none") |"
echo
echo "pg_segments / naive: $(ratio "$ours" "$naive"). The 20 segments were created in ${created} s and held $members memberships; the run wrote $((feed_after - feed_before)) membership changes; segments whose membership differs from the truth afterwards: $wrong."
