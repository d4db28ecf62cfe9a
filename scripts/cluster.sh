# Private PostgreSQL cluster helpers, sourced by scripts/demo.sh and test/run-all.sh.
#
# The cluster runs as an unprivileged OS user (postgres when started by root), listens on
# 127.0.0.1 only, on its own port, with its data directory and socket under /tmp, and preloads
# pg_cron. Call cluster_start, then use PGHOST/PGPORT/PGUSER; cluster_stop ends it.

PG_BINDIR="$(pg_config --bindir)"

# Runs a command as the cluster's OS user.
as_cluster_user() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# First free TCP port at or above $1 on loopback.
free_port() {
  local port=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    port=$((port + 1))
  done
  echo "$port"
}

# cluster_start NAME [PORT]: initialises and starts a cluster in /tmp/pg_segments_NAME.
cluster_start() {
  local name=$1
  CLUSTER_DIR="/tmp/pg_segments_$name"
  CLUSTER_PORT=$(free_port "${2:-54329}")
  CLUSTER_LOG="$CLUSTER_DIR/server.log"
  rm -rf "$CLUSTER_DIR"
  mkdir -p "$CLUSTER_DIR"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$CLUSTER_DIR"; fi
  as_cluster_user "$PG_BINDIR/initdb" -D "$CLUSTER_DIR/data" -U postgres --auth=trust \
    --encoding=UTF8 --locale=C.UTF-8 >"$CLUSTER_DIR/initdb.log" 2>&1 || {
    cat "$CLUSTER_DIR/initdb.log"
    return 1
  }
  cat >>"$CLUSTER_DIR/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $CLUSTER_PORT
unix_socket_directories = '$CLUSTER_DIR'
shared_preload_libraries = 'pg_cron'
cron.database_name = '${CLUSTER_CRON_DB:-postgres}'
cron.host = '$CLUSTER_DIR'
max_connections = 60
fsync = off
log_min_messages = warning
log_line_prefix = '%m [%p] %d '
CONF
  as_cluster_user "$PG_BINDIR/pg_ctl" -D "$CLUSTER_DIR/data" -l "$CLUSTER_LOG" -w -t 60 start \
    >/dev/null || {
    tail -n 40 "$CLUSTER_LOG"
    return 1
  }
  export PGHOST="$CLUSTER_DIR" PGPORT="$CLUSTER_PORT" PGUSER=postgres
}

cluster_stop() {
  if [ -n "${CLUSTER_DIR:-}" ] && [ -d "$CLUSTER_DIR/data" ]; then
    as_cluster_user "$PG_BINDIR/pg_ctl" -D "$CLUSTER_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
}

# cluster_tune_for_bench: settings for benchmarks on this machine (larger buffers and WAL, no
# autovacuum or synchronous commit to add noise), applied with a restart.
cluster_tune_for_bench() {
  cat >>"$CLUSTER_DIR/data/postgresql.conf" <<CONF
shared_buffers = 1GB
max_wal_size = 8GB
checkpoint_timeout = 30min
synchronous_commit = off
autovacuum = off
CONF
  as_cluster_user "$PG_BINDIR/pg_ctl" -D "$CLUSTER_DIR/data" -w restart >/dev/null
}
