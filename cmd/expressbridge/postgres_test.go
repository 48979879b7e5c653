package main

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/internal/testenv"
)

// TestPostgres serves a passport app on connect-pg-simple with
// `serve --store-url postgres://…`: accepted through PostgreSQL, a logout
// seen by the once-a-second read without the trigger, then within
// milliseconds once `store install-notify` has installed it; doctor,
// session get and the probes on PostgreSQL.
func TestPostgres(t *testing.T) {
	secret := "postgres test secret ✓"
	pg := testenv.StartPostgres(t)
	app := testenv.StartNodeApp(t, testenv.NodeAppConfig{
		RedisURL: "redis://127.0.0.1:1", Secrets: []string{secret}, AuthFlavor: "passport",
		StoreFlavor: "connect-pg-simple", DatabaseURL: pg.URL(),
	})
	env := map[string]string{envStoreURL: pg.URL(), envSecret: secret}
	passport := []string{"--login-field", "passport.user", "--user-field", "passport.user", "--allow-origin", app.URL()}
	ctx := context.Background()

	// Without the trigger: serve polls once a second.
	sv := startServe(t, []string{secret}, env, append([]string{"--metrics-listen", "127.0.0.1:0"}, passport...)...)
	metricsAddr := sv.metrics
	waitReady(t, sv.base, http.StatusOK)
	cookie := app.Login(ctx, t, "alice")
	c := dialHello(t, sv.base, cookie, app.URL(), "42")
	took := logoutAndWaitClose(t, app, c, cookie)
	t.Logf("logout → close without the trigger (polling): %v", took)
	if took > 3*time.Second {
		t.Errorf("logout took %v to close the connection; want about a second", took)
	}
	if !strings.Contains(sv.stderr.String(), "revalidating open sessions periodically") {
		t.Errorf("serve did not say it polls:\n%s", sv.stderr.String())
	}
	// The store's round trips are timed: the handshake's get, the polls.
	body := get(t, "http://"+metricsAddr+"/metrics")
	for _, k := range []string{
		`expressbridge_store_request_duration_seconds_count{op="get",result="ok"}`,
		`expressbridge_store_request_duration_seconds_count{op="get many",result="ok"}`,
	} {
		if v, ok := metricValue(body, k); !ok || v < 1 {
			t.Errorf("%s = %v (%v); want at least 1\n%s", k, v, ok, body)
		}
	}

	// doctor and session on PostgreSQL.
	bob := app.Login(ctx, t, "bob")
	cli(t, env, "", append([]string{"doctor", bob}, passport[:4]...)...).want(t, exitOK,
		[]string{`✔ store      session `, ` found in table "session" (TTL `, "accepted as 100\n"}, nil)
	cli(t, env, "", "session", "get", bob).want(t, exitOK, []string{`"passport": {`, `"user": 100`}, nil)
	app.Logout(ctx, t, bob)
	res := cli(t, env, "", append([]string{"doctor", bob}, passport[:4]...)...)
	res.want(t, exitRefused, []string{`✘ store      no session `, ` in table "session" at postgres://`,
		"hint: the user logged out, or the row's expire passed"}, nil)
	if pw := passwordOf(pg.URL()); pw != "" && strings.Contains(res.stdout+res.stderr, pw) {
		t.Error("doctor printed the database password")
	}

	// The trigger: printed, installed, and then logouts arrive at once.
	cli(t, env, "", "store", "install-notify", "--print").want(t, exitOK,
		[]string{"CREATE TRIGGER \"expressbridge_notify\" AFTER INSERT OR UPDATE OR DELETE ON \"session\""}, nil)
	cli(t, env, "", "store", "install-notify").want(t, exitOK,
		[]string{`installed the expressbridge_notify trigger on "session"`}, nil)
	cli(t, map[string]string{envRedisURL: "redis://127.0.0.1:1"}, "", "store", "install-notify").want(t, exitUsage,
		nil, []string{"install-notify is for PostgreSQL"})
	sv2 := startServe(t, []string{secret}, env, passport...)
	testenv.WaitFor(t, 10*time.Second, "serve to watch the trigger", func() bool {
		return strings.Contains(sv2.stderr.String(), "watching session changes")
	})
	cookie = app.Login(ctx, t, "carol")
	c = dialHello(t, sv2.base, cookie, app.URL(), "")
	took = logoutAndWaitClose(t, app, c, cookie)
	t.Logf("logout → close with the trigger (LISTEN/NOTIFY): %v", took)
	// NOTIFY takes milliseconds. While serve watches it does not poll, and
	// it says so if it ever stops watching: then NOTIFY was the only path,
	// and the bound is loose for a loaded machine.
	if took > 3*time.Second {
		t.Errorf("logout took %v to close the connection with the trigger installed", took)
	}
	if strings.Contains(sv2.stderr.String(), "revalidating open sessions periodically") {
		t.Errorf("serve polled with the trigger installed:\n%s", sv2.stderr.String())
	}

	// The probes follow PostgreSQL.
	if b := get(t, "http://"+sv2.base+"/healthz"); !strings.Contains(b, `"status":"ok"`) {
		t.Errorf("/healthz: %s", b)
	}
}

// dialHello opens /ws with cookie and checks the hello (user, when not "").
func dialHello(t *testing.T, base, cookie, origin, user string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws://"+base+"/ws", http.Header{"Cookie": {cookie}, "Origin": {origin}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	var hello struct{ Type, User string }
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := c.ReadJSON(&hello); err != nil || hello.Type != "hello" || (user != "" && hello.User != user) {
		t.Fatalf("hello = %+v, %v; want user %q", hello, err, user)
	}
	return c
}

// logoutAndWaitClose logs out through Express and returns how long the
// bridge took to close c with 4401.
func logoutAndWaitClose(t *testing.T, app *testenv.NodeApp, c *websocket.Conn, cookie string) time.Duration {
	t.Helper()
	start := time.Now()
	app.Logout(context.Background(), t, cookie)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var err error
	for {
		if _, _, err = c.ReadMessage(); err != nil {
			break
		}
	}
	took := time.Since(start)
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4401 {
		t.Fatalf("after logout the client got %v, want close 4401", err)
	}
	return took
}

func passwordOf(rawURL string) string {
	_, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return ""
	}
	userinfo, _, ok := strings.Cut(rest, "@")
	if !ok {
		return ""
	}
	_, pw, _ := strings.Cut(userinfo, ":")
	return pw
}
