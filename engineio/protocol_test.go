package engineio_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/engineio"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// TestEngineIOProtocolSuite runs our node:test port of the upstream
// Engine.IO protocol suite (node-app/test/engineio-protocol) against
// engineio.New with an echo Handler at /engine.io/, configured as the
// suite expects (Insecure: the suite sends no cookie).
func TestEngineIOProtocolSuite(t *testing.T) {
	logs := newLogs(t)
	testenv.RunProtocolSuite(t, "test/engineio-protocol/test-suite.js", "/engine.io/", func(s testenv.SuiteServer) http.Handler {
		srv, err := engineio.New(engineio.Config{Handler: newEcho, Insecure: true,
			PingInterval: s.PingInterval, PingTimeout: s.PingTimeout, Logger: logger(logs)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
		})
		return srv
	})
}
