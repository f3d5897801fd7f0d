# Sourced by scripts/test.sh: starts and stops a throwaway PostgreSQL cluster on 127.0.0.1.
# Exports FERRY_TEST_PG, a Poco connection string (key=value, no spaces inside values).

pg_cluster_start() {
  local bindir port
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$bindir" ]; then
    echo "pg-cluster: PostgreSQL server binaries not found" >&2
    return 1
  fi
  port=${FERRY_TEST_PG_PORT:-55432}
  PG_CLUSTER_DIR=$(mktemp -d /tmp/ferry-pg.XXXXXX)
  PG_CLUSTER_BIN=$bindir
  local run=()
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$PG_CLUSTER_DIR"
    run=(runuser -u postgres --)
  fi
  "${run[@]}" "$bindir/initdb" -D "$PG_CLUSTER_DIR/data" -A trust -U postgres --no-sync >/dev/null
  "${run[@]}" "$bindir/pg_ctl" -D "$PG_CLUSTER_DIR/data" -l "$PG_CLUSTER_DIR/log" -w \
    -o "-p $port -k $PG_CLUSTER_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
    start >/dev/null
  export FERRY_TEST_PG="host=127.0.0.1 port=$port user=postgres dbname=postgres options=-cclient_min_messages=warning"
  export PG_CLUSTER_DIR PG_CLUSTER_BIN
  echo "pg-cluster: PostgreSQL on 127.0.0.1:$port ($PG_CLUSTER_DIR)"
}

pg_cluster_stop() {
  [ -n "${PG_CLUSTER_DIR:-}" ] || return 0
  local run=()
  [ "$(id -u)" -eq 0 ] && run=(runuser -u postgres --)
  "${run[@]}" "$PG_CLUSTER_BIN/pg_ctl" -D "$PG_CLUSTER_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$PG_CLUSTER_DIR"
}
