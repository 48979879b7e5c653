// Package bench is the side-by-side performance harness behind `make bench`:
// it measures authenticated WebSocket handshakes and idle-connection memory
// of the Go bridge (`expressbridge serve`) beside two Node peers that share
// the Express app's session configuration (node-app/peers: a Socket.IO 4
// server and a plain `ws` server), against one redis-server and the same
// sessions, logged in through the real Express app (node-app/server.js).
//
// The load generator speaks plain WebSocket (gorilla Dialer) and the
// minimal Socket.IO v4 client handshake over WebSocket. For each server it
// runs a warm-up, measured rounds of handshakes (dial, wait for the hello,
// close cleanly) at a fixed concurrency, reporting the round with the
// median rate, and a hold phase that keeps idle authenticated connections
// open and reports RSS per connection as the slope between holding a third
// of N and all of N. The hold runs on a freshly started process of the
// server: a Node process that has just done thousands of handshakes frees
// their garbage somewhere between the two plateaus, which bends the slope
// (it came out negative for the ws peer).
//
// The machine is small and shared: the load generator and redis take CPU
// from the server, and other processes may too. Each round therefore
// records the CPU used per handshake by the server, the load generator and
// redis, and how many cores other processes took meanwhile; before
// measuring, the run waits (bounded) for the machine to be idle.
//
// Run it with `go run ./cmd/ebload bench` (or scripts/bench-peers.sh); the
// results go to bench/results.json and bench/results.svg.
package bench
