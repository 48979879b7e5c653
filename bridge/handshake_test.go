package bridge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/bridge"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/redisstore"
	"github.com/expressbridge/expressbridge/examples/chat"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// TestHandshakeRefusals refuses each kind of bad handshake before the
// upgrade, with its status and code, using cookies the real Express app
// issued wherever one exists; with ?explain=1 the same handshake is
// upgraded, told the code in one frame and closed with 4401 or 4403.
func TestHandshakeRefusals(t *testing.T) {
	h := newHarness(t)
	b := h.serve(bridge.Config{})
	_, sid := h.login("Zoë")
	other, err := connectsid.NewVerifier("another app's secret")
	if err != nil {
		t.Fatal(err)
	}

	// junkRecord signs a cookie for a new sid whose record is value.
	junkRecord := func(t *testing.T, sid, value string) string {
		if err := h.rdb.Set(h.ctx, redisstore.DefaultPrefix+sid, value, time.Minute).Err(); err != nil {
			t.Fatalf("SET: %v", err)
		}
		h.addSensitive(sid)
		return cookieName + "=" + h.verifier.Sign(sid)
	}

	tests := []handshakeCase{
		{
			name:   "no cookie",
			cookie: func(*testing.T) (string, string) { return "", "" },
			status: http.StatusUnauthorized, code: connectsid.CodeNoCookie,
		},
		{
			name:   "other cookies only",
			cookie: func(*testing.T) (string, string) { return "theme=dark; connect.sidx=s%3Aa.b", "" },
			status: http.StatusUnauthorized, code: connectsid.CodeNoCookie,
		},
		{
			name:   "bare sid, not signed",
			cookie: func(*testing.T) (string, string) { return cookieName + "=" + sid, sid },
			status: http.StatusUnauthorized, code: connectsid.CodeNotSigned,
		},
		{
			name:   "signed with another secret",
			cookie: func(*testing.T) (string, string) { return cookieName + "=" + other.Sign(sid), sid },
			status: http.StatusUnauthorized, code: connectsid.CodeBadSignature,
		},
		{
			name:   "signed, no dot",
			cookie: func(*testing.T) (string, string) { return cookieName + "=s%3A" + sid, sid },
			status: http.StatusUnauthorized, code: connectsid.CodeMalformed,
		},
		{
			name: "logged out through Express",
			cookie: func(t *testing.T) (string, string) {
				cookie, sid := h.login("Leaving")
				h.app.Logout(h.ctx, t, cookie)
				return cookie, sid
			},
			status: http.StatusUnauthorized, code: connectsid.CodeNoSession,
		},
		{
			name: "cookie.expires passed, key still there",
			cookie: func(t *testing.T) (string, string) {
				cookie, sid := h.login("Late")
				key := redisstore.DefaultPrefix + sid
				record, err := h.rdb.Get(h.ctx, key).Result()
				if err != nil {
					t.Fatalf("GET %s…: %v", key[:10], err)
				}
				var r struct {
					Cookie struct {
						Expires string `json:"expires"`
					} `json:"cookie"`
				}
				if err := json.Unmarshal([]byte(record), &r); err != nil || r.Cookie.Expires == "" {
					t.Fatalf("Express record without cookie.expires (%v): %s", err, record)
				}
				past := strings.Replace(record, `"expires":"`+r.Cookie.Expires+`"`, `"expires":"2001-02-03T04:05:06.789Z"`, 1)
				if past == record {
					t.Fatalf("cannot find expires in %s", record)
				}
				if err := h.rdb.Set(h.ctx, key, past, time.Minute).Err(); err != nil {
					t.Fatalf("SET: %v", err)
				}
				return cookie, sid
			},
			status: http.StatusUnauthorized, code: connectsid.CodeExpired,
		},
		{
			name: "record is not JSON",
			cookie: func(t *testing.T) (string, string) {
				const sid = "junk-record-0123456789abcdefghij"
				return junkRecord(t, sid, "this is not JSON {"), sid
			},
			status: http.StatusUnauthorized, code: connectsid.CodeMalformedSession,
		},
		{
			name: "record without cookie object",
			cookie: func(t *testing.T) (string, string) {
				const sid = "nocookie-record-0123456789abcdef"
				return junkRecord(t, sid, `{"loggedIn":true,"username":"x"}`), sid
			},
			status: http.StatusUnauthorized, code: connectsid.CodeMalformedSession,
		},
		loggedInSetTo(h, "Quitter", false),
		loggedInSetTo(h, "Stringly", ""),
		loggedInSetTo(h, "Zero", 0),
		loggedInSetTo(h, "Nully", nil),
		{
			name:   "page on another site",
			cookie: func(*testing.T) (string, string) { c, s := h.login("Victim"); return c, s },
			header: []string{"Origin", "https://evil.example"},
			status: http.StatusForbidden, code: auth.CodeBadOrigin,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cookie, sid := tc.cookie(t)
			_, resp, err := dial(t, b.ws, cookie, tc.header...)
			message := expectRefusal(t, resp, err, tc.status, tc.code)
			if sid != "" && strings.Contains(message, sid) {
				t.Errorf("message %q holds the whole session ID", message)
			}
			closeCode := bridge.CloseUnauthorized
			if tc.status == http.StatusForbidden {
				closeCode = bridge.CloseForbidden
			}
			expectExplain(t, b.ws, cookie, tc.code, closeCode, tc.header...)
			if n := b.srv.Len(); n != 0 {
				t.Errorf("Len() = %d after refusals, want 0", n)
			}
		})
	}
}

// TestStoreUnavailable kills Redis under a running bridge: handshakes get
// 503 store-unavailable with Retry-After quickly (explain: 4503), /healthz
// turns 503; once Redis is back, a new login is accepted by the same bridge.
func TestStoreUnavailable(t *testing.T) {
	h := newHarness(t)
	b := h.serve(bridge.Config{})
	cookie, _ := h.login("Zoë")
	mustDial(t, b.ws, cookie, "Zoë")
	expectHealth(t, b, http.StatusOK)

	h.redis.Kill(t)
	start := time.Now()
	_, resp, err := dial(t, b.ws, cookie)
	expectRefusal(t, resp, err, http.StatusServiceUnavailable, connectsid.CodeStoreUnavailable)
	if d := time.Since(start); d >= 3*time.Second {
		t.Errorf("refusal took %v with Redis down, want < 3 s (store timeout %v)", d, redisstore.DefaultTimeout)
	}
	if ra := resp.Header.Get("Retry-After"); ra != "2" {
		t.Errorf("Retry-After %q, want 2", ra)
	}
	expectExplain(t, b.ws, cookie, connectsid.CodeStoreUnavailable, bridge.CloseUnavailable)
	expectHealth(t, b, http.StatusServiceUnavailable)

	h.redis.Start(t)
	// Express reconnects on its own schedule; a save through it says when.
	testenv.WaitFor(t, 10*time.Second, "Express to store sessions again", func() bool {
		st, _ := h.app.PostJSON(h.ctx, t, "/test/set", "", map[string]any{"probe": true})
		return st == http.StatusOK
	})
	// The restarted Redis is empty: the old session is gone, a new login works.
	_, resp, err = dial(t, b.ws, cookie)
	expectRefusal(t, resp, err, http.StatusUnauthorized, connectsid.CodeNoSession)
	cookie, _ = h.login("Zoë again")
	mustDial(t, b.ws, cookie, "Zoë again")
	expectHealth(t, b, http.StatusOK)
}

// expectHealth waits for /healthz's status (its store answer may be
// liveness.PingReuse old) and checks its JSON body.
func expectHealth(t *testing.T, b *bridgeServer, status int) {
	t.Helper()
	var resp *http.Response
	var body []byte
	testenv.WaitFor(t, 5*time.Second, "/healthz "+strconv.Itoa(status), func() bool {
		req, _ := http.NewRequest(http.MethodGet, b.http+"/healthz", nil)
		resp, body = httpDo(t, req)
		return resp.StatusCode == status
	})
	var v struct {
		Status string `json:"status"`
		Error  string `json:"error"`
	}
	if resp.StatusCode != status || json.Unmarshal(body, &v) != nil {
		t.Fatalf("/healthz: %s %s, want %d JSON", resp.Status, body, status)
	}
	switch status {
	case http.StatusOK:
		if v.Status != "ok" {
			t.Errorf("/healthz body %s, want status ok", body)
		}
	default:
		if v.Error != connectsid.CodeStoreUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("/healthz: body %s, Retry-After %q; want store-unavailable and a Retry-After", body, resp.Header.Get("Retry-After"))
		}
	}
}

// TestBadRequests refuses what is not a WebSocket handshake with 405 or 400
// bad-request, even with ?explain=1, and never upgrades it.
func TestBadRequests(t *testing.T) {
	h := newHarness(t)
	b := h.serve(bridge.Config{})
	cookie, _ := h.login("Zoë")

	wsHeaders := map[string]string{
		"Upgrade": "websocket", "Connection": "Upgrade",
		"Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
	}
	tests := []struct {
		name    string
		method  string
		query   string
		without string            // a handshake header left out; "all" for every one
		set     map[string]string // handshake headers given another value
		status  int
	}{
		{name: "POST", method: http.MethodPost, status: http.StatusMethodNotAllowed},
		{name: "PUT with explain", method: http.MethodPut, query: "?explain=1", status: http.StatusMethodNotAllowed},
		{name: "plain GET", method: http.MethodGet, without: "all", status: http.StatusBadRequest},
		{name: "no Upgrade", method: http.MethodGet, without: "Upgrade", status: http.StatusBadRequest},
		{name: "no Connection", method: http.MethodGet, without: "Connection", status: http.StatusBadRequest},
		{name: "Upgrade h2c", method: http.MethodGet, set: map[string]string{"Upgrade": "h2c"}, status: http.StatusBadRequest},
		{name: "no Sec-WebSocket-Key", method: http.MethodGet, without: "Sec-WebSocket-Key", status: http.StatusBadRequest},
		{name: "no Sec-WebSocket-Key, explain", method: http.MethodGet, query: "?explain=1", without: "Sec-WebSocket-Key", status: http.StatusBadRequest},
		// These pass the bridge's checks (the session included); the
		// upgrader refuses them, with the same JSON body.
		{name: "Sec-WebSocket-Key not 16 bytes", method: http.MethodGet, set: map[string]string{"Sec-WebSocket-Key": "abc"}, status: http.StatusBadRequest},
		{name: "no Sec-WebSocket-Version", method: http.MethodGet, without: "Sec-WebSocket-Version", status: http.StatusBadRequest},
		{name: "Sec-WebSocket-Version 8", method: http.MethodGet, set: map[string]string{"Sec-WebSocket-Version": "8"}, status: http.StatusBadRequest},
		{name: "Sec-WebSocket-Version 8, explain", method: http.MethodGet, query: "?explain=1", set: map[string]string{"Sec-WebSocket-Version": "8"}, status: http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, b.http+"/ws"+tc.query, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Cookie", cookie)
			for k, v := range wsHeaders {
				if tc.without != "all" && k != tc.without {
					req.Header.Set(k, v)
				}
			}
			for k, v := range tc.set {
				req.Header.Set(k, v)
			}
			resp, body := httpDo(t, req)
			var rb refusalBody
			if resp.StatusCode != tc.status || json.Unmarshal(body, &rb) != nil || rb.Error != auth.CodeBadRequest || rb.Message == "" {
				t.Fatalf("%s %s, want %d {\"error\":%q,…}", resp.Status, body, tc.status, auth.CodeBadRequest)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
		})
	}
	if n := b.srv.Len(); n != 0 {
		t.Errorf("Len() = %d, want 0", n)
	}
}

// TestOrigins checks the origin rules: the same host, or the allow-list
// when one is given (scheme and host compared without case); no Origin is
// fine; anything else is 403 bad-origin.
func TestOrigins(t *testing.T) {
	h := newHarness(t)
	cookie, _ := h.login("Zoë")
	sameHost := h.serve(bridge.Config{})
	listed := h.serve(bridge.Config{Gate: h.gate(auth.Config{AllowedOrigins: []string{"https://App.Example.com", "http://localhost:3000/"}})})

	tests := []struct {
		name   string
		b      *bridgeServer
		origin string // SELF stands for the bridge's host:port
		ok     bool
	}{
		{"same host", sameHost, "http://SELF", true},
		{"same host, https page", sameHost, "https://SELF", true},
		{"no Origin", sameHost, "", true},
		{"other host", sameHost, "http://evil.example", false},
		{"same host, other port", sameHost, "http://127.0.0.1:1", false},
		{"localhost is not 127.0.0.1", sameHost, "http://localhost" + sameHost.host[strings.LastIndexByte(sameHost.host, ':'):], false},
		{"null origin", sameHost, "null", false},
		{"not a URL", sameHost, "%zz", false},
		{"allow-list exact", listed, "https://App.Example.com", true},
		{"allow-list other case", listed, "HTTPS://app.example.COM", true},
		{"allow-list entry with slash", listed, "http://localhost:3000", true},
		{"allow-list, no Origin", listed, "", true},
		{"allow-list miss, scheme", listed, "http://app.example.com", false},
		{"allow-list miss, port", listed, "https://app.example.com:8443", false},
		{"allow-list miss, subdomain", listed, "https://evil.app.example.com", false},
		{"allow-list miss, suffix", listed, "https://app.example.com.evil.example", false},
		{"allow-list replaces same host", listed, "http://SELF", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var header []string
			if tc.origin != "" {
				header = []string{"Origin", strings.Replace(tc.origin, "SELF", tc.b.host, 1)}
			}
			c, resp, err := dial(t, tc.b.ws, cookie, header...)
			if !tc.ok {
				expectRefusal(t, resp, err, http.StatusForbidden, auth.CodeBadOrigin)
				return
			}
			if err != nil {
				t.Fatalf("refused: %v (%s)", err, describe(resp))
			}
			if m := readMsg(t, c); m.Type != "hello" {
				t.Fatalf("first frame %+v, want hello", m)
			}
		})
	}
}

// TestNewRejects checks that New refuses a config it cannot serve safely.
func TestNewRejects(t *testing.T) {
	v, err := connectsid.NewVerifier("s")
	if err != nil {
		t.Fatal(err)
	}
	// A store that is never called: New must fail before any I/O.
	g, err := auth.New(auth.Config{Verifier: v, Store: redisstore.New(nil, redisstore.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  bridge.Config
	}{
		{"no gate", bridge.Config{}},
		{"negative ReadLimit", bridge.Config{Gate: g, Protocol: chat.WebSocket{}, ReadLimit: -1}},
		{"negative PingInterval", bridge.Config{Gate: g, Protocol: chat.WebSocket{}, PingInterval: -time.Second}},
		{"negative WriteTimeout", bridge.Config{Gate: g, Protocol: chat.WebSocket{}, WriteTimeout: -time.Second}},
		{"negative SendQueue", bridge.Config{Gate: g, Protocol: chat.WebSocket{}, SendQueue: -1}},
		{"negative HandshakeTimeout", bridge.Config{Gate: g, Protocol: chat.WebSocket{}, HandshakeTimeout: -time.Second}},
		{"negative RevalidateInterval", bridge.Config{Gate: g, Protocol: chat.WebSocket{}, RevalidateInterval: -time.Second}},
		{"no Protocol", bridge.Config{Gate: g}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if s, err := bridge.New(tc.cfg); err == nil || s != nil {
				t.Fatalf("New = %v, %v; want an error", s, err)
			}
		})
	}
}

// TestShutdown closes every client with 1001, then refuses handshakes with
// 503 shutting-down (explain: 4503), and leaves no goroutine behind.
func TestShutdown(t *testing.T) {
	h := newHarness(t)
	cookies := make([]string, 3)
	names := []string{"Ann", "Bo", "Zoë 🚀"}
	for i, n := range names {
		cookies[i], _ = h.login(n)
	}
	// From here on everything the bridge needs is new, so the count must
	// come back to this once it is all closed: the go-redis client first.
	before := runtime.NumGoroutine()
	rdb, err := redisstore.OpenURL(h.redis.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	b := h.serve(bridge.Config{Gate: h.gate(auth.Config{Store: redisstore.New(rdb, redisstore.Options{})})})
	conns := make([]*websocket.Conn, 0, 4)
	for i, n := range names {
		conns = append(conns, mustDial(t, b.ws, cookies[i], n))
	}
	conns = append(conns, mustDial(t, b.ws, cookies[0], "Ann")) // two tabs, one session
	testenv.WaitFor(t, ioWait, "4 connections", func() bool { return b.srv.Len() == 4 })

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if n := b.srv.Len(); n != 0 {
		t.Fatalf("Len() = %d after Shutdown, want 0", n)
	}
	for _, c := range conns {
		expectClose(t, c, websocket.CloseGoingAway)
	}
	_, resp, err := dial(t, b.ws, cookies[1])
	expectRefusal(t, resp, err, http.StatusServiceUnavailable, auth.CodeShuttingDown)
	expectExplain(t, b.ws, cookies[1], auth.CodeShuttingDown, bridge.CloseUnavailable)
	if err := b.srv.Shutdown(ctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}

	for _, c := range conns {
		c.Close()
	}
	b.close()
	if err := rdb.Close(); err != nil {
		t.Errorf("close the store client: %v", err)
	}
	expectGoroutines(t, before)
}

// loggedInSetTo is a refusal case: user logs in, then Express sets
// loggedIn to a falsy value.
func loggedInSetTo(h *harness, user string, v any) handshakeCase {
	return handshakeCase{
		name: fmt.Sprintf("loggedIn %#v set through Express", v),
		cookie: func(t *testing.T) (string, string) {
			cookie, sid := h.login(user)
			if st, body := h.app.PostJSON(h.ctx, t, "/test/set", cookie, map[string]any{"loggedIn": v}); st != http.StatusOK {
				t.Fatalf("/test/set: %d %s", st, body)
			}
			return cookie, sid
		},
		status: http.StatusUnauthorized, code: auth.CodeNotLoggedIn,
	}
}

// handshakeCase is one refused handshake of TestHandshakeRefusals.
type handshakeCase struct {
	name   string
	cookie func(t *testing.T) (cookie, sid string)
	header []string
	status int
	code   string
}
