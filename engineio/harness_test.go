package engineio_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/bridge"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/redisstore"
	"github.com/expressbridge/expressbridge/engineio"
	"github.com/expressbridge/expressbridge/engineio/parser"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// echo is the Engine.IO suite's server: every message back as it came.
type echo struct{ s *engineio.Session }

func newEcho(s *engineio.Session) engineio.Handler { return echo{s} }

func (echo) Opened()                       {}
func (h echo) Message(p parser.Packet)     { _ = h.s.Send(p) } // fails only when the session is closing
func (h echo) End(code int, reason string) { h.s.CloseWith(code, reason) }
func (echo) Closed(string)                 {}

// newBridge starts Redis and a bridge on it, running until cleanup, whose
// gate checks the cookies signed with "engine.io test secret".
func newBridge(t *testing.T, logs *testenv.Buffer) *bridge.Server {
	t.Helper()
	rds := testenv.StartRedis(t)
	client, err := redisstore.OpenURL(rds.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	store := redisstore.New(client, redisstore.Options{})
	ver, err := connectsid.NewVerifier("engine.io test secret")
	if err != nil {
		t.Fatal(err)
	}
	gate, err := auth.New(auth.Config{Verifier: ver, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	b, err := bridge.New(bridge.Config{Gate: gate, Watch: store.Watch, Logger: logger(logs)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-ran
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		if err := b.Shutdown(sctx); err != nil {
			t.Errorf("bridge Shutdown: %v", err)
		}
	})
	return b
}

// newLogs returns the buffer a test's servers log to, shown if it fails.
func newLogs(t *testing.T) *testenv.Buffer {
	logs := &testenv.Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return logs
}

func logger(logs *testenv.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
