#!/usr/bin/env bash
# bench-peers.sh [bench|scale] [ebload flags…] — the side-by-side harness:
# expressbridge serve (Go) beside a Socket.IO 4 peer and a `ws` peer
# (node-app/peers), against one redis-server and the same sessions logged in
# through the Express app.
#
#   scripts/bench-peers.sh            # make bench's part: a, b, c; writes
#                                     # bench/results.json and bench/results.svg
#   scripts/bench-peers.sh socketio   # the Socket.IO endpoint vs Node's Socket.IO 4:
#                                     # (d) WebSocket only vs (b), (e) polling then
#                                     # upgrade vs (f); bench/results-socketio.json
#                                     # (make bench runs it after the side-by-side run)
#   scripts/bench-peers.sh scale      # the Go bridge alone holding 100,000 idle
#                                     # connections (-hold N), then a reconnect
#                                     # storm; writes bench/results-scale.json
#   scripts/bench-peers.sh bench -handshakes 20000 -servers a,c   # any ebload flag
#
# Prints the table on stdout (progress on stderr). The performance targets
# are reported, not enforced; the exit status is non-zero only when a
# handshake failed or a server could not be measured.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=bench
case "${1:-}" in
bench | scale | socketio) mode=$1; shift ;;
esac

scripts/ensure.sh go node redis node-modules
go build -o bin/expressbridge ./cmd/expressbridge
go build -o bin/ebload ./cmd/ebload

# The servers inherit the load generator's open-file limit (ebload raises it
# with setrlimit before starting them); raise the shell's too where allowed.
ulimit -n 200000 2>/dev/null || ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

if [ "$mode" = bench ] && [ $# -eq 0 ]; then
	# make bench: the side-by-side run, then the Socket.IO comparison.
	status=0
	bin/ebload bench || status=$?
	bin/ebload socketio || status=$?
	exit "$status"
fi
exec bin/ebload "$mode" "$@"
