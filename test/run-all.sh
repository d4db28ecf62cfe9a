#!/usr/bin/env bash
# Runs every test of pg_segments and ends with one line: "N passed, M failed".
#
#   core unit tests (GoogleTest under CTest)
#   pg_regress and isolation suites against a private cluster (make installcheck)
#   integration tests (libpq programs: randomised differential test, 60-second soak test, crash
#   safety with the postmaster killed during the soak, ...)
#   the core unit tests again under AddressSanitizer and UBSan, and a 30-second fuzz smoke of
#   the text, JSON and binary forms and of schedules (libFuzzer, ASan + UBSan)
#
# Environment: PGSEG_SEED (differential and soak seed), PGSEG_TEST_PORT (first port to try,
# 54329).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=${PGSEG_JOBS:-2}

bash scripts/install-deps.sh || exit 1
source scripts/cluster.sh

PASSED=0
FAILED=0
FAILURES=()

# record NAME PASSED FAILED
record() {
  PASSED=$((PASSED + $2))
  FAILED=$((FAILED + $3))
  if [ "$3" -gt 0 ]; then FAILURES+=("$1"); fi
  printf '== %-28s %4d passed, %d failed\n' "$1" "$2" "$3"
}

finish() {
  cluster_stop
  echo
  if [ ${#FAILURES[@]} -gt 0 ]; then echo "failed suites: ${FAILURES[*]}"; fi
  echo "$PASSED passed, $FAILED failed"
  if [ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]; then exit 0; fi
  exit 1
}

# --- build ------------------------------------------------------------------------------
echo "== building (CMake core + tests, PGXS extension)"
if cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >build.log 2>&1 &&
   cmake --build build -j"$JOBS" >>build.log 2>&1 &&
   make -j"$JOBS" >>build.log 2>&1 &&
   { if [ "$(id -u)" -eq 0 ]; then make install; else sudo make install; fi; } >>build.log 2>&1; then
  record build 1 0
else
  tail -n 60 build.log
  record build 0 1
  finish
fi

# --- core unit tests --------------------------------------------------------------------
(cd build && ctest --output-on-failure -j"$JOBS" >"$ROOT/unit.log" 2>&1)
unit_total=$(grep -oE 'out of [0-9]+' unit.log | grep -oE '[0-9]+' | tail -1)
unit_failed=$(grep -oE '[0-9]+ tests failed' unit.log | grep -oE '^[0-9]+' | tail -1)
unit_total=${unit_total:-0}
unit_failed=${unit_failed:-1}
if [ "$unit_failed" -gt 0 ]; then grep -E "Failed|FAILED|Failure" -A8 unit.log | head -80; fi
record "core unit tests" $((unit_total - unit_failed)) "$unit_failed"

# --- every regression test is in the schedule ---------------------------------------------
unscheduled=0
for file in sql/*.sql; do
  name=$(basename "$file" .sql)
  if ! grep -qx "test: $name" test/regress_schedule; then
    echo "sql/$name.sql is not in test/regress_schedule"
    unscheduled=$((unscheduled + 1))
  fi
done
if [ "$unscheduled" -eq 0 ]; then record "schedule check" 1 0; else record "schedule check" 0 1; fi

# --- server tests -------------------------------------------------------------------------
if ! cluster_start test "${PGSEG_TEST_PORT:-54329}"; then
  record "cluster start" 0 1
  finish
fi
trap cluster_stop EXIT
echo "== private cluster on 127.0.0.1:$PGPORT ($CLUSTER_DIR)"

rm -rf results output_iso regression.diffs regression.out
make installcheck >installcheck.log 2>&1
regress_ok=$(grep -cE '^(ok|test) .*\.\.\. ok|^ok [0-9]+ ' installcheck.log || true)
regress_failed=$(grep -cE '\.\.\. FAILED|\.\.\. failed|^not ok' installcheck.log || true)
if [ "$regress_failed" -gt 0 ] || ! grep -q "tests passed" installcheck.log; then
  cat installcheck.log | grep -E "test |FAILED|failed|passed" | head -60
  for diffs in regression.diffs output_iso/regression.diffs; do
    if [ -f "$diffs" ]; then echo "---- $diffs"; head -c 20000 "$diffs"; fi
  done
  echo "---- server log (last 60 lines)"
  tail -n 60 "$CLUSTER_LOG"
  if [ "$regress_failed" -eq 0 ]; then regress_failed=1; fi
fi
record "pg_regress + isolation" "$regress_ok" "$regress_failed"

# --- integration tests --------------------------------------------------------------------
integration_ok=0
integration_failed=0
# build/soak: 60 s of concurrent writers, definition changes, refreshes and readers against this
# cluster; crash.sh: its own cluster, the postmaster killed with SIGKILL after 20 s of the soak's
# workload and restarted (about 45 s in all).
for program in build/differential test/integration/dump_restore.sh test/integration/upgrade.sh \
               test/integration/pg_cron.sh build/soak test/integration/crash.sh; do
  name=$(basename "$program" .sh)
  if [ "${program##*.}" == sh ]; then runner=bash; else runner=; fi
  if $runner "./$program" >"$name.log" 2>&1; then
    integration_ok=$((integration_ok + 1))
    tail -n 1 "$name.log"
  else
    integration_failed=$((integration_failed + 1))
    echo "---- $name failed:"
    tail -n 40 "$name.log"
  fi
done
record "integration" "$integration_ok" "$integration_failed"

cluster_stop
trap - EXIT

# --- under AddressSanitizer and UBSan: core unit tests, then a fuzz smoke ------------------
fuzz_ok=0
fuzz_failed=0
if CC=clang CXX=clang++ cmake -S . -B build-fuzz -DPGSEG_FUZZ=ON -DPGSEG_SANITIZE=ON \
     -DPGSEG_TESTS=ON -DPGSEG_BENCH=OFF -DPGSEG_INTEGRATION=OFF >fuzz-build.log 2>&1 &&
   cmake --build build-fuzz -j"$JOBS" >>fuzz-build.log 2>&1; then
  # Every core unit test again, instrumented: any memory error or undefined behaviour aborts.
  if ./build-fuzz/core_tests >sanitized-unit.log 2>&1; then
    sanitized_total=$(grep -oE '^\[==========\] [0-9]+ tests' sanitized-unit.log | grep -oE '[0-9]+')
    if [ -n "$sanitized_total" ]; then
      record "unit tests, ASan + UBSan" "$sanitized_total" 0
    else
      record "unit tests, ASan + UBSan" 0 1
    fi
  else
    tail -n 40 sanitized-unit.log
    record "unit tests, ASan + UBSan" 0 1
  fi
  # 8 s for each form of the filter type and 6 s for schedules: 30 s in all.
  for target in filter_text:8:filter filter_json:8:filter filter_binary:8:filter schedule:6:schedule; do
    IFS=: read -r name seconds dict <<<"$target"
    corpus=$(mktemp -d)
    seeds=test/fuzz/corpus/${name#filter_}
    if ./build-fuzz/${name}_fuzzer -max_total_time="$seconds" -max_len=4096 \
         -dict=test/fuzz/$dict.dict "$corpus" "$seeds" >"fuzz-$name.log" 2>&1; then
      fuzz_ok=$((fuzz_ok + 1))
    else
      fuzz_failed=$((fuzz_failed + 1))
      tail -n 40 "fuzz-$name.log"
    fi
    rm -rf "$corpus"
  done
else
  tail -n 40 fuzz-build.log
  fuzz_failed=1
fi
record "fuzz smoke (30 s)" "$fuzz_ok" "$fuzz_failed"

finish
