package testenv

import (
	"net/http"
	"testing"
	"time"
)

// The configuration the upstream protocol suites expect of the server.
const (
	suitePingInterval = 300 * time.Millisecond
	suitePingTimeout  = 200 * time.Millisecond
	// The suite's reference server uses 1 s; its heartbeat tests keep a
	// session without a namespace for 3 × 300 ms, too close to 1 s on a
	// loaded 2-core machine. 1.5 s still closes a silent client well
	// within the 2 s its test allows (the ping timeout closes it first).
	suiteConnectTimeout = 1500 * time.Millisecond
	suiteTimeout        = 90 * time.Second
	// The server of the tests that need no heartbeat pings later than the
	// 2 s each test is allowed, so that no ping reaches a test that
	// passes, and soon enough after that to close the sessions the tests
	// leave open (node waits for them to end).
	quietPingInterval = 3 * time.Second
	quietPingTimeout  = time.Second
)

// SuiteServer is one of the servers the upstream Engine.IO and Socket.IO
// protocol suites (node-app/test/*-protocol) run against: its settings,
// the path prefix it is served under, and the environment variable that
// names its URL to the suites.
type SuiteServer struct {
	Env, Prefix    string
	PingInterval   time.Duration
	PingTimeout    time.Duration
	ConnectTimeout time.Duration // Socket.IO's: a session that joins no namespace
}

// SuiteServers returns the servers the suites run against. Upstream runs
// every test against one server that pings every 300 ms, so that a stall
// of 300 ms under load can put a ping where a test expects a payload;
// here only the tests that need the heartbeat see one
// (node-app/test/protocol-helpers.js).
func SuiteServers() []SuiteServer {
	return []SuiteServer{
		// The rest of the suites: a quiet heartbeat, and the reference
		// server's connect timeout (no session here waits long without a
		// namespace, and the test of a silent client allows 2 s).
		{Env: "SERVER_URL", Prefix: "", PingInterval: quietPingInterval, PingTimeout: quietPingTimeout,
			ConnectTimeout: time.Second},
		// The handshake tests read the heartbeat, the heartbeat tests check it.
		{Env: "HEARTBEAT_SERVER_URL", Prefix: "/heartbeat", PingInterval: suitePingInterval,
			PingTimeout: suitePingTimeout, ConnectTimeout: suiteConnectTimeout},
		// The disconnect tests await a ping and never answer it: the pong
		// may take as long as each test is allowed.
		{Env: "PING_SERVER_URL", Prefix: "/ping", PingInterval: suitePingInterval, PingTimeout: 2 * time.Second,
			ConnectTimeout: suiteConnectTimeout},
	}
}

// RunProtocolSuite serves, for each of SuiteServers, the handler
// newServer makes for it at its prefix + path (with the prefix
// stripped), runs `node --test script` (relative to node-app) against
// them until the test ends, logs the counts and fails the test unless
// every test of the suite passed.
func RunProtocolSuite(t *testing.T, script, path string, newServer func(SuiteServer) http.Handler) {
	t.Helper()
	mux := http.NewServeMux()
	servers := SuiteServers()
	for _, s := range servers {
		mux.Handle(s.Prefix+path, http.StripPrefix(s.Prefix, newServer(s)))
	}
	addr := ServeHTTP(t, mux)
	var vars []string
	for _, s := range servers {
		vars = append(vars, s.Env+"=http://"+addr+s.Prefix)
	}
	counts := RunNode(t, suiteTimeout, vars, "--test", script)
	t.Logf("%s: %d tests, %d passed, %d failed", script, counts["tests"], counts["pass"], counts["fail"])
	if counts["pass"] == 0 || counts["pass"] != counts["tests"] {
		t.Errorf("%s: %v", script, counts)
	}
}
