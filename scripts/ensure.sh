#!/usr/bin/env bash
# ensure.sh WHAT... — install what `make` needs, or say in one line what is
# missing. WHAT: go, node, redis, mariadb, node-modules.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'ensure: %s\n' "$*" >&2; }
fail() { printf 'ensure: %s\n' "$*" >&2; exit 1; }

apt_install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    fail "$1 not found: install it (apt-get install $2) and run again"
  fi
  say "installing $2 with apt-get (one time)…"
  if [ -z "${ENSURE_APT_UPDATED:-}" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    export ENSURE_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
  command -v "$1" >/dev/null || fail "$1 still not found after apt-get install $2"
}

for what in "$@"; do
  case "$what" in
  go) command -v go >/dev/null || fail "go not found: install Go 1.26 (https://go.dev/dl) and run again" ;;
  node)
    command -v node >/dev/null || apt_install node nodejs
    command -v npm >/dev/null || apt_install npm npm
    ;;
  redis) command -v redis-server >/dev/null || apt_install redis-server redis-server ;;
  mariadb)
    # The tests use the machine's server at 127.0.0.1:3306 (root, no
    # password) when it answers, else start a private mariadbd: both need
    # mariadb-server. As root, a server installed but not running is started.
    PATH="$PATH:/usr/sbin:/sbin"
    command -v mariadbd >/dev/null || apt_install mariadbd mariadb-server
    if [ "$(id -u)" = 0 ] && command -v mariadb-admin >/dev/null &&
      ! mariadb-admin --protocol=tcp -h 127.0.0.1 -P 3306 -u root ping >/dev/null 2>&1; then
      say "starting the machine's MariaDB…"
      start-stop-daemon --start --oknodo --background --exec "$(command -v mariadbd)" >/dev/null 2>&1 ||
        say "could not start mariadbd; the tests will start a private one"
      for _ in $(seq 1 50); do
        mariadb-admin --protocol=tcp -h 127.0.0.1 -P 3306 -u root ping >/dev/null 2>&1 && break
        sleep 0.2
      done
    fi
    ;;
  node-modules)
    # npm writes node_modules/.package-lock.json last: older than the lock
    # file (or missing) means the install is stale.
    stamp=node-app/node_modules/.package-lock.json
    if [ ! -f "$stamp" ] || [ node-app/package-lock.json -nt "$stamp" ]; then
      say "npm ci in node-app…"
      (cd node-app && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci failed in node-app (see above)"
      touch "$stamp"
    fi
    ;;
  *) fail "unknown requirement $what" ;;
  esac
done
