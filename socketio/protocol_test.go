package socketio_test

import (
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/internal/testenv"
	"github.com/expressbridge/expressbridge/socketio"
)

// TestSocketIOProtocolSuite runs our node:test port of the upstream
// Socket.IO protocol suite (node-app/test/socketio-protocol) against
// socketio.New, Insecure and without a Bridge, with the namespaces and
// handlers the suite expects.
func TestSocketIOProtocolSuite(t *testing.T) {
	logs := &testenv.Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	testenv.RunProtocolSuite(t, "test/socketio-protocol/test-suite.js", "/socket.io/", func(s testenv.SuiteServer) http.Handler {
		srv, err := socketio.New(socketio.Config{Insecure: true, PingInterval: s.PingInterval, PingTimeout: s.PingTimeout,
			ConnectTimeout: s.ConnectTimeout, Logger: log})
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
		for _, name := range []string{"/", "/custom"} {
			ns := srv.Of(name)
			ns.OnConnection(func(so *socketio.Socket) { so.Emit("auth", so.Auth()) })
			ns.On("message", func(so *socketio.Socket, args socketio.Args, _ socketio.AckFunc) {
				so.Emit("message-back", args.Values()...)
			})
			ns.On("message-with-ack", func(so *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
				if ack != nil {
					ack(args.Values()...)
				}
			})
		}
		return srv
	})
}
