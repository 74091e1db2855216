#!/usr/bin/env bash
# The database ChatSphere uses. With DATABASE_URL set, that server is used as it is.
# Without it, a private PostgreSQL cluster is kept in .data/postgres (git-ignored): created on
# first use, started when needed, listening only on 127.0.0.1 at a port that does not clash
# with a system PostgreSQL. Its data survives restarts.
#
#   source ./db.sh          exports DATABASE_URL (starting the private cluster if needed)
#   ./db.sh start|stop|status|psql

# Strict mode only when run as a command: sourced into an interactive shell it would make
# that shell exit on the first failing command.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
fi

CHATSPHERE_ROOT=${CHATSPHERE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
# Below 32768: Linux hands out ports from 32768 up to clients' outgoing connections, and one of
# those holding our port made a start fail now and then ("Address already in use").
PG_FIRST_PORT=${CHATSPHERE_PG_PORT:-25432}
PG_USER=chatsphere
PG_DB=chatsphere

pg_bin() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
  [ -n "$bin" ] || { echo "PostgreSQL server binaries not found; run ./setup.sh" >&2; return 1; }
  echo "$bin"
}

# PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` user, and
# its folder must be reachable by that user. A checkout inside a private folder (mode 700)
# is not, and then the cluster lives under /var/lib/chatsphere instead.
pg_base_dir() {
  local base="$CHATSPHERE_ROOT/.data"
  if [ "$(id -u)" = 0 ]; then
    mkdir -p "$base" && chmod 755 "$base"
    if ! runuser -u postgres -- test -x "$base"; then
      base="/var/lib/chatsphere/$(echo "$CHATSPHERE_ROOT" | sha256sum | cut -c1-12)"
      mkdir -p "$base" && chmod 755 /var/lib/chatsphere "$base"
    fi
  else
    mkdir -p "$base"
  fi
  echo "$base"
}

# From /, so the server user never needs to enter the caller's (possibly private) folder.
as_pg() { (cd / && if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi); }

port_in_use() { (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Each cluster keeps the port it was given at creation, so several checkouts (or a system
# PostgreSQL) can live side by side.
pg_port() {
  local base=$1 port
  if [ -f "$base/port" ]; then cat "$base/port"; return; fi
  port=$PG_FIRST_PORT
  while port_in_use "$port"; do port=$((port + 1)); done
  echo "$port" >"$base/port"
  echo "$port"
}

pg_start() {
  local bin base data run
  bin=$(pg_bin); base=$(pg_base_dir); data="$base/postgres"; run="$base/run"
  PG_PORT=$(pg_port "$base")
  mkdir -p "$run"
  [ "$(id -u)" = 0 ] && chown postgres: "$run"
  if [ ! -f "$data/PG_VERSION" ]; then
    echo "[db] creating a private PostgreSQL cluster in $data"
    mkdir -p "$data"
    [ "$(id -u)" = 0 ] && chown postgres: "$data"
    chmod 700 "$data"
    as_pg "$bin/initdb" -D "$data" -A trust -U "$PG_USER" -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  local tries=0
  while ! as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; do
    echo "[db] starting PostgreSQL on 127.0.0.1:$PG_PORT"
    as_pg "$bin/pg_ctl" -D "$data" -l "$run/postgres.log" -w -t 60 \
      -o "-p $PG_PORT -k $run -c listen_addresses=127.0.0.1" start >/dev/null && break
    # Someone else took the port since it was chosen: the cluster moves to the next free one
    # (DATABASE_URL is made from the port file after this).
    tries=$((tries + 1))
    if [ "$tries" -lt 5 ] && tail -n 8 "$run/postgres.log" | grep -q "Address already in use"; then
      rm -f "$base/port"; PG_FIRST_PORT=$((PG_PORT + 1)); PG_PORT=$(pg_port "$base")
      echo "[db] port taken; moving to $PG_PORT"
      continue
    fi
    echo "[db] PostgreSQL did not start; see $run/postgres.log" >&2; tail -n 20 "$run/postgres.log" >&2; return 1
  done
  if ! "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'" | grep -q 1; then
    "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -qc "CREATE DATABASE $PG_DB" >/dev/null
  fi
}

pg_stop() {
  local bin base
  bin=$(pg_bin); base=$(pg_base_dir)
  as_pg "$bin/pg_ctl" -D "$base/postgres" -m fast stop
}

private_url() { echo "postgresql://$PG_USER@127.0.0.1:$(pg_port "$(pg_base_dir)")/${1:-$PG_DB}"; }

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
  # Sourced: make DATABASE_URL point at a running database.
  if [ -z "${DATABASE_URL:-}" ]; then
    pg_start
    DATABASE_URL=$(private_url)
    export DATABASE_URL
  fi
else
  case "${1:-status}" in
    start) pg_start; echo "DATABASE_URL=$(private_url)" ;;
    stop) pg_stop ;;
    status) as_pg "$(pg_bin)/pg_ctl" -D "$(pg_base_dir)/postgres" status ;;
    psql) pg_start; exec "$(pg_bin)/psql" "$(private_url)" ;;
    *) echo "usage: $0 start|stop|status|psql" >&2; exit 2 ;;
  esac
fi
