#!/usr/bin/env bash
# demo.sh — Redis + the Express app (node-app) + the Go bridge, sharing one
# freshly generated secret. Ctrl-C stops everything it started.
#   REDIS_URL         use this Redis instead of starting one
#   DEMO_APP_PORT     Express app port (3000)
#   DEMO_BRIDGE_PORT  bridge port (8081)
set -euo pipefail
cd "$(dirname "$0")/.."
app_port=${DEMO_APP_PORT:-3000}
bridge_port=${DEMO_BRIDGE_PORT:-8081}
tmp=$(mktemp -d -t expressbridge-demo.XXXXXX)
pids=()

cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
  echo "demo: stopped"
}
trap cleanup INT TERM EXIT

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$app_port" "$bridge_port"; do
  if port_busy "$p"; then
    echo "demo: port $p is in use; stop what uses it or set DEMO_APP_PORT / DEMO_BRIDGE_PORT" >&2
    exit 1
  fi
done

# A fresh secret, shared by Express and the bridge through a private file.
umask 077
head -c 32 /dev/urandom | base64 | tr -d '\n=' >"$tmp/secrets"
echo >>"$tmp/secrets"

if [ -z "${REDIS_URL:-}" ]; then
  redis_port=
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 20000))
    port_busy "$p" || { redis_port=$p; break; }
  done
  [ -n "$redis_port" ] || { echo "demo: no free port for redis-server" >&2; exit 1; }
  redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$tmp" --logfile "$tmp/redis.log" --daemonize no &
  pids+=($!)
  REDIS_URL="redis://127.0.0.1:$redis_port"
  for _ in $(seq 50); do port_busy "$redis_port" && break; sleep 0.1; done
  echo "demo: redis-server on $REDIS_URL (data in a temp folder)"
fi

(cd node-app && exec env PORT="$app_port" HOST=localhost REDIS_URL="$REDIS_URL" \
  SESSION_SECRETS_FILE="$tmp/secrets" BRIDGE_URL="ws://{hostname}:$bridge_port/ws" \
  node server.js) >"$tmp/app.log" 2>&1 &
pids+=($!)

bin/expressbridge serve --listen "127.0.0.1:$bridge_port" --redis-url "$REDIS_URL" \
  --secret-file "$tmp/secrets" \
  --allow-origin "http://localhost:$app_port" --allow-origin "http://127.0.0.1:$app_port" &
pids+=($!)

for _ in $(seq 100); do
  grep -q '^listening on ' "$tmp/app.log" 2>/dev/null && port_busy "$bridge_port" && break
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { echo "demo: a process exited early; the Express app said:" >&2; cat "$tmp/app.log" >&2; exit 1; }
  done
  sleep 0.1
done
grep -q '^listening on ' "$tmp/app.log" || { echo "demo: the Express app did not start:" >&2; cat "$tmp/app.log" >&2; exit 1; }
tail -f "$tmp/app.log" &
pids+=($!)

cat <<MSG

  Open http://localhost:$app_port (or http://127.0.0.1:$app_port)
  (log in as anyone; the Go bridge on ws://localhost:$bridge_port/ws greets you by the name Express knows)
  The same chat with the unmodified socket.io-client: http://localhost:$app_port/socketio.html
  Ctrl-C stops Redis, the Express app and the bridge.

MSG
wait -n "${pids[@]}" || true
