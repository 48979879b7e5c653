package bridge_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/bridge"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// runLive starts the server's watch loop for the test's lifetime.
func runLive(t *testing.T, b *bridgeServer) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); b.srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// waitClosed reads until c ends and returns the close frame's code and
// reason, failing after limit.
func waitClosed(t *testing.T, c *websocket.Conn, limit time.Duration) (int, string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		c.SetReadDeadline(deadline)
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("connection ended with %v within %v, want a close frame", err, limit)
		}
		return ce.Code, ce.Text
	}
}

// revokeLimit bounds how soon a change pushed by the store closes a
// connection. The push takes milliseconds; the bound is loose for a loaded
// CI machine under -race, far below DefaultRevalidateInterval (30 s), the
// only other path, so that it still proves the push. The tests log what
// they measure.
const revokeLimit = 3 * time.Second

func expectEnded(t *testing.T, c *websocket.Conn, limit time.Duration, reason string) {
	t.Helper()
	code, text := waitClosed(t, c, limit)
	if code != bridge.CloseUnauthorized || text != reason {
		t.Fatalf("closed with %d %q, want %d %q", code, text, bridge.CloseUnauthorized, reason)
	}
}

// watching waits until the bridge's keyspace subscription is live, so that
// a test's change cannot come before it.
func watching(t *testing.T, h *harness) {
	t.Helper()
	rc := h.redis.Client(t)
	testenv.WaitFor(t, 5*time.Second, "the keyspace subscription", func() bool {
		n, _ := rc.PubSubNumPat(context.Background()).Result()
		return n > 0
	})
}

// TestLogoutClosesConnectionsWithinASecond: the push takes milliseconds
// (logged); the test allows revokeLimit.
func TestLogoutClosesConnectionsWithinASecond(t *testing.T) {
	h := newHarness(t)
	b := h.serve(bridge.Config{Watch: h.store.Watch})
	runLive(t, b)
	watching(t, h)
	zoeCookie, _ := h.login("Zoë")
	bobCookie, _ := h.login("Bob")
	zoe1 := mustDial(t, b.ws, zoeCookie, "Zoë")
	zoe2 := mustDial(t, b.ws, zoeCookie, "Zoë") // a second tab
	bob := mustDial(t, b.ws, bobCookie, "Bob")

	start := time.Now()
	h.app.Logout(h.ctx, t, zoeCookie)
	expectEnded(t, zoe1, revokeLimit, bridge.ReasonLoggedOut)
	expectEnded(t, zoe2, revokeLimit, bridge.ReasonLoggedOut)
	t.Logf("logout through Express to close frame: %v", time.Since(start))

	send(t, bob, map[string]string{"type": "say", "text": "still here"})
	if m := readMsg(t, bob); m.Type != "said" {
		t.Fatalf("Bob's connection after Zoë's logout: %+v", m)
	}
}

func TestLoggedInFalseClosesConnection(t *testing.T) {
	h := newHarness(t)
	b := h.serve(bridge.Config{Watch: h.store.Watch})
	runLive(t, b)
	watching(t, h)
	cookie, _ := h.login("Zoë")
	c := mustDial(t, b.ws, cookie, "Zoë")
	start := time.Now()
	if status, body := h.app.PostJSON(h.ctx, t, "/test/set", cookie, map[string]any{"loggedIn": false}); status != 200 {
		t.Fatalf("/test/set: %d %s", status, body)
	}
	expectEnded(t, c, revokeLimit, bridge.ReasonLoggedOut)
	t.Logf("loggedIn false through Express to close frame: %v", time.Since(start))
}

func TestExpiryClosesConnectionOnTime(t *testing.T) {
	h := newHarness(t)
	app := testenv.StartNodeApp(t, testenv.NodeAppConfig{RedisURL: h.redis.URL(), Secrets: secrets, MaxAgeMS: 2000})
	b := h.serve(bridge.Config{Watch: h.store.Watch})
	runLive(t, b)
	watching(t, h)
	// Express sets cookie.expires 2 s after it takes the login, which is
	// after start: nothing may close it sooner (but for the millisecond
	// cookie.expires is truncated to).
	start := time.Now()
	cookie := app.Login(h.ctx, t, "Zoë")
	sid, _, _ := h.verifier.FromHeader(cookie, cookieName)
	h.addSensitive(cookie, sid)
	c := mustDial(t, b.ws, cookie, "Zoë")
	expectEnded(t, c, 2*time.Second+revokeLimit-time.Since(start), bridge.ReasonSessionExpired)
	d := time.Since(start)
	if d < 2*time.Second-10*time.Millisecond {
		t.Fatalf("closed %v after the login began, before the 2 s session could expire", d)
	}
	t.Logf("closed %v after the login began (the session's maxAge is 2 s)", d)
}

// Without CONFIG, the bridge cannot switch notifications on: it must warn
// once and find the logout by revalidating.
func TestFallbackRevalidation(t *testing.T) {
	h := newHarness(t, testenv.WithRedisArgs("--rename-command", "CONFIG", ""))
	app := h.app
	const interval = 300 * time.Millisecond
	b := h.serve(bridge.Config{Watch: h.store.Watch, RevalidateInterval: interval})
	runLive(t, b)
	testenv.WaitFor(t, 5*time.Second, "the warning", func() bool {
		return contains(h.logs.String(), "revalidating open sessions periodically")
	})
	cookie := app.Login(h.ctx, t, "Zoë")
	c := mustDial(t, b.ws, cookie, "Zoë")
	start := time.Now()
	app.Logout(h.ctx, t, cookie)
	// Revalidation is the only path here: any bound proves it.
	expectEnded(t, c, interval+revokeLimit, bridge.ReasonLoggedOut)
	t.Logf("logout through Express to close frame, revalidating every %v: %v", interval, time.Since(start))
	if n := countOf(h.logs.String(), "cannot be watched"); n != 1 {
		t.Fatalf("the warning was logged %d times, want once", n)
	}
}

// A thousand sessions logged out at once all close; no other does.
func TestMassLogout(t *testing.T) {
	h := newHarness(t)
	b := h.serve(bridge.Config{Watch: h.store.Watch})
	runLive(t, b)
	watching(t, h)
	const gone, kept = 1000, 50
	sids := seedSessions(t, h, "mass", gone+kept)
	conns := make([]*websocket.Conn, len(sids))
	dialAll(t, b, h, sids, conns)

	// Express's logout is a DEL of the key; do a thousand at once.
	keys := make([]string, gone)
	for i := range keys {
		keys[i] = h.store.Key(sids[i])
	}
	start := time.Now()
	if err := h.redis.Client(t).Del(h.ctx, keys...).Err(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, gone)
	for i := 0; i < gone; i++ {
		wg.Add(1)
		go func(c *websocket.Conn) {
			defer wg.Done()
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, _, err := c.ReadMessage()
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != bridge.CloseUnauthorized || ce.Text != bridge.ReasonLoggedOut {
				errs <- fmt.Errorf("want close 4401 logged-out, got %v", err)
			}
		}(conns[i])
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d sessions deleted → all closed in %v", gone, time.Since(start))
	testenv.WaitFor(t, 2*time.Second, "the server to drop them", func() bool { return b.srv.Len() == kept })
	for _, c := range conns[gone:] {
		send(t, c, map[string]string{"type": "whoami"})
		if m := readMsg(t, c); m.Type != "session" {
			t.Fatalf("a session that was not logged out: %+v", m)
		}
	}
}

// seedSessions writes n logged-in records exactly as express-session +
// connect-redis store them and returns their sids.
func seedSessions(t testing.TB, h *harness, tag string, n int) []string {
	t.Helper()
	pipe := h.redis.Client(t).Pipeline()
	sids := make([]string, n)
	exp := time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")
	for i := range sids {
		sids[i] = fmt.Sprintf("%s-%06d-abcdefghijklmnopqrstuv", tag, i)
		rec := `{"cookie":{"originalMaxAge":3600000,"expires":"` + exp +
			`","httpOnly":true,"path":"/","sameSite":"lax"},"loggedIn":true,"username":"` + sids[i][:len(tag)+7] + `"}`
		pipe.Set(h.ctx, h.store.Key(sids[i]), rec, time.Hour)
	}
	if _, err := pipe.Exec(h.ctx); err != nil {
		t.Fatal(err)
	}
	return sids
}

// dialAll connects one client per sid, 32 at a time.
func dialAll(t *testing.T, b *bridgeServer, h *harness, sids []string, conns []*websocket.Conn) {
	t.Helper()
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed error
	for i, sid := range sids {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int, sid string) {
			defer func() { <-sem; wg.Done() }()
			d := websocket.Dialer{HandshakeTimeout: ioWait}
			hdr := map[string][]string{"Cookie": {cookieName + "=" + h.verifier.Sign(sid)}}
			c, _, err := d.Dial(b.ws, hdr)
			if err == nil {
				c.SetReadDeadline(time.Now().Add(ioWait))
				_, _, err = c.ReadMessage() // hello
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = err
				return
			}
			conns[i] = c
		}(i, sid)
	}
	wg.Wait()
	for _, c := range conns {
		if c != nil {
			t.Cleanup(func() { c.Close() })
		}
	}
	if failed != nil {
		t.Fatalf("dial: %v", failed)
	}
}

func contains(s, sub string) bool { return countOf(s, sub) > 0 }

func countOf(s, sub string) int {
	n := 0
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			n++
		}
	}
	return n
}
