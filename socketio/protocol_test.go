package socketio

import (
	"net/http"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/engineio"
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

// suiteServers are the servers the suites run against, each under its own
// path prefix and named to the suites by an environment variable. Upstream
// runs every test against one server that pings every 300 ms, so that a
// stall of 300 ms under load can put a ping where a test expects a
// payload; here only the tests that need the heartbeat see one
// (node-app/test/protocol-helpers.js).
var suiteServers = []struct {
	env, prefix string
	cfg         Config
}{
	// The rest of the suites: a quiet heartbeat, and the reference
	// server's connect timeout (no session here waits long without a
	// namespace, and the test of a silent client allows 2 s).
	{"SERVER_URL", "", Config{PingInterval: quietPingInterval, PingTimeout: quietPingTimeout,
		ConnectTimeout: time.Second}},
	// The handshake tests read the heartbeat, the heartbeat tests check it.
	{"HEARTBEAT_SERVER_URL", "/heartbeat", Config{PingInterval: suitePingInterval,
		PingTimeout: suitePingTimeout, ConnectTimeout: suiteConnectTimeout}},
	// The disconnect tests await a ping and never answer it: the pong
	// may take as long as each test is allowed.
	{"PING_SERVER_URL", "/ping", Config{PingInterval: suitePingInterval, PingTimeout: 2 * time.Second,
		ConnectTimeout: suiteConnectTimeout}},
}

// serveSuite mounts the suites' servers at path under their prefixes,
// each set up by setup, serves e, and returns the suites' environment.
func serveSuite(t *testing.T, e *env, path string, setup func(*Server)) []string {
	t.Helper()
	var vars []string
	for _, s := range suiteServers {
		cfg := s.cfg
		cfg.Bridge, cfg.Insecure, cfg.Logger = e.bridge, true, e.logger()
		srv, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		setup(srv)
		e.mux.Handle(s.prefix+path, http.StripPrefix(s.prefix, srv))
		vars = append(vars, s.env+"="+e.url+s.prefix)
	}
	e.serve(t)
	return vars
}

// echo is the Engine.IO suite's server: every message back as it came.
type echo struct{}

func (echo) opened(*engineSession)                         {}
func (echo) message(e *engineSession, p engineio.Packet)   { e.send(p) }
func (echo) end(e *engineSession, code int, reason string) { e.closeWith(code, reason) }
func (echo) closed(*engineSession, string)                 {}

// TestEngineIOProtocolSuite runs our node:test port of the upstream
// Engine.IO protocol suite (node-app/test/engineio-protocol) against the
// Engine.IO layer with an echo above it, configured as the suite expects.
func TestEngineIOProtocolSuite(t *testing.T) {
	e := newEnv(t)
	vars := serveSuite(t, e, "/engine.io/", func(srv *Server) {
		srv.handler = func(*engineSession) engineHandler { return echo{} }
	})
	counts := runNode(t, suiteTimeout, vars, "--test", "test/engineio-protocol/test-suite.js")
	t.Logf("Engine.IO protocol suite: %d tests, %d passed, %d failed", counts["tests"], counts["pass"], counts["fail"])
	if counts["pass"] == 0 || counts["pass"] != counts["tests"] {
		t.Errorf("Engine.IO protocol suite: %v", counts)
	}
}

// TestSocketIOProtocolSuite runs our node:test port of the upstream
// Socket.IO protocol suite (node-app/test/socketio-protocol) against the
// server with the namespaces and handlers the suite expects.
func TestSocketIOProtocolSuite(t *testing.T) {
	e := newEnv(t)
	vars := serveSuite(t, e, "/socket.io/", func(srv *Server) {
		for _, name := range []string{"/", "/custom"} {
			ns := srv.Of(name)
			ns.OnConnection(func(so *Socket) { so.Emit("auth", so.Auth()) })
			ns.On("message", func(so *Socket, args Args, _ AckFunc) { so.Emit("message-back", args.Values()...) })
			ns.On("message-with-ack", func(so *Socket, args Args, ack AckFunc) {
				if ack != nil {
					ack(args.Values()...)
				}
			})
		}
	})
	counts := runNode(t, suiteTimeout, vars, "--test", "test/socketio-protocol/test-suite.js")
	t.Logf("Socket.IO protocol suite: %d tests, %d passed, %d failed", counts["tests"], counts["pass"], counts["fail"])
	if counts["pass"] == 0 || counts["pass"] != counts["tests"] {
		t.Errorf("Socket.IO protocol suite: %v", counts)
	}
}
