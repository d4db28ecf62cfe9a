#!/usr/bin/env bash
# Crash safety: the soak test (test/integration/soak.cpp, crash mode) runs against a private
# cluster; after some seconds of workload the postmaster is killed with SIGKILL and the cluster
# is started again (crash recovery). The soak program then checks that every transaction whose
# COMMIT was acknowledged survived and that no other one did but those whose COMMIT was in
# flight at the kill, that realtime segments equal their truth and the change feed replays to
# the membership, runs the workload again for a few seconds and checks once more.
#
# fsync = off in the private cluster (scripts/cluster.sh) does not weaken this test: SIGKILL ends
# the server's processes, not the operating system, so every WAL record a backend has written
# before answering COMMIT is in the kernel's page cache and crash recovery replays it. fsync only
# matters when the operating system itself goes down (power loss), which this test does not do.
#
# Environment: PGSEG_SOAK_BIN (default build/soak), PGSEG_CRASH_AFTER (seconds of workload
# before the kill, default 20), PGSEG_CRASH_CLUSTER (cluster name, default crash: data under
# /tmp/pg_segments_crash), PGSEG_CRASH_PORT (first port to try, default 54429), PGSEG_SEED.
# Other arguments go to the soak program (for example --writers 2).
set -uo pipefail
cd "$(dirname "$0")/../.."
source scripts/cluster.sh

BIN=${PGSEG_SOAK_BIN:-build/soak}
AFTER=${PGSEG_CRASH_AFTER:-20}
if [ ! -x "$BIN" ]; then
  echo "crash: $BIN not found (build it with: cmake --build build --target soak)"
  exit 1
fi
cluster_start "${PGSEG_CRASH_CLUSTER:-crash}" "${PGSEG_CRASH_PORT:-54429}" || exit 1
trap cluster_stop EXIT
SOAK_LOG="$CLUSTER_DIR/soak.log"

# The workload runs longer than the kill delay, so that the kill always lands in it.
"$BIN" --crash --seconds $((AFTER + 120)) --checkpoint 8 --database pgseg_crash "$@" \
  >"$SOAK_LOG" 2>&1 &
soak=$!
for _ in $(seq 1 1200); do
  if grep -q "workload running" "$SOAK_LOG" || ! kill -0 "$soak" 2>/dev/null; then break; fi
  sleep 0.1
done
sleep "$AFTER"

postmaster=$(head -n 1 "$CLUSTER_DIR/data/postmaster.pid")
echo "crash: SIGKILL to postmaster $postmaster after $AFTER s of workload"
kill -KILL "$postmaster"

# The old server's backends and auxiliary processes exit when they notice the postmaster is
# gone; until they have, the new postmaster refuses to start (its shared memory is in use).
restarted=0
for _ in $(seq 1 60); do
  if as_cluster_user "$PG_BINDIR/pg_ctl" -D "$CLUSTER_DIR/data" -l "$CLUSTER_LOG" -w -t 60 \
       start >/dev/null 2>&1; then
    restarted=1
    break
  fi
  sleep 1
done
if [ "$restarted" -eq 1 ]; then
  echo "crash: cluster restarted; $(grep -c 'redo starts\|redo done' "$CLUSTER_LOG") recovery" \
    "log lines ($(grep -o 'redo done at [0-9A-F/]*' "$CLUSTER_LOG" | tail -n 1))"
else
  echo "crash: the cluster did not restart"
  tail -n 40 "$CLUSTER_LOG"
fi

wait "$soak"
status=$?
cat "$SOAK_LOG"
if [ "$restarted" -eq 0 ]; then status=1; fi
if [ "$status" -eq 0 ]; then
  echo "crash: passed"
else
  echo "crash: FAILED"
fi
exit "$status"
