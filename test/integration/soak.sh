#!/usr/bin/env bash
# Runs the soak test (test/integration/soak.cpp) against its own private cluster, for the long
# mode described in bench/README.md:
#
#   PGSEG_SOAK_SECONDS=600 bash test/integration/soak.sh
#
# Environment: PGSEG_SOAK_SECONDS (default 60), PGSEG_SOAK_WRITERS, PGSEG_SOAK_CHECKPOINT,
# PGSEG_SEED, PGSEG_SOAK_BIN (default build/soak, built when missing), PGSEG_SOAK_CLUSTER (cluster
# name, default longsoak: data under /tmp/pg_segments_longsoak), PGSEG_SOAK_PORT (first port to try,
# default 54529). Other arguments go to the soak program (for example --keep-going).
set -uo pipefail
cd "$(dirname "$0")/../.."
source scripts/cluster.sh

BIN=${PGSEG_SOAK_BIN:-build/soak}
if [ ! -x "$BIN" ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null && \
    cmake --build build --target soak >/dev/null || exit 1
fi
cluster_start "${PGSEG_SOAK_CLUSTER:-longsoak}" "${PGSEG_SOAK_PORT:-54529}" || exit 1
trap cluster_stop EXIT
echo "soak.sh: private cluster on 127.0.0.1:$PGPORT ($CLUSTER_DIR)"
"$BIN" "$@"
