package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// served is `expressbridge serve` running in-process.
type served struct {
	base    string // host:port
	metrics string // host:port of --metrics-listen, when given
	stderr  testenv.Buffer
	stop    context.CancelFunc // SIGTERM's path
	exited  chan int           // serve's exit status, once
	done    chan struct{}      // closed when serve has returned
}

// startServe runs serve with a secret file of secrets, env as its whole
// environment and args after its own --listen and --secret-file, and
// returns once /healthz answers 200. At cleanup it is stopped and waited for.
// serve listens on a port of the kernel's choosing, read from its log: a
// FreePort could be taken by another test before serve binds it. For
// metrics, pass --metrics-listen 127.0.0.1:0 and read sv.metrics.
func startServe(t *testing.T, secrets []string, env map[string]string, args ...string) *served {
	t.Helper()
	secretFile := filepath.Join(t.TempDir(), "secrets")
	os.WriteFile(secretFile, []byte(strings.Join(secrets, "\n")+"\n"), 0o600)
	sv := &served{exited: make(chan int, 1), done: make(chan struct{})}
	ctx, stop := context.WithCancel(context.Background())
	sv.stop = stop
	go func() {
		defer close(sv.done)
		sv.exited <- run(ctx, append([]string{"serve", "--listen", "127.0.0.1:0", "--secret-file", secretFile}, args...),
			strings.NewReader(""), &bytes.Buffer{}, &sv.stderr, func(k string) string { return env[k] })
	}()
	t.Cleanup(func() {
		stop()
		select {
		case <-sv.done:
		case <-time.After(15 * time.Second):
			t.Error("serve did not stop")
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		if sv.base == "" {
			sv.base = loggedAddr(sv.stderr.String(), servingLine)
		}
		if sv.base != "" {
			var resp *http.Response
			if resp, err = http.Get("http://" + sv.base + "/healthz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					// Logged before serve serves, so before this answer.
					sv.metrics = loggedAddr(sv.stderr.String(), metricsLine)
					return sv
				}
			}
		}
		select {
		case <-sv.done:
			t.Fatalf("serve exited:\n%s", sv.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not become healthy: %v\n%s", err, sv.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Where serve's log says it listens, as text or JSON.
var (
	servingLine = regexp.MustCompile(`expressbridge serving\b[^\n]*?\burl\W+ws://([^/"\s]+)`)
	metricsLine = regexp.MustCompile(`metrics serving\b[^\n]*?\burl\W+http://([^/"\s]+)`)
)

// loggedAddr returns the host:port that line found in log, or "".
func loggedAddr(log string, line *regexp.Regexp) string {
	if m := line.FindStringSubmatch(log); m != nil {
		return m[1]
	}
	return ""
}

// TestServe runs `expressbridge serve` in-process beside the real Express
// app and a real Redis, as a user would: login through Express, hello from
// the bridge, health, explain mode, and a graceful stop.
func TestServe(t *testing.T) {
	secret := "serve test secret ✓"
	r := testenv.StartRedis(t)
	app := testenv.StartNodeApp(t, testenv.NodeAppConfig{RedisURL: r.URL(), Secrets: []string{secret}})
	sv := startServe(t, []string{secret}, map[string]string{"REDIS_URL": r.URL()},
		"--log-level", "debug", "--allow-origin", app.URL())
	base, stderr, stop, exited := sv.base, &sv.stderr, sv.stop, sv.exited

	cookie := app.Login(context.Background(), t, "Zoë 🚀")
	ver, _ := connectsid.NewVerifier(secret)
	sid, _, err := ver.FromHeader(cookie, "connect.sid")
	if err != nil {
		t.Fatal(err)
	}
	hdr := http.Header{"Cookie": {cookie}, "Origin": {app.URL()}}
	c, _, err := websocket.DefaultDialer.Dial("ws://"+base+"/ws", hdr)
	if err != nil {
		t.Fatalf("dial: %v\n%s", err, stderr.String())
	}
	defer c.Close()
	var hello struct{ Type, User string }
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := c.ReadJSON(&hello); err != nil || hello.Type != "hello" || hello.User != "Zoë 🚀" {
		t.Fatalf("hello = %+v, %v", hello, err)
	}

	// A page of another origin is refused, and explain mode says why.
	bad, resp, err := websocket.DefaultDialer.Dial("ws://"+base+"/ws?explain=1",
		http.Header{"Cookie": {cookie}, "Origin": {"http://evil.example"}})
	if err != nil {
		t.Fatalf("explain dial: %v (%v)", err, resp)
	}
	var refusal struct{ Type, Error string }
	bad.ReadJSON(&refusal)
	_, _, err = bad.ReadMessage()
	var ce *websocket.CloseError
	if refusal.Error != "bad-origin" || !errors.As(err, &ce) || ce.Code != 4403 {
		t.Fatalf("explain: %+v then %v", refusal, err)
	}
	bad.Close()

	// /healthz follows Redis.
	r.Kill(t)
	testenv.WaitFor(t, 5*time.Second, "healthz 503 with Redis down", func() bool { // an answer may be PingReuse old
		resp, err := http.Get("http://" + base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 503
	})
	r.Start(t)
	// The restarted Redis lost the session: the bridge, subscribed again,
	// closes the connection as logged out.
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err = c.ReadMessage(); !errors.As(err, &ce) || ce.Code != 4401 || ce.Text != "logged-out" {
		t.Fatalf("after a restart that lost the session the client got %v, want close 4401 logged-out", err)
	}
	c.Close()
	cookie = app.Login(context.Background(), t, "Zoë 🚀")
	c, _, err = websocket.DefaultDialer.Dial("ws://"+base+"/ws", http.Header{"Cookie": {cookie}, "Origin": {app.URL()}})
	if err != nil {
		t.Fatalf("dial after the restart: %v\n%s", err, stderr.String())
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := c.ReadJSON(&hello); err != nil || hello.Type != "hello" {
		t.Fatalf("hello after the restart = %+v, %v", hello, err)
	}

	// SIGTERM's path: stop accepting, close with 1001, exit 0.
	stop()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err = c.ReadMessage()
	if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
		t.Fatalf("on shutdown the client got %v, want close 1001", err)
	}
	select {
	case code := <-exited:
		if code != exitOK {
			t.Fatalf("serve exited %d\n%s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}

	logs := stderr.String()
	for _, s := range []string{secret, cookie, strings.TrimPrefix(cookie, "connect.sid="), sid} {
		if strings.Contains(logs, s) {
			t.Errorf("serve's log holds %.12q…", s)
		}
	}
	for _, want := range []string{"expressbridge serving", "handshake refused", "step=origin", "stopped"} {
		if !strings.Contains(logs, want) {
			t.Errorf("serve's log lacks %q:\n%s", want, logs)
		}
	}
}
