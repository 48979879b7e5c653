// Package testenv starts the real servers that expressbridge tests run
// against: redis-server processes (one node, a Cluster, a Sentinel setup),
// PostgreSQL databases (on the machine's server, or a private one) and the
// project's Express app (node-app/server.js). Nothing here is a mock.
//
// Every helper takes a testing.TB, fails the test with a message saying what
// to do when it cannot do its job, and registers cleanups so that no child
// process outlives the test. Children run in their own process group and,
// on Linux, receive SIGKILL if the test binary dies, so even an aborted
// `go test` leaves nothing running.
//
// Helpers must be called from the test's own goroutine (they may call
// t.Fatal). Missing tools are installed once per machine when the test runs
// as root (redis-server and postgresql via apt-get, node-app/node_modules
// via npm ci);
// otherwise the test fails with one line naming what to install.
//
// Supported on Linux (fully) and the BSDs/macOS (without the parent-death
// signal); not on Windows.
package testenv
