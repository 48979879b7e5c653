package engineio_test

import (
	"net/http"
	"testing"

	"github.com/expressbridge/expressbridge/bridge"
	"github.com/expressbridge/expressbridge/engineio"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// TestEngineIOProtocolSuite runs our node:test port of the upstream
// Engine.IO protocol suite (node-app/test/engineio-protocol) against
// engineio.New with an echo Handler at /engine.io/, configured as the
// suite expects: with the engine's own WebSocket connections (no Bridge),
// and with a bridge's.
func TestEngineIOProtocolSuite(t *testing.T) {
	for _, tc := range []struct {
		name   string
		bridge bool
	}{{"own connections", false}, {"bridge connections", true}} {
		t.Run(tc.name, func(t *testing.T) {
			logs := newLogs(t)
			var b *bridge.Server
			if tc.bridge {
				b = newBridge(t, logs)
			}
			testenv.RunProtocolSuite(t, "test/engineio-protocol/test-suite.js", "/engine.io/", func(s testenv.SuiteServer) http.Handler {
				srv, err := engineio.New(engineio.Config{Handler: newEcho, Bridge: b, Insecure: true,
					PingInterval: s.PingInterval, PingTimeout: s.PingTimeout, Logger: logger(logs)})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(srv.Shutdown)
				return srv
			})
		})
	}
}
