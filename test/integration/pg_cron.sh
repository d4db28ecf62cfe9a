#!/usr/bin/env bash
# pg_cron runs segments.refresh_due(): in a private cluster whose pg_cron database is the test
# database, schedule_with_pg_cron() registers one job (calling it again changes that job, never
# adds one), and within a bounded wait the job refreshes a due scheduled segment.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/cluster.sh
CLUSTER_CRON_DB=segments_cron
cluster_start cron "${PGSEG_CRON_PORT:-54360}"
trap cluster_stop EXIT
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE segments_cron"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d segments_cron -c "$1"; }
fail() {
  echo "pg_cron: FAILED: $*"
  tail -n 30 "$CLUSTER_LOG"
  exit 1
}

q "CREATE EXTENSION pg_segments"
# Before pg_cron is created here: a clear message.
message=$(q "SELECT segments.schedule_with_pg_cron()" 2>&1 || true)
case "$message" in
  *'pg_cron is not installed in database "segments_cron"'*) ;;
  *) fail "message without pg_cron: $message" ;;
esac
q "CREATE EXTENSION pg_cron"
q "CREATE TABLE cron_customers (id int PRIMARY KEY, tier text)"
q "INSERT INTO cron_customers SELECT i, CASE WHEN i % 2 = 0 THEN 'gold' ELSE 'silver' END
   FROM generate_series(1, 20) i"
q "SELECT segments.create_segment('Cron gold', 'cron_customers', 'tier = ''gold''',
                                  kind => 'scheduled', schedule => '0 0 1 1 *')" >/dev/null
q "UPDATE cron_customers SET tier = 'gold' WHERE id = 1"
[ "$(q "SELECT segments.member_count('cron-gold')")" = 10 ] || fail "first membership"

job=$(q "SELECT segments.schedule_with_pg_cron('5 minutes')")
[ "$(q "SELECT schedule FROM cron.job WHERE jobid = $job")" = "*/5 * * * *" ] || fail "5 minutes"
again=$(q "SELECT segments.schedule_with_pg_cron()")
[ "$job" = "$again" ] || fail "second registration made job $again besides $job"
[ "$(q "SELECT count(*) FROM cron.job WHERE jobname = 'pg_segments refresh_due'")" = 1 ] ||
  fail "more than one job"
[ "$(q "SELECT schedule || ' | ' || command FROM cron.job WHERE jobid = $job")" = \
  "* * * * * | SELECT segments.refresh_due()" ] || fail "job definition"
if q "SELECT segments.schedule_with_pg_cron('7 minutes')" 2>/dev/null; then fail "7 minutes accepted"; fi

# Due now: the next run of the job (at most a minute away) refreshes it.
q "UPDATE segments.segment SET next_run_at = now() - interval '1 minute'
   WHERE system_name = 'cron-gold'"
started=$(date +%s)
refreshed=no
while [ $(( $(date +%s) - started )) -lt 90 ]; do
  if [ "$(q "SELECT segments.member_count('cron-gold') = 11 AND next_run_at > now()
             FROM segments.segment WHERE system_name = 'cron-gold'")" = t ]; then
    refreshed=yes
    break
  fi
  sleep 1
done
[ "$refreshed" = yes ] || fail "the job did not refresh the segment within 90 s"
waited=$(( $(date +%s) - started ))
runs=$(q "SELECT count(*) FROM cron.job_run_details WHERE jobid = $job AND status = 'succeeded'")
[ "$runs" -ge 1 ] || fail "no succeeded run in cron.job_run_details"

[ "$(q "SELECT segments.unschedule_pg_cron()")" = t ] || fail "unschedule"
[ "$(q "SELECT segments.unschedule_pg_cron()")" = f ] || fail "second unschedule"
[ "$(q "SELECT count(*) FROM cron.job")" = 0 ] || fail "job left behind"
echo "pg_cron: the registered job refreshed a due segment after ${waited} s; registration is idempotent"
