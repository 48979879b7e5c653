package bridge_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/bridge"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/pgstore"
	"github.com/expressbridge/expressbridge/examples/chat"
	"github.com/expressbridge/expressbridge/internal/testenv"
	"github.com/expressbridge/expressbridge/internal/testrig"
)

// counting is the chat plus {"type":"count"}: the connection saves
// count+1 in its Express session (Conn.SaveSession) and answers
// {"type":"count","message":"N"}, or {"type":"error","message":…}.
type counting struct{ chat.WebSocket }

func (p counting) Message(c *bridge.Conn, m []byte) {
	if strings.TrimSpace(string(m)) != `{"type":"count"}` {
		p.WebSocket.Message(c, m)
		return
	}
	var n int
	err := c.SaveSession(context.Background(), func(sess *connectsid.Session) error {
		n = 0
		if err := sess.Get("count", &n); err != nil && !errors.Is(err, connectsid.ErrNoField) {
			return err
		}
		n++
		return sess.Set("count", n)
	})
	if err != nil {
		c.SendJSON(map[string]string{"type": "error", "message": err.Error()})
		return
	}
	c.SendJSON(map[string]string{"type": "count", "message": strconv.Itoa(n)})
}

// whoamiUntil asks whoami until the session has want's fields (the
// revalidation after a change in Express is asynchronous).
func whoamiUntil(t *testing.T, c *websocket.Conn, want map[string]any) map[string]any {
	t.Helper()
	var got map[string]any
	testenv.WaitFor(t, 5*time.Second, "whoami to show the change", func() bool {
		send(t, c, map[string]string{"type": "whoami"})
		m := readMsg(t, c)
		got = nil
		json.Unmarshal(m.Session, &got)
		for k, v := range want {
			if b, _ := json.Marshal(got[k]); string(b) != mustJSON(v) {
				return false
			}
		}
		return true
	})
	return got
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// TestIdentity: the seed app's session changes in Express without a
// regenerate (the same cookie): a field set is what whoami says next; the
// user changed (Zoë → Mallory) ends Zoë's connection session-changed and a
// new one with the cookie is Mallory's; the login field removed ends it
// logged-out; a malformed record session-changed.
func TestIdentity(t *testing.T) {
	h := newHarness(t)
	b := h.serve(bridge.Config{Watch: h.store.Watch})
	runLive(t, b)
	watching(t, h)
	cookie, sid := h.login("Zoë")
	zoe := mustDial(t, b.ws, cookie, "Zoë")
	set := func(fields map[string]any) {
		t.Helper()
		if status, body := h.app.PostJSON(h.ctx, t, "/test/set", cookie, fields); status != 200 {
			t.Fatalf("/test/set: %d %s", status, body)
		}
	}
	set(map[string]any{"theme": "dark"})
	got := whoamiUntil(t, zoe, map[string]any{"theme": "dark", "username": "Zoë"})
	t.Logf("whoami after Express set theme: %v", got)

	start := time.Now()
	set(map[string]any{"username": "Mallory"})
	expectEnded(t, zoe, revokeLimit, bridge.ReasonSessionChanged)
	t.Logf("Zoë → Mallory through Express to close frame: %v", time.Since(start))
	mallory := mustDial(t, b.ws, cookie, "Mallory")

	set(map[string]any{"loggedIn": nil})
	expectEnded(t, mallory, revokeLimit, bridge.ReasonLoggedOut)

	set(map[string]any{"loggedIn": true})
	again := mustDial(t, b.ws, cookie, "Mallory")
	if err := h.rdb.Set(h.ctx, h.store.Key(sid), `{"loggedIn":true,"username":"Mallory"}`, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	expectEnded(t, again, revokeLimit, bridge.ReasonSessionChanged) // no cookie object: malformed
}

// TestPassportLogoutIsLoggedOut: passport's req.logout() (which first
// saves the session without passport.user, then regenerates it) ends the
// connection logged-out, 10 times of 10; another user's id in the session
// ends it session-changed.
func TestPassportLogoutIsLoggedOut(t *testing.T) {
	h := bareHarness(t)
	h.use(testrig.Config{Secrets: secrets, App: testenv.NodeAppConfig{AuthFlavor: "passport"},
		Gate: auth.Config{LoginField: "passport.user", UserField: "passport.user"}})
	b := h.serve(bridge.Config{Gate: h.rig.Gate, Watch: h.store.Watch})
	runLive(t, b)
	watching(t, h)
	const logouts = 10
	for i := range logouts {
		cookie, _ := h.login("alice")
		c := mustDial(t, b.ws, cookie, "42")
		h.app.Logout(h.ctx, t, cookie)
		expectEnded(t, c, revokeLimit, bridge.ReasonLoggedOut)
		t.Logf("logout %d/%d: 4401 logged-out", i+1, logouts)
	}
	h.login("mallory") // id 100
	cookie, _ := h.login("alice")
	c := mustDial(t, b.ws, cookie, "42")
	if status, body := h.app.PostJSON(h.ctx, t, "/test/set", cookie, map[string]any{"passport": map[string]any{"user": 100}}); status != 200 {
		t.Fatalf("/test/set: %d %s", status, body)
	}
	expectEnded(t, c, revokeLimit, bridge.ReasonSessionChanged)
}

// TestSaveSession: a /ws handler's SaveSession is what Express reads on
// its next request; saves from Go and writes from Express to other fields,
// at the same time, lose none of Express's; a session destroyed meanwhile
// is not recreated and the connection ends logged-out. On Redis
// (connect-redis) and PostgreSQL (connect-pg-simple).
func TestSaveSession(t *testing.T) {
	t.Run("redis", func(t *testing.T) {
		h := newHarness(t)
		b := h.serve(bridge.Config{Watch: h.store.Watch, Protocol: counting{}})
		runLive(t, b)
		watching(t, h)
		testSave(t, h.ctx, h.app, b.ws, func(user string) string { c, _ := h.login(user); return c },
			func(sid string) bool { n, _ := h.rdb.Exists(h.ctx, h.store.Key(sid)).Result(); return n == 1 }, h.verifier)
	})
	t.Run("postgres", func(t *testing.T) {
		pg := testenv.StartPostgres(t)
		ctx := context.Background()
		app := testenv.StartNodeApp(t, testenv.NodeAppConfig{RedisURL: "redis://127.0.0.1:1", Secrets: secrets,
			StoreFlavor: "connect-pg-simple", DatabaseURL: pg.URL()})
		pool, err := pgstore.OpenURL(ctx, pg.URL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		store, err := pgstore.New(pool, pgstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		ver, _ := connectsid.NewVerifier(secrets...)
		gate, err := auth.New(auth.Config{Verifier: ver, Store: store})
		if err != nil {
			t.Fatal(err)
		}
		srv, err := bridge.New(bridge.Config{Gate: gate, Protocol: counting{}, RevalidateInterval: 200 * time.Millisecond,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(srv)
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); srv.Run(rctx) }()
		t.Cleanup(func() { cancel(); <-done; srv.Shutdown(context.Background()); hs.Close() })
		testSave(t, ctx, app, "ws"+strings.TrimPrefix(hs.URL, "http"), func(user string) string { return app.Login(ctx, t, user) },
			func(sid string) bool { _, err := store.TTL(ctx, sid); return err == nil }, ver)
	})
}

func testSave(t *testing.T, ctx context.Context, app *testenv.NodeApp, ws string, login func(string) string,
	exists func(sid string) bool, ver *connectsid.Verifier) {
	count := func(c *websocket.Conn) msg {
		t.Helper()
		send(t, c, map[string]string{"type": "count"})
		return readMsg(t, c)
	}
	// 1. Express reads what Go saved, and Go kept what Express wrote.
	cookie := login("Cat")
	c := mustDial(t, ws, cookie, "Cat")
	for n := 1; n <= 3; n++ {
		if m := count(c); m.Type != "count" || m.Message != strconv.Itoa(n) {
			t.Fatalf("count %d: %+v", n, m)
		}
		if status, body := app.PostJSON(ctx, t, "/test/set", cookie, map[string]any{"express" + strconv.Itoa(n): n}); status != 200 {
			t.Fatalf("/test/set: %d %s", status, body)
		}
	}
	who := app.WhoAmI(ctx, t, cookie)
	var sess map[string]any
	json.Unmarshal(who.Session, &sess)
	if sess["count"] != float64(3) || sess["express1"] != float64(1) || sess["express3"] != float64(3) || who.Username == nil || *who.Username != "Cat" {
		t.Fatalf("Express reads %s", who.Session)
	}
	t.Logf("Express reads, after 3 saves from Go between its own: %s", who.Session)

	// 2. At the same time: Express sets e0…e29 one request after the
	// other while the connection saves count 30 times.
	const rounds = 30
	saved := make(chan string, 1)
	go func() {
		last := ""
		for range rounds {
			if err := c.WriteJSON(map[string]string{"type": "count"}); err != nil {
				last = "error: " + err.Error()
				break
			}
			m, err := tryReadMsg(c)
			if err != nil || m.Type != "count" {
				last = "error: " + m.Message
				break
			}
			last = m.Message
		}
		saved <- last
	}()
	for i := range rounds {
		if status, body := app.PostJSON(ctx, t, "/test/set", cookie, map[string]any{"e" + strconv.Itoa(i): i}); status != 200 {
			t.Fatalf("/test/set: %d %s", status, body)
		}
	}
	last := <-saved
	who = app.WhoAmI(ctx, t, cookie)
	sess = nil
	json.Unmarshal(who.Session, &sess)
	for i := range rounds {
		if sess["e"+strconv.Itoa(i)] != float64(i) {
			t.Fatalf("Express's e%d was lost: %s", i, who.Session)
		}
	}
	t.Logf("concurrent: all %d of Express's fields kept; Go's last save said count %s, the record holds count %v "+
		"(a save that lands inside an Express request's own read-modify-write is overwritten by it)", rounds, last, sess["count"])

	// 3. Destroyed meanwhile: the save fails, nothing is recreated, the
	// connection ends logged-out.
	sid, _, _ := ver.FromHeader(cookie, cookieName)
	app.Logout(ctx, t, cookie)
	send(t, c, map[string]string{"type": "count"})
	for {
		m, err := tryReadMsg(c)
		if err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != bridge.CloseUnauthorized || ce.Text != bridge.ReasonLoggedOut {
				t.Fatalf("after the logout: %v, want 4401 logged-out", err)
			}
			break
		}
		if m.Type == "count" {
			t.Fatalf("a save after the logout succeeded: %+v", m)
		}
		t.Logf("save after the logout: %s", m.Message)
	}
	if exists(sid) {
		t.Fatal("the destroyed session was recreated")
	}
}
