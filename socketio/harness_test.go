package socketio

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/bridge"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/redisstore"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

const testSecret = "socket.io test secret"

// env is a real Redis, the bridge on it, and an HTTP server in front.
type env struct {
	redis  *testenv.Redis
	store  *redisstore.Store
	bridge *bridge.Server
	url    string // http://127.0.0.1:PORT
	ln     net.Listener
	mux    *http.ServeMux
	logs   *testenv.Buffer
}

// newEnv starts Redis and a bridge whose gate allows origins, serving
// nothing yet: add handlers to e.mux, then call e.serve.
func newEnv(t *testing.T, origins ...string) *env {
	t.Helper()
	rds := testenv.StartRedis(t)
	client, err := redisstore.OpenURL(rds.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	store := redisstore.New(client, redisstore.Options{})
	ver, err := connectsid.NewVerifier(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	gate, err := auth.New(auth.Config{Verifier: ver, Store: store, AllowedOrigins: origins})
	if err != nil {
		t.Fatal(err)
	}
	logs := &testenv.Buffer{}
	b, err := bridge.New(bridge.Config{Gate: gate, Watch: store.Watch,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{redis: rds, store: store, bridge: b, url: "http://" + ln.Addr().String(), ln: ln, mux: http.NewServeMux(), logs: logs}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return e
}

// serve starts the HTTP server and the bridge's live machinery until cleanup.
func (e *env) serve(t *testing.T) {
	hs := &http.Server{Handler: e.mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); e.bridge.Run(ctx) }()
	served := make(chan error, 1)
	go func() { served <- hs.Serve(e.ln) }()
	t.Cleanup(func() {
		cancel()
		<-ran
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		hs.Shutdown(sctx)
		if err := e.bridge.Shutdown(sctx); err != nil {
			t.Errorf("bridge Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
}

func (e *env) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

var tapCount = regexp.MustCompile(`(?m)^# (tests|pass|fail|skipped|todo|cancelled) (\d+)$`)

// runNode runs a node script (or node --test) in node-app with env added,
// logs its output, and returns the TAP counts when it printed them. It
// fails the test when node exits non-zero.
func runNode(t *testing.T, timeout time.Duration, env []string, args ...string) map[string]int {
	t.Helper()
	node := testenv.Node(t)
	testenv.EnsureNodeModules(t)
	dir := filepath.Join(testenv.RepoRoot(t), "node-app")
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 2 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	var out strings.Builder
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
		}
	}()
	err := cmd.Run()
	pw.Close()
	<-done
	counts := map[string]int{}
	for _, m := range tapCount.FindAllStringSubmatch(out.String(), -1) {
		counts[m[1]], _ = strconv.Atoi(m[2])
	}
	if err != nil || counts["fail"] > 0 {
		t.Errorf("node %s: %v\n%s", strings.Join(args, " "), err, out.String())
	} else if testing.Verbose() {
		t.Logf("node %s:\n%s", strings.Join(args, " "), out.String())
	}
	return counts
}
