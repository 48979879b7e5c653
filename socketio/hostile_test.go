package socketio_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/examples/chat"
	"github.com/expressbridge/expressbridge/internal/testenv"
	"github.com/expressbridge/expressbridge/socketio"
)

// TestHostileInput: limits and malformed input end the session (or are
// refused) and never panic.
func TestHostileInput(t *testing.T) {
	e := newEnv(t)
	srv, err := socketio.New(socketio.Config{Live: e.live, Insecure: true, MaxHTTPBufferSize: 1000, Logger: e.logger()})
	if err != nil {
		t.Fatal(err)
	}
	srv.Of("/").On("x", func(*socketio.Socket, socketio.Args, socketio.AckFunc) {})
	e.mux.Handle("/socket.io/", srv)
	e.serve(t)
	base := e.url + "/socket.io/?EIO=4&transport=polling"
	wsURL := strings.Replace(e.url, "http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"

	req := func(method, url, body string) (int, string) {
		t.Helper()
		r, _ := http.NewRequest(method, url, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	open := func() string {
		t.Helper()
		_, body := req("GET", base, "")
		return base + "&sid=" + body[len(`0{"sid":"`):strings.Index(body, `","`)]
	}

	t.Run("polling payload over maxHttpBufferSize", func(t *testing.T) {
		url := open()
		if status, _ := req("POST", url, "4"+strings.Repeat("x", 1000)); status != http.StatusRequestEntityTooLarge {
			t.Errorf("POST of 1001 bytes: %d, want 413", status)
		}
		if status, _ := req("GET", url, ""); status != 400 {
			t.Errorf("after: %d, want 400 (closed)", status)
		}
	})
	t.Run("polling payload of exactly maxHttpBufferSize", func(t *testing.T) {
		url := open()
		if status, body := req("POST", url, "4"+strings.Repeat("x", 999)); status != 200 || body != "ok" {
			t.Errorf("POST of 1000 bytes: %d %s", status, body)
		}
	})
	t.Run("other methods", func(t *testing.T) {
		url := open()
		if status, _ := req("DELETE", url, ""); status != 400 {
			t.Errorf("DELETE: %d", status)
		}
	})
	for _, tc := range []struct {
		name   string
		frames []string // "b:" prefix: a binary frame
		code   int      // the close code the client sees
	}{
		{"WebSocket message over maxHttpBufferSize", []string{"4" + strings.Repeat("x", 1000)}, websocket.CloseMessageTooBig},
		{"unknown Engine.IO type", []string{"9"}, websocket.CloseNormalClosure},
		{"empty frame", []string{""}, websocket.CloseNormalClosure},
		{"unknown Socket.IO type", []string{"40", "49"}, websocket.CloseNormalClosure},
		{"too many attachments", []string{"40", `451001-["x"]`}, websocket.CloseNormalClosure},
		{"text where an attachment is due", []string{"40", `451-["x",{"_placeholder":true,"num":0}]`, `42["x"]`}, websocket.CloseNormalClosure},
		{"binary frame with no packet waiting", []string{"40", "b:\x01\x02"}, websocket.CloseNormalClosure},
		{"reserved event name", []string{"40", `42["disconnect"]`}, websocket.CloseNormalClosure},
		{"ack id over 2^53", []string{"40", `429007199254740993["x"]`}, websocket.CloseNormalClosure},
		// Attachments are held only for a joined namespace, and together
		// within maxHttpBufferSize (1000 here): nothing piles up.
		{"binary packet before CONNECT", []string{`451-["x",{"_placeholder":true,"num":0}]`}, websocket.CloseNormalClosure},
		{"binary packet for a namespace not joined", []string{"40", `451-/other,["x",{"_placeholder":true,"num":0}]`},
			websocket.CloseNormalClosure},
		{"attachments over maxHttpBufferSize together", []string{"40",
			`453-["x",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1},{"_placeholder":true,"num":2}]`,
			"b:" + strings.Repeat("a", 400), "b:" + strings.Repeat("b", 400), "b:" + strings.Repeat("c", 400)},
			websocket.CloseNormalClosure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.ReadMessage() // OPEN
			for _, f := range tc.frames {
				if b, ok := strings.CutPrefix(f, "b:"); ok {
					c.WriteMessage(websocket.BinaryMessage, []byte(b))
				} else {
					c.WriteMessage(websocket.TextMessage, []byte(f))
				}
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			for {
				_, _, err := c.ReadMessage()
				if err == nil {
					continue // CONNECT and the like
				}
				var ce *websocket.CloseError
				if !errors.As(err, &ce) || ce.Code != tc.code {
					t.Errorf("got %v, want close %d", err, tc.code)
				}
				return
			}
		})
	}
}

// heldEnv is the chat and an "echo" event (acknowledged with its
// arguments) behind the real gate, with two logins in Redis (Ann's, Bob's)
// and a forged cookie; the pages of http://app.example may connect.
type heldEnv struct {
	*env
	srv              *socketio.Server
	ann, bob, forged string // Cookie headers
}

func newHeldEnv(t *testing.T, cfg socketio.Config) *heldEnv {
	t.Helper()
	e := newEnv(t, "http://app.example")
	cfg.Live, cfg.Logger = e.live, e.logger()
	srv, err := socketio.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ns := srv.Of("/")
	chat.SocketIO(ns)
	ns.On("echo", func(_ *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
		if ack != nil {
			ack(args.Values()...)
		}
	})
	e.mux.Handle("/socket.io/", srv)
	e.serve(t)
	ver, err := connectsid.NewVerifier(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	rdb := e.redis.Client(t)
	cookie := func(sid, user string) string {
		record := `{"cookie":{"originalMaxAge":3600000,"httpOnly":true,"path":"/"},"loggedIn":true,"username":"` + user + `"}`
		if err := rdb.Set(context.Background(), "sess:"+sid, record, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		return "connect.sid=" + ver.Sign(sid)
	}
	return &heldEnv{env: e, srv: srv, ann: cookie("annSessionAAAAAAAAAAAAAAAAAAAAAA", "Ann"),
		bob:    cookie("bobSessionAAAAAAAAAAAAAAAAAAAAAA", "Bob"),
		forged: "connect.sid=" + ver.Sign("annSessionAAAAAAAAAAAAAAAAAAAAAA")[:40] + "x"}
}

// do sends one request with cookie and origin ("" for none).
func (h *heldEnv) do(t *testing.T, method, url, cookie, origin, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// poll opens a polling session with cookie and returns its URL.
func (h *heldEnv) poll(t *testing.T, cookie string) string {
	t.Helper()
	base := h.url + "/socket.io/?EIO=4&transport=polling"
	req, _ := http.NewRequest("GET", base, nil)
	req.Header.Set("Cookie", cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	body := string(b)
	if resp.StatusCode != 200 || !strings.HasPrefix(body, `0{"sid":"`) {
		t.Fatalf("handshake: %d %q", resp.StatusCode, body)
	}
	return base + "&sid=" + body[len(`0{"sid":"`):strings.Index(body, `","`)]
}

// ws opens a WebSocket session with cookie, joined to "/".
func (h *heldEnv) ws(t *testing.T, cookie string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(strings.Replace(h.url, "http", "ws", 1)+"/socket.io/?EIO=4&transport=websocket",
		http.Header{"Cookie": {cookie}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	testenv.ReadPrefix(t, c, "0")
	c.WriteMessage(websocket.TextMessage, []byte("40"))
	testenv.ReadPrefix(t, c, `40{"sid":`)
	testenv.ReadPrefix(t, c, `42["hello"`)
	return c
}

// answers reports whether c still answers an echo with an ack.
func answers(t *testing.T, c *websocket.Conn) bool {
	t.Helper()
	if c.WriteMessage(websocket.TextMessage, []byte(`4299["echo","still here"]`)) != nil {
		return false
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, m, err := c.ReadMessage()
		if err != nil {
			return false
		}
		if string(m) == `4399["still here"]` {
			return true
		}
	}
}

// TestHeldAttacks: the attacks of issue #25 that the Socket.IO door held
// before its limits, kept: another user's sid, other origins, deep
// nesting, floods of acks and CONNECTs (and TestLogoutClosesManySessions).
func TestHeldAttacks(t *testing.T) {
	h := newHeldEnv(t, socketio.Config{})

	t.Run("another cookie on Ann's sid", func(t *testing.T) {
		url := h.poll(t, h.ann)
		wsURL := strings.Replace(url, "http", "ws", 1)
		wsURL = strings.Replace(wsURL, "transport=polling", "transport=websocket", 1)
		// Another login's cookie is refused for the sid; a forged cookie,
		// or none, is refused by the gate before the sid on an upgrade.
		for _, tc := range []struct {
			name, cookie string
			upgrade      int
		}{{"Bob's", h.bob, 403}, {"forged", h.forged, 401}, {"none", "", 401}} {
			for _, method := range []string{"GET", "POST", "upgrade"} {
				t.Run(tc.name+" "+method, func(t *testing.T) {
					status, want := 0, http.StatusForbidden
					if method == "upgrade" {
						want = tc.upgrade
						hdr := http.Header{}
						if tc.cookie != "" {
							hdr.Set("Cookie", tc.cookie)
						}
						c, resp, err := websocket.DefaultDialer.Dial(wsURL, hdr)
						if err == nil {
							c.Close()
							t.Fatal("upgraded")
						}
						status = resp.StatusCode
					} else {
						status = h.do(t, method, url, tc.cookie, "", "40").StatusCode
					}
					if status != want {
						t.Errorf("%s with %s cookie: %d, want %d", method, tc.name, status, want)
					}
				})
			}
		}
		if resp := h.do(t, "POST", url, h.ann, "", "40"); resp.StatusCode != 200 {
			t.Errorf("Ann's own POST after: %d, want 200", resp.StatusCode)
		}
	})

	t.Run("other origins get no CORS", func(t *testing.T) {
		base := h.url + "/socket.io/?EIO=4&transport=polling"
		for _, origin := range []string{"http://evil.example", "http://app.example.evil", "http://app.example/", "null"} {
			for _, method := range []string{"GET", "OPTIONS"} {
				resp := h.do(t, method, base, h.ann, origin, "")
				if acao, acac := resp.Header.Get("Access-Control-Allow-Origin"), resp.Header.Get("Access-Control-Allow-Credentials"); acao != "" || acac != "" {
					t.Errorf("%s from %s: Access-Control-Allow-Origin %q, -Credentials %q; want neither", method, origin, acao, acac)
				}
				if method == "GET" && resp.StatusCode != http.StatusForbidden {
					t.Errorf("GET from %s: %d, want 403", origin, resp.StatusCode)
				}
			}
		}
	})

	for _, tc := range []struct {
		name   string
		frames func() []string
		// answers: the session still answers after; else it is closed.
		answers bool
	}{
		{"an event nested 100,000 levels deep", func() []string {
			return []string{`421["echo",` + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + `]`}
		}, false},
		{"10,000 acks of ids never asked", func() []string {
			f := make([]string, 10_000)
			for i := range f {
				f[i] = fmt.Sprintf(`43%d["x"]`, i)
			}
			return f
		}, true},
		{"10,000 CONNECTs", func() []string { return slices.Repeat([]string{"40"}, 10_000) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := h.ws(t, h.ann)
			heap0 := heapInUse()
			for _, f := range tc.frames() {
				if c.WriteMessage(websocket.TextMessage, []byte(f)) != nil {
					break
				}
			}
			if got := answers(t, c); got != tc.answers {
				t.Errorf("the session answers after: %v, want %v", got, tc.answers)
			}
			if heap := heapInUse(); heap > heap0+10<<20 {
				t.Errorf("heap %d MB after, %d MB before", heap>>20, heap0>>20)
			}
			if !answers(t, h.ws(t, h.bob)) {
				t.Errorf("another user's session does not answer after")
			}
		})
	}

}

// TestLogoutClosesManySessions: a logout closes every session of the login
// at once: 1,000 here (the probe: 20,000 in under 1 s).
func TestLogoutClosesManySessions(t *testing.T) {
	h := newHeldEnv(t, socketio.Config{MaxSessionsPerLogin: 1000})
	sid := "manySessionsAAAAAAAAAAAAAAAAAAAA"
	ver, _ := connectsid.NewVerifier(testSecret)
	rdb := h.redis.Client(t)
	record := `{"cookie":{"originalMaxAge":3600000,"httpOnly":true,"path":"/"},"loggedIn":true,"username":"Many"}`
	if err := rdb.Set(context.Background(), "sess:"+sid, record, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	cookie := "connect.sid=" + ver.Sign(sid)
	// On WebSocket: a polling session the logout closed leaves the
	// table when a poll takes its goodbye.
	const n = 1000
	before := h.srv.Len()
	for range n {
		h.ws(t, cookie)
	}
	if got := h.srv.Len(); got != before+n {
		t.Fatalf("%d sessions open, want %d", got, before+n)
	}
	start := time.Now()
	if err := rdb.Del(context.Background(), "sess:"+sid).Err(); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 10*time.Second, "the logout to close every session of the login", func() bool { return h.srv.Len() == before })
	t.Logf("%d sessions of one login closed %v after the logout", n, time.Since(start))
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
