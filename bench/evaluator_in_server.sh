#!/usr/bin/env bash
# Evaluator cost inside the server: one customer row, the typical 5-condition filter, evaluated
# 1,000,000 times by the backend (tuple deform + cell fill + evaluation, no SQL call overhead).
# Usage: PGHOST=... PGPORT=... PGUSER=... bash bench/evaluator_in_server.sh
set -euo pipefail
psql -X -q -v ON_ERROR_STOP=1 -d postgres <<'SQL'
DROP DATABASE IF EXISTS pgseg_bench_eval;
CREATE DATABASE pgseg_bench_eval;
SQL
psql -X -q -v ON_ERROR_STOP=1 -d pgseg_bench_eval <<'SQL'
CREATE EXTENSION pg_segments;
CREATE FUNCTION evaluate_loop(segments.segment_filter, anyelement, bigint) RETURNS float8
  AS '$libdir/pg_segments', 'pgseg_test_evaluate_loop' LANGUAGE C STRICT;
CREATE TABLE customers (id bigint PRIMARY KEY, name text, email text, tier text, country text,
  language text, tags text[], attrs jsonb, lifetime_value numeric, score float8,
  opted_out boolean, created_at timestamptz, last_interaction_at timestamptz);
INSERT INTO customers VALUES (1, 'Aisha Al-Balushi', 'aisha@example.com', 'gold', 'OM', 'ar',
  '{lead,newsletter,vip}', '{"plan": "pro", "visits": 12}', 750.00, 750, false,
  now() - interval '300 days', now() - interval '3 days');
\echo 'ns per evaluation (median of 5 runs of 1,000,000):'
SELECT f AS filter,
       round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ns)
              FROM (SELECT evaluate_loop(f::segments.segment_filter, c, 1000000) AS ns
                    FROM generate_series(1, 5)) r)::numeric, 1) AS ns_per_row
FROM customers c, (VALUES
  ('tier = ''gold'' AND country IN (''OM'', ''AE'', ''SA'') AND score > 500 AND tags CONTAINS ''vip'' AND last_interaction_at WITHIN LAST 30 DAYS'),
  ('tier = ''gold'' AND country IN (''OM'', ''AE'', ''SA'') AND lifetime_value > 500 AND tags CONTAINS ''vip'' AND last_interaction_at WITHIN LAST 30 DAYS'),
  ('attrs.plan = ''pro'' AND attrs.visits > 10 AND language = ''ar'' AND NOT opted_out AND created_at OLDER THAN 90 DAYS')
) AS t(f);
SQL
psql -X -q -d postgres -c "DROP DATABASE pgseg_bench_eval"
