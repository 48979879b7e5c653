//go:build linux

package e2e

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/bridge"
	"github.com/expressbridge/expressbridge/examples/chat"
	"github.com/expressbridge/expressbridge/internal/testenv"
	"github.com/expressbridge/expressbridge/internal/testrig"
	"github.com/expressbridge/expressbridge/socketio"
)

const (
	scriptTimeout = 120 * time.Second // the whole browser script
	sigtermGrace  = 5 * time.Second   // playwright closes its browser on SIGTERM
	exitGrace     = 3 * time.Second   // for Chromium's helpers to exit after the script
	demoSecret    = "e2e browser demo secret"
)

// TestBrowserDemo runs the demo as a person would see it: the Express app
// and the Go bridge (configured as `expressbridge serve` configures it) on
// 127.0.0.1, and node-app/scripts/browser-test.js driving two headless
// Chromium contexts through login, chat and logout. It writes
// docs/screenshot.png and build/e2e/*.png.
func TestBrowserDemo(t *testing.T) {
	start := time.Now()
	logs := newTestLog(t) // its cleanup runs last: later lines are dropped, not logged after the test

	// Resolve tools first so a missing one fails fast (Chromium installs itself as root).
	node := testenv.Node(t)
	chromium := testenv.Chromium(t)
	root := testenv.RepoRoot(t)

	// The bridge's listener comes first: the app needs its URL, and the
	// bridge needs the app's origin.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen for the bridge: %v", err)
	}
	// As make demo: the page puts its own host name in, so it works opened
	// as 127.0.0.1 and as localhost.
	bridgeURL := "ws://{hostname}:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port) + "/ws"
	rig := startRig(t, bridgeURL)
	app := rig.App
	localhost := strings.Replace(app.URL(), "127.0.0.1", "localhost", 1)
	t.Logf("app %s, bridge %s, redis %s (setup %v)", app.URL(), bridgeURL, rig.Redis.URL(), time.Since(start).Round(time.Millisecond))

	startBridge(t, ln, bridgeSetup{origins: []string{app.URL(), localhost}}, rig, logs)

	outDir := filepath.Join(root, "build", "e2e")
	docsShot := filepath.Join(root, "docs", "screenshot.png")
	runBrowserScript(t, logs, node, filepath.Join(root, "node-app"), "scripts/browser-test.js", []string{
		"APP_URL=" + app.URL(),
		"CHROMIUM=" + chromium,
		"OUT_DIR=" + outDir,
		"DOCS_SHOT=" + docsShot,
		"ALSO_URL=" + localhost,
	})

	for _, f := range []string{docsShot, filepath.Join(outDir, "chat-A.png"), filepath.Join(outDir, "chat-B.png")} {
		checkPNG(t, f, 1000, 700)
	}
	t.Logf("browser demo passed in %v", time.Since(start).Round(time.Millisecond))
}

// bridgeSetup is what differs between the browser tests' bridges.
type bridgeSetup struct {
	origins []string       // --allow-origin; none: the request's own host only
	proxies []netip.Prefix // --trust-proxy
}

// startRig starts Redis and the Express app on it with the demo's secret,
// its pages connecting to bridgeURL, and the bridge's store on that Redis.
func startRig(t *testing.T, bridgeURL string) *testrig.Rig {
	t.Helper()
	return testrig.Start(t, testrig.Config{
		Secrets: []string{demoSecret},
		App:     testenv.NodeAppConfig{BridgeURL: bridgeURL},
	})
}

// startBridge serves the bridge on ln at /ws and Socket.IO at /socket.io/
// as `expressbridge serve` would, on rig's store, and shuts it down at
// cleanup.
func startBridge(t *testing.T, ln net.Listener, setup bridgeSetup, rig *testrig.Rig, logs *testLog) {
	t.Helper()
	gate := rig.NewGate(auth.Config{AllowedOrigins: setup.origins})
	logger := slog.New(slog.NewTextHandler(logs.writer("bridge: "), &slog.HandlerOptions{Level: slog.LevelDebug}))
	b, err := bridge.New(bridge.Config{
		Gate:           gate,
		Protocol:       chat.WebSocket{},
		TrustedProxies: setup.proxies,
		Watch:          rig.Store.Watch, // as serve: connections end with their session
		Logger:         logger,
	})
	if err != nil {
		t.Fatalf("bridge.New: %v", err)
	}
	sio, err := socketio.New(socketio.Config{Live: b.Tracker(), Logger: logger})
	if err != nil {
		t.Fatalf("socketio.New: %v", err)
	}
	chat.SocketIO(sio.Of("/"))
	mux := http.NewServeMux()
	mux.Handle("/ws", b)
	mux.Handle("/socket.io/", sio)
	mux.Handle("/healthz", b.Healthz())
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          log.New(logs.writer("bridge http: "), "", 0),
	}
	srv.RegisterOnShutdown(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		sio.Shutdown(ctx)
	})
	liveCtx, stopLive := context.WithCancel(context.Background())
	liveDone := make(chan struct{})
	go func() { defer close(liveDone); b.Run(liveCtx) }()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		stopLive()
		<-liveDone
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("bridge http.Server.Shutdown: %v", err)
		}
		if err := b.Shutdown(ctx); err != nil { // hijacked WebSocket connections
			t.Errorf("bridge Shutdown: %v (%d connections left)", err, b.Len())
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("bridge Serve: %v", err)
		}
	})
}

// runBrowserScript runs node script (scripts/browser-test.js, …) in dir with env added,
// streaming its output to the test log, and fails the test unless it exits
// 0 within scriptTimeout. Whatever happens, no node or Chromium process it
// started survives it.
func runBrowserScript(t *testing.T, logs *testLog, node, dir, script string, env []string) {
	t.Helper()
	// Playwright puts Chromium's fresh profile under TMPDIR, and Chromium
	// its crash-report database and caches under the XDG directories: all
	// inside tmp, so nothing lands in ~/.config and every Chromium process
	// (several process groups; the crash handlers are reparented to init)
	// has tmp on its command line, which is how they are found again.
	tmp := t.TempDir()
	cmd := exec.Command(node, script)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), env...),
		"TMPDIR="+tmp, "XDG_CONFIG_HOME="+filepath.Join(tmp, "config"), "XDG_CACHE_HOME="+filepath.Join(tmp, "cache"))
	out := logs.writer("")
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 2 * time.Second
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node %s: %v", script, err)
	}
	pgid := cmd.Process.Pid
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()

	timer := time.NewTimer(scriptTimeout)
	defer timer.Stop()
	var err error
	timedOut := false
	select {
	case err = <-waited:
	case <-timer.C:
		timedOut = true
		t.Errorf("node %s still running after %v: stopping it", script, scriptTimeout)
		_ = syscall.Kill(-pgid, syscall.SIGTERM) // the leader is not reaped yet: the group is ours
		select {
		case err = <-waited:
		case <-time.After(sigtermGrace):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			err = <-waited
		}
	}
	elapsed := time.Since(t0).Round(time.Millisecond)

	// Node is gone; its browser may not be (it has its own process group).
	if left := waitGone(exitGrace, pgid, tmp); len(left) > 0 {
		for _, p := range left {
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
		}
		if !timedOut {
			t.Errorf("processes left behind by %s (killed now): %s", script, describe(left))
		}
		if left = waitGone(exitGrace, pgid, tmp); len(left) > 0 {
			t.Errorf("processes still running after SIGKILL: %s", describe(left))
		}
	}
	logs.flush()
	switch {
	case timedOut:
		t.Fatalf("node scripts/browser-test.js timed out after %v (%v); its output is above, screenshots in build/e2e", scriptTimeout, err)
	case err != nil:
		t.Fatalf("node scripts/browser-test.js failed after %v: %v; its output is above (the FAIL line says which step), screenshots in build/e2e", elapsed, err)
	}
	t.Logf("browser-test.js passed in %v", elapsed)
}

// process is one process found under /proc.
type process struct {
	pid, pgid int
	cmd       string
}

// waitGone polls until no process of group pgid, or using dir on its command
// line, or in the same group as one of those, is left, or grace ends; it
// returns those left.
func waitGone(grace time.Duration, pgid int, dir string) []process {
	deadline := time.Now().Add(grace)
	for {
		left := strays(pgid, dir)
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// strays lists the live processes of group pgid or of groups whose members
// have dir on their command line (Chromium's --user-data-dir).
func strays(pgid int, dir string) []process {
	entries, _ := os.ReadDir("/proc")
	var all []process
	groups := map[int]bool{pgid: true}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid pgrp ...: comm may hold spaces, so cut at the last ')'.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 3 || f[0] == "Z" {
			continue // zombies are already dead; their parent reaps them
		}
		g, _ := strconv.Atoi(f[2])
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		p := process{pid: pid, pgid: g, cmd: strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))}
		all = append(all, p)
		if strings.Contains(p.cmd, dir+"/") {
			groups[g] = true
		}
	}
	var left []process
	for _, p := range all {
		if groups[p.pgid] || strings.Contains(p.cmd, dir+"/") {
			left = append(left, p)
		}
	}
	return left
}

func describe(ps []process) string {
	var parts []string
	for _, p := range ps {
		cmd := p.cmd
		if len(cmd) > 120 {
			cmd = cmd[:120] + "…"
		}
		parts = append(parts, strconv.Itoa(p.pid)+" "+cmd)
	}
	return strings.Join(parts, "; ")
}

// checkPNG fails the test unless path is a PNG of the given size.
func checkPNG(t *testing.T, path string, width, height int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Errorf("screenshot: %v", err)
		return
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil || cfg.Width != width || cfg.Height != height {
		t.Errorf("%s: want a %dx%d PNG, got %dx%d, %v", path, width, height, cfg.Width, cfg.Height, err)
	}
}

// testLog turns writes from several goroutines into t.Log lines, one per
// line written, and drops them once the test is over.
type testLog struct {
	t      *testing.T
	mu     sync.Mutex
	closed bool
	ws     []*lineWriter
}

func newTestLog(t *testing.T) *testLog {
	l := &testLog{t: t}
	t.Cleanup(l.close)
	return l
}

func (l *testLog) writer(prefix string) *lineWriter {
	w := &lineWriter{log: l, prefix: prefix}
	l.mu.Lock()
	l.ws = append(l.ws, w)
	l.mu.Unlock()
	return w
}

// flush logs unterminated lines.
func (l *testLog) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, w := range l.ws {
		if w.buf != "" && !l.closed {
			l.t.Log(w.prefix + w.buf)
		}
		w.buf = ""
	}
}

func (l *testLog) close() {
	l.flush()
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
}

type lineWriter struct {
	log    *testLog
	prefix string
	buf    string // guarded by log.mu
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.log.mu.Lock()
	defer w.log.mu.Unlock()
	w.buf += string(b)
	for {
		line, rest, ok := strings.Cut(w.buf, "\n")
		if !ok {
			break
		}
		w.buf = rest
		if !w.log.closed {
			w.log.t.Log(w.prefix + strings.TrimSuffix(line, "\r"))
		}
	}
	return len(b), nil
}
