package socketio_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/connectsid/redisstore"
	"github.com/expressbridge/expressbridge/internal/testenv"
	"github.com/expressbridge/expressbridge/internal/testrig"
	"github.com/expressbridge/expressbridge/liveness"
)

const testSecret = "socket.io test secret"

// env is a real Redis, a Tracker following sessions on it, and an HTTP
// server in front.
type env struct {
	redis *testenv.Redis
	store *redisstore.Store
	live  *liveness.Tracker
	url   string // http://127.0.0.1:PORT
	ln    net.Listener
	mux   *http.ServeMux
	logs  *testenv.Buffer
}

// newEnv starts Redis and a Tracker whose gate allows origins, serving
// nothing yet: add handlers to e.mux, then call e.serve.
func newEnv(t *testing.T, origins ...string) *env {
	t.Helper()
	return newEnvGate(t, auth.Config{AllowedOrigins: origins})
}

// newEnvGate is newEnv with a gate configured by gc (its Verifier and
// Store are the rig's).
func newEnvGate(t *testing.T, gc auth.Config) *env {
	t.Helper()
	tr := testrig.Start(t, testrig.Config{NoApp: true, Secrets: []string{testSecret}, Gate: gc})
	rds, store, gate := tr.Redis, tr.Store, tr.Gate
	logs := &testenv.Buffer{}
	live, err := liveness.New(liveness.Config{Gate: gate, Watch: store.Watch,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{redis: rds, store: store, live: live, url: "http://" + ln.Addr().String(), ln: ln, mux: http.NewServeMux(), logs: logs}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return e
}

// serve starts the HTTP server and the Tracker until cleanup.
func (e *env) serve(t *testing.T) {
	hs := &http.Server{Handler: e.mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); e.live.Run(ctx) }()
	served := make(chan error, 1)
	go func() { served <- hs.Serve(e.ln) }()
	t.Cleanup(func() {
		cancel()
		<-ran
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		hs.Shutdown(sctx)
		if err := e.live.Shutdown(sctx); err != nil {
			t.Errorf("Tracker Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
}

func (e *env) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
