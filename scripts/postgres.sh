#!/usr/bin/env bash
# A throw-away PostgreSQL for the tests: `scripts/postgres.sh start DIR` installs
# Debian's postgresql when missing (idempotent), `initdb`s into DIR, starts it on a
# free port of 127.0.0.1 (as `nobody` when run as root: PostgreSQL refuses root)
# and prints the admin URL on its last line; `scripts/postgres.sh stop DIR` stops it and
# removes DIR. `pause DIR` / `resume DIR` stop and restart it on the same port, data kept
# (the tests of a database that goes away mid-run).
set -euo pipefail
cmd="${1:?usage: postgres.sh start|stop|pause|resume DIR}"
dir="${2:?usage: postgres.sh start|stop|pause|resume DIR}"

bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/pg_ctl" ] && { echo "$d"; return; }; done
  command -v pg_ctl >/dev/null && dirname "$(command -v pg_ctl)"
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi
}

case "$cmd" in
  start)
    if [ -z "$(bindir)" ]; then
      echo "installing postgresql (Debian) for the tests" >&2
      sudo_="" ; [ "$(id -u)" = 0 ] || sudo_="sudo"
      $sudo_ apt-get -o DPkg::Lock::Timeout=300 install -y -q postgresql >&2 \
        || { $sudo_ apt-get -o DPkg::Lock::Timeout=300 update -q >&2 && $sudo_ apt-get -o DPkg::Lock::Timeout=300 install -y -q postgresql >&2; }
    fi
    bin="$(bindir)"
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown nobody "$dir"
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    as_owner "$bin/initdb" -D "$dir/data" -U ocrchat --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    echo "$port" >"$dir/port"
    # Test settings: no fsync (a crashed test cluster is thrown away anyway),
    # enough connections for three nodes and the test itself.
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=200" \
      start >&2 || { cat "$dir/server.log" >&2; exit 1; }
    echo "postgres://ocrchat@127.0.0.1:$port/postgres"
    ;;
  pause)
    as_owner "$(bindir)/pg_ctl" -D "$dir/data" -m fast -w stop >&2
    ;;
  resume)
    port="$(cat "$dir/port")"
    as_owner "$(bindir)/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=200" \
      start >&2
    ;;
  stop)
    bin="$(bindir)"
    [ -d "$dir/data" ] && as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >&2 || true
    rm -rf "$dir"
    ;;
  *) echo "usage: postgres.sh start|stop|pause|resume DIR" >&2; exit 2 ;;
esac
