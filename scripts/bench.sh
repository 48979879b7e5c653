#!/usr/bin/env bash
# bench.sh [BENCHTIME] — the Go micro-benchmarks beside the Node packages'
# own figures on the same inputs, as ratios from this one run (the machine
# is shared: compare ratios, not absolute times across runs).
set -euo pipefail
cd "$(dirname "$0")/.."
benchtime=${1:-1s}
out=build/bench; mkdir -p "$out"

echo "== Go micro-benchmarks (benchtime $benchtime)" >&2
# Five runs each; the table takes the median, which one noisy run cannot move.
go test -run '^$' -bench . -benchmem -count 5 -benchtime "$benchtime" ./connectsid ./connectsid/redisstore | tee "$out/go-raw.txt" >&2
grep '^Benchmark' "$out/go-raw.txt" | awk '{ns = al = ""; for (i = 2; i <= NF; i++) { if ($(i+1) == "ns/op") ns = $i; if ($(i+1) == "allocs/op") al = $i } print $1, ns, al}' |
  sort -k1,1 -k2,2n | awk '{ n[$1]++; v[$1, n[$1]] = $0 } END { for (k in n) print v[k, int((n[k] + 1) / 2)] }' > "$out/go.txt"
echo "== Bridge: one authenticated WebSocket handshake end to end over loopback (real Redis), five runs" >&2
go test -run '^$' -bench '^BenchmarkHandshake$' -benchmem -count 5 -benchtime "$benchtime" ./bridge | tee "$out/handshake.txt" >&2
echo "== Revocation latency: a session's record deleted → close frame at its client, 1,000 sessions" >&2
go test -run '^$' -bench Revocation -benchtime 1x ./bridge | tee "$out/revocation.txt" >&2
echo "== PostgreSQL (connect-pg-simple's table): Get against a bare pgx query + DecodeSession, alternated" >&2
go test -run '^$' -bench 'GetOverBare|GetMany' -benchmem -benchtime "$benchtime" ./connectsid/pgstore | tee "$out/pg.txt" >&2
echo "== Revocation latency on PostgreSQL: LISTEN/NOTIFY (trigger) and polling (no schema change)" >&2
go test -run '^$' -bench RevocationPostgres -benchtime 1x ./bridge | tee "$out/revocation-pg.txt" >&2
echo "== MySQL store: Get over the bare query, revocation latency by polling (loopback MariaDB)" >&2
go test -run '^$' -bench 'GetOverBare' -benchtime "$benchtime" ./connectsid/mysqlstore | tee "$out/mysql.txt" >&2
go test -count=1 -v -run '^TestRevocationLatency$' ./connectsid/mysqlstore | tee "$out/revocation-mysql.txt" >&2
echo "== connect-session-knex's table (PostgreSQL, SQLite, MariaDB): Get against the bare driver's query + decode; revocation latency of the GetMany polls" >&2
go test -run '^$' -bench 'BenchmarkGet$' -benchmem -benchtime "$benchtime" ./connectsid/knexstore | tee "$out/knex.txt" >&2
go test -run '^$' -bench 'BenchmarkRevocation$' -benchtime 1x ./connectsid/knexstore | tee "$out/revocation-knex.txt" >&2
echo "== Node: cookie-signature unsign and cookie.parse, as express-session loads them" >&2
(cd node-app && node scripts/bench-unsign.js) | tee "$out/node.txt" >&2

awk '
  FNR == 1 { file++ }
  file == 1 { name = $1; sub(/-[0-9]+$/, "", name); ns[name] = $2; al[name] = $3 }
  file == 2 {
    match($0, /"name":"[^"]*"/); n = substr($0, RSTART + 8, RLENGTH - 9)
    match($0, /"ns_per_op":[0-9.]+/); node[n] = substr($0, RSTART + 12, RLENGTH - 12)
  }
  function row(label, v, a, ratio) { printf "%-52s %12.0f %10s   %s\n", label, v, a, ratio }
  function x(a, b) { return sprintf("%.1f×", a / b) }
  END {
    printf "%-52s %12s %10s   %s\n", "what (median of 5)", "ns/op", "allocs/op", "ratio (one run)"
    u = ns["BenchmarkUnsign"]
    row("Go   connectsid Unsign", u, al["BenchmarkUnsign"], "1.0×")
    row("Go   bare hmac.New+Write+Sum+base64 (the floor)", ns["BenchmarkBareHMAC"], al["BenchmarkBareHMAC"], "Unsign is " x(ns["BenchmarkBareHMAC"], u) " faster")
    row("Node cookie-signature unsign", node["node cookie-signature unsign"], "-", "Unsign is " x(node["node cookie-signature unsign"], u) " faster")
    row("Go   connectsid Unsign, 3rd secret of 3", ns["BenchmarkUnsignLastOfThree"], al["BenchmarkUnsignLastOfThree"], "")
    p = ns["BenchmarkLookup"]
    row("Go   connectsid Lookup (cookie of a 4-cookie header)", p, al["BenchmarkLookup"], "1.0×")
    row("Go   connectsid ParseCookies (the whole map)", ns["BenchmarkParseCookies"], al["BenchmarkParseCookies"], "")
    row("Node cookie.parse (the whole map)", node["node cookie parse"], "-", "Lookup is " x(node["node cookie parse"], p) " faster")
    row("Go   connectsid FromHeader (parse + unsign)", ns["BenchmarkFromHeader"], al["BenchmarkFromHeader"], "")
    row("Go   DecodeSession, typical record", ns["BenchmarkDecodeSession/typical"], al["BenchmarkDecodeSession/typical"], "")
    row("Go   DecodeSession, 64 KB record", ns["BenchmarkDecodeSession/64KB"], al["BenchmarkDecodeSession/64KB"], "")
    g = ns["BenchmarkGet"]; b = ns["BenchmarkBareGetDecode"]
    row("Go   redisstore Get (loopback Redis)", g, al["BenchmarkGet"], "1.0×")
    row("Go   bare go-redis GET + DecodeSession", b, al["BenchmarkBareGetDecode"], sprintf("Get costs %+.1f%% over it", (g / b - 1) * 100))
  }' "$out/go.txt" "$out/node.txt" | tee "$out/table.txt"
awk '/^BenchmarkRevocation/ { for (i = 2; i <= NF; i++) { if ($(i+1) == "p50-ms") p50 = $i; if ($(i+1) == "p99-ms") p99 = $i }
  printf "%-52s p50 %.2f ms, p99 %.2f ms (target: p99 < 50 ms)\n", "Go   revocation latency, 1,000 sessions", p50, p99 }' "$out/revocation.txt" | tee -a "$out/table.txt"
awk '/^BenchmarkGetOverBare/ { for (i = 2; i <= NF; i++) { if ($(i+1) == "%over") o = $i; if ($(i+1) == "ns/get") g = $i; if ($(i+1) == "ns/bare") b = $i }
  printf "%-52s %12.0f ns/op against %.0f bare: %+.1f%% (target: within 10%%)\n", "Go   pgstore Get (loopback PostgreSQL)", g, b, o }' "$out/pg.txt" | tee -a "$out/table.txt"
awk '/^BenchmarkRevocationPostgres/ { mode = $1; sub(/^.*\//, "", mode); sub(/-[0-9]+$/, "", mode)
  for (i = 2; i <= NF; i++) { if ($(i+1) == "p50-ms") p50 = $i; if ($(i+1) == "p99-ms") p99 = $i }
  printf "%-52s p50 %.2f ms, p99 %.2f ms\n", "Go   revocation latency, PostgreSQL " mode, p50, p99 }' "$out/revocation-pg.txt" | tee -a "$out/table.txt"
awk '/^BenchmarkGetOverBare/ { for (i = 2; i <= NF; i++) { if ($(i+1) == "%over") o = $i; if ($(i+1) == "ns/get") g = $i; if ($(i+1) == "ns/bare") b = $i }
  printf "%-52s %12.0f ns/op against %.0f bare: %+.1f%% (target: within 10%%)\n", "Go   mysqlstore Get (loopback MariaDB)", g, b, o }' "$out/mysql.txt" | tee -a "$out/table.txt"
sed -n 's/^.*revocation latency over \([0-9]*\) sessions, polling every 1 s with one GetMany: /Go   revocation latency, MySQL polled 1 s, \1 sessions: /p' "$out/revocation-mysql.txt" | tee -a "$out/table.txt"
grep '^BenchmarkHandshake' "$out/handshake.txt" | awk '{for (i = 2; i <= NF; i++) { if ($(i+1) == "ns/op") ns = $i; if ($(i+1) == "allocs/op") al = $i } print ns, al}' |
  sort -n | awk '{ v[NR] = $0 } END { split(v[int((NR + 1) / 2)], m, " ")
  printf "%-52s %12.0f %10s   %s\n", "Go   bridge handshake (dial, 101+hello, close; client in-process)", m[1], m[2], "median of 5" }' | tee -a "$out/table.txt"
