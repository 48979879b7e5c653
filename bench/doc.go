// Package bench is the side-by-side performance harness behind `make bench`
// and `make bench-scale`: it measures the Go bridge (`expressbridge serve`)
// beside two Node peers that share the Express app's session configuration
// (node-app/peers: a Socket.IO 4 server and a plain `ws` server), against
// one redis-server and the same sessions, logged in through the real
// Express app (node-app/server.js).
//
// Handshakes. The load generator speaks plain WebSocket (gorilla Dialer)
// and the minimal Socket.IO v4 client handshake over WebSocket. For each
// server it runs a warm-up, then measured rounds of handshakes (dial, wait
// for the hello, close cleanly) at a fixed concurrency. The figure judged
// is the server's CPU time (user + kernel, from /proc/PID/stat) per
// handshake, of the round with the median of it; the rate and latency are
// reported beside it, but on a small shared machine the load generator and
// other processes set them more than the server does.
//
// Idle memory. A hold phase keeps idle authenticated connections open on a
// freshly started process of the server and reports RSS per connection as
// the slope between a third of N and all of N. (A Node process that has
// just done thousands of handshakes frees their garbage somewhere between
// the two plateaus, which bends the slope.)
//
// Fan-out. N (10,000) idle authenticated connections are held by the raw
// client (raw_linux.go: bare descriptors in one epoll set, no goroutine per
// connection); one of them says something, the server broadcasts it to
// all, one broadcast at a time. It reports delivered messages per second
// and the server's CPU per delivered message, for each server and for the
// floor (`ebload floor`, floor_linux.go: the same frame written to as many
// sockets by a bare loop of write(2) calls).
//
// Scale. RunScale holds N (100,000) idle connections from the raw client,
// spread over several loopback source addresses, on one bridge, reports
// RSS per connection and the time to open them, then restarts the bridge
// and has every client reconnect at once (a reconnect storm). The
// file-descriptor hard limit caps N; the result says so.
//
// The machine is small and shared: the load generator and redis take CPU
// from the server, and other processes may too. Each round therefore
// records the CPU used by the server, the load generator and redis, and
// how many cores other processes took meanwhile; before measuring, the run
// waits (bounded) for the machine to be idle.
//
// Run it with `go run ./cmd/ebload bench` (or scripts/bench-peers.sh); the
// results go to bench/results.json and bench/results.svg.
package bench
