#!/usr/bin/env bash
# pg_segments demo: installs what is missing, builds and installs the extension, starts a
# private PostgreSQL (127.0.0.1, its own port, data under /tmp/pg_segments_demo), loads a
# generated CDP-shaped data set and shows segments working.
#
#   bash scripts/demo.sh                  # 100,000 customers
#   bash scripts/demo.sh --customers 20000
#   bash scripts/demo.sh --stop           # stop the demo server
set -euo pipefail
cd "$(dirname "$0")/.."
CUSTOMERS=100000
while [ $# -gt 0 ]; do
  case "$1" in
    --customers) CUSTOMERS=$2; shift 2 ;;
    --stop)
      source scripts/cluster.sh
      CLUSTER_DIR=/tmp/pg_segments_demo cluster_stop
      echo "demo server stopped"
      exit 0 ;;
    *) echo "usage: bash scripts/demo.sh [--customers N] [--stop]" >&2; exit 2 ;;
  esac
done

bash scripts/install-deps.sh
echo "== Building and installing pg_segments"
make -s -j2 >/dev/null
if [ "$(id -u)" -eq 0 ]; then make -s install >/dev/null; else sudo make -s install >/dev/null; fi

source scripts/cluster.sh
CLUSTER_DIR=/tmp/pg_segments_demo cluster_stop
cluster_start demo 54330
psql -X -q -d postgres -c "CREATE DATABASE segments_demo"
echo "== Private PostgreSQL on 127.0.0.1:$PGPORT; loading $CUSTOMERS customers"
start=$(date +%s)
psql -X -q -d segments_demo -c "CREATE EXTENSION pg_segments"
psql -X -q -d segments_demo -v customers="$CUSTOMERS" -f scripts/sample_data.sql
echo "   loaded in $(( $(date +%s) - start )) s"
psql -X -d segments_demo -f scripts/demo.sql

cat <<INFO

The demo server keeps running. Connect with:
  psql -h $PGHOST -p $PGPORT -U postgres segments_demo
Stop it with:
  bash scripts/demo.sh --stop
INFO
