package socketio_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/engineio"
	"github.com/expressbridge/expressbridge/examples/chat"
	"github.com/expressbridge/expressbridge/internal/testenv"
	"github.com/expressbridge/expressbridge/socketio"
)

// loginCookie writes a logged-in session of user into the store, as
// express-session would, and returns its Cookie header value.
func loginCookie(t *testing.T, e *env, user string) string {
	t.Helper()
	ver, err := connectsid.NewVerifier(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	var b [16]byte
	rand.Read(b[:])
	sid := hex.EncodeToString(b[:])
	expires := time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")
	record := `{"cookie":{"originalMaxAge":3600000,"expires":"` + expires + `","httpOnly":true,"path":"/"},"loggedIn":true,"username":"` + user + `"}`
	if err := e.redis.Client(t).Set(context.Background(), "sess:"+sid, record, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	return "connect.sid=" + ver.Sign(sid)
}

// dialAs connects a raw Socket.IO client on WebSocket with cookie and
// returns it and the namespace "/"'s answer to its CONNECT.
func dialAs(t *testing.T, wsURL, cookie string) (*websocket.Conn, string) {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(wsURL, http.Header{"Cookie": {cookie}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if m := nextPacket(c); !strings.HasPrefix(m, "0{") {
		t.Fatalf("OPEN: %s", m)
	}
	c.WriteMessage(websocket.TextMessage, []byte("40"))
	return c, nextPacket(c)
}

// closings is an Observer that remembers the reasons sessions closed with.
type closings struct {
	mu      sync.Mutex
	reasons []string
}

func (o *closings) ConnectionOpened(string) {}
func (o *closings) ConnectionClosed(_, reason string) {
	o.mu.Lock()
	o.reasons = append(o.reasons, reason)
	o.mu.Unlock()
}
func (o *closings) has(reason string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, r := range o.reasons {
		if r == reason {
			return true
		}
	}
	return false
}

// TestEventRateLimits: a socket's events beyond its burst are dropped
// before the handler, the sockets of one user share the user's bucket
// (other users keep theirs), and a socket that keeps sending over its
// limit is disconnected: DISCONNECT, close 1008 "rate-limited", and
// "rate-limited" for OnDisconnect and the Observer.
func TestEventRateLimits(t *testing.T) {
	e := newEnv(t)
	obs := &closings{}
	srv, err := socketio.New(socketio.Config{Live: e.live, Logger: e.logger(), Observer: obs,
		// Refills too slow to matter within a test: bursts only.
		MaxEventsPerSecond: 0.001, EventBurst: 5, MaxUserEventsPerSecond: 0.001, UserEventBurst: 8, MaxDroppedEvents: 20})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	handled := map[string]int{} // by user
	disconnected := map[string]string{}
	ns := srv.Of("/")
	ns.On("x", func(so *socketio.Socket, _ socketio.Args, _ socketio.AckFunc) {
		mu.Lock()
		handled[so.User()]++
		mu.Unlock()
	})
	ns.OnDisconnect(func(so *socketio.Socket, reason string) {
		mu.Lock()
		disconnected[so.User()] = reason
		mu.Unlock()
	})
	e.mux.Handle("/socket.io/", srv)
	e.serve(t)
	wsURL := strings.Replace(e.url, "http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
	count := func(user string) int {
		mu.Lock()
		defer mu.Unlock()
		return handled[user]
	}
	// send writes n events; a write fails once the server has closed
	// the connection, which is what a flood is for.
	send := func(c *websocket.Conn, n int) error {
		for range n {
			if err := c.WriteMessage(websocket.TextMessage, []byte(`42["x"]`)); err != nil {
				return err
			}
		}
		return nil
	}
	// settled gives the server time to read what a socket sent (a few
	// frames on loopback: well under a millisecond).
	settled := func(*websocket.Conn) { time.Sleep(200 * time.Millisecond) }

	for _, tc := range []struct {
		name    string
		sockets []int // events each socket of one login sends, in turn
		want    int   // handled, for the user
	}{
		{"one socket: its burst, then dropped", []int{10}, 5},
		{"two sockets of one login share the user's burst", []int{5, 5}, 8},
		{"three sockets of one login", []int{3, 3, 3}, 8},
		{"under every limit", []int{4}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			user := strings.ReplaceAll(tc.name, " ", "-")
			cookie := loginCookie(t, e, user)
			before := srv.DroppedEvents()
			sent := 0
			for _, n := range tc.sockets {
				c, ok := dialAs(t, wsURL, cookie)
				if !strings.HasPrefix(ok, `40{"sid":`) {
					t.Fatalf("CONNECT: %s", ok)
				}
				if err := send(c, n); err != nil {
					t.Fatal(err)
				}
				settled(c)
				sent += n
			}
			if got := count(user); got != tc.want {
				t.Errorf("handled %d of %d, want %d", got, sent, tc.want)
			}
			if got := srv.DroppedEvents() - before; got != uint64(sent-tc.want) {
				t.Errorf("dropped %d, want %d", got, sent-tc.want)
			}
		})
	}

	t.Run("sending on over the limit: disconnected, rate-limited", func(t *testing.T) {
		user := "flooder"
		c, _ := dialAs(t, wsURL, loginCookie(t, e, user))
		other, _ := dialAs(t, wsURL, loginCookie(t, e, "bystander"))
		send(c, 100) // 5 handled, the 21st drop ends it: later writes may fail
		if m := nextPacket(c); m != "41" {
			t.Errorf("the flooder got %q, want DISCONNECT", m)
		}
		var ce *websocket.CloseError
		if _, _, err := c.ReadMessage(); !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation || ce.Text != socketio.ReasonRateLimited {
			t.Errorf("then %v, want close 1008 rate-limited", err)
		}
		testenv.WaitFor(t, 5*time.Second, "the Observer to hear rate-limited", func() bool { return obs.has(socketio.ReasonRateLimited) })
		mu.Lock()
		reason := disconnected[user]
		mu.Unlock()
		if got := count(user); got != 5 || reason != socketio.ReasonRateLimited {
			t.Errorf("handled %d, disconnect reason %q; want 5, rate-limited", got, reason)
		}
		if err := send(other, 1); err != nil {
			t.Fatal(err)
		}
		settled(other)
		if count("bystander") != 1 {
			t.Errorf("another user's event was not handled")
		}
	})
}

// TestSessionsPerLogin: one login may hold MaxSessionsPerLogin Engine.IO
// sessions (100 by default); the next handshake's CONNECT gets
// connect_error too-many-sessions, on polling and on WebSocket, while
// another login connects; a session closed makes room again.
func TestSessionsPerLogin(t *testing.T) {
	e := newEnv(t)
	srv, err := socketio.New(socketio.Config{Live: e.live, Logger: e.logger()})
	if err != nil {
		t.Fatal(err)
	}
	e.mux.Handle("/socket.io/", srv)
	e.serve(t)
	base := e.url + "/socket.io/?EIO=4&transport=polling"
	wsURL := strings.Replace(e.url, "http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
	cookie := loginCookie(t, e, "Zoë")
	req := func(method, url, body string) string {
		t.Helper()
		r, _ := http.NewRequest(method, url, strings.NewReader(body))
		r.Header.Set("Cookie", cookie)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	open := func() string { // a polling session: its URL
		t.Helper()
		body := req("GET", base, "")
		return base + "&sid=" + body[len(`0{"sid":"`):strings.Index(body, `","`)]
	}
	connect := func(url string) string { // CONNECT to "/" on polling: the answer
		t.Helper()
		req("POST", url, "40")
		return req("GET", url, "")
	}
	var first string
	for i := range socketio.DefaultMaxSessionsPerLogin {
		url := open()
		if i == 0 {
			first = url
		}
	}
	refused := `44{"message":"` + engineio.CodeTooManySessions + `"`
	if got := connect(open()); !strings.HasPrefix(got, refused) {
		t.Errorf("tab %d on polling: %s, want %s…", socketio.DefaultMaxSessionsPerLogin+1, got, refused)
	}
	if _, got := dialAs(t, wsURL, cookie); !strings.HasPrefix(got, refused) {
		t.Errorf("tab %d on WebSocket: %s, want %s…", socketio.DefaultMaxSessionsPerLogin+1, got, refused)
	}
	if _, got := dialAs(t, wsURL, loginCookie(t, e, "Ann")); !strings.HasPrefix(got, `40{"sid":`) {
		t.Errorf("another login: %s, want CONNECT", got)
	}
	req("POST", first, "1") // a tab closes
	testenv.WaitFor(t, 5*time.Second, "a closed tab to make room", func() bool {
		return strings.HasPrefix(connect(open()), `40{"sid":`)
	})
}

// TestChatTextBound: the demo chat relays a text of chat.MaxText
// characters and answers a longer one bad-message without relaying it.
func TestChatTextBound(t *testing.T) {
	e := newEnv(t)
	srv, err := socketio.New(socketio.Config{Live: e.live, Logger: e.logger()})
	if err != nil {
		t.Fatal(err)
	}
	chat.SocketIO(srv.Of("/"))
	e.mux.Handle("/socket.io/", srv)
	e.serve(t)
	wsURL := strings.Replace(e.url, "http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
	c, _ := dialAs(t, wsURL, loginCookie(t, e, "Zoë"))
	if m := nextPacket(c); !strings.HasPrefix(m, `42["hello"`) {
		t.Fatalf("hello: %s", m)
	}
	for _, tc := range []struct {
		name, text string
		relayed    bool
	}{
		{"MaxText ASCII", strings.Repeat("x", chat.MaxText), true},
		{"MaxText characters of two bytes", strings.Repeat("é", chat.MaxText), true},
		{"MaxText+1", strings.Repeat("x", chat.MaxText+1), false},
		{"MaxText+1 of two bytes", strings.Repeat("é", chat.MaxText+1), false},
		{"a megabyte", strings.Repeat("x", 999_000), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.WriteMessage(websocket.TextMessage, []byte(`421["say","`+tc.text+`"]`))
			first, second := nextPacket(c), ""
			if tc.relayed {
				second = nextPacket(c)
			}
			switch {
			case tc.relayed && (first != `42["said",{"user":"Zoë","text":"`+tc.text+`"}]` || second != "431[]"):
				t.Errorf("got %.60q then %.60q, want said then an empty ack", first, second)
			case !tc.relayed && first != `431[{"error":"bad-message"}]`:
				t.Errorf("got %.60q, want ack bad-message", first)
			}
		})
	}
}

// TestBurstFromOneUser: the reported attack, with the real
// socket.io-client (node-app/test/socketio-client.js) and the default
// limits: one user's 2,000 says at once on WebSocket no longer push the
// two other users (one on WebSocket, one on polling) off; the sender is
// limited and disconnected. And the 101st tab of one login gets
// connect_error too-many-sessions.
func TestBurstFromOneUser(t *testing.T) {
	e := newEnv(t)
	app := testenv.StartNodeApp(t, testenv.NodeAppConfig{RedisURL: e.redis.URL(), Secrets: []string{testSecret}})
	srv := chatServer(t, e)
	e.serve(t)
	testenv.RunNode(t, clientTimeout, []string{"APP_URL=" + app.URL(), "BRIDGE_URL=" + e.url},
		"test/socketio-client.js", "burst", "too-many-sessions")
	if n := srv.DroppedEvents(); n == 0 || n >= 2000 {
		t.Errorf("dropped %d events of the burst", n)
	}
	if logs := e.logs.String(); !strings.Contains(logs, "over its event rate limit") || strings.Contains(logs, "slow client") {
		t.Errorf("the log does not say the sender was rate-limited, or someone was slow")
	}
}

// TestSessionsPerLoginFailedUpgrade: a WebSocket handshake the gate
// accepted but whose upgrade fails (no Sec-WebSocket-Key) opens no
// session, and counts against no cap: the login's one session still
// connects.
func TestSessionsPerLoginFailedUpgrade(t *testing.T) {
	e := newEnv(t)
	srv, err := socketio.New(socketio.Config{Live: e.live, Logger: e.logger(), MaxSessionsPerLogin: 1})
	if err != nil {
		t.Fatal(err)
	}
	e.mux.Handle("/socket.io/", srv)
	e.serve(t)
	cookie := loginCookie(t, e, "Zoë")
	for range 3 {
		r, _ := http.NewRequest("GET", e.url+"/socket.io/?EIO=4&transport=websocket", nil)
		r.Header.Set("Cookie", cookie)
		r.Header.Set("Connection", "Upgrade")
		r.Header.Set("Upgrade", "websocket")
		r.Header.Set("Sec-WebSocket-Version", "13")
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("an upgrade without Sec-WebSocket-Key: %d, want 400", resp.StatusCode)
		}
	}
	wsURL := strings.Replace(e.url, "http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
	if _, got := dialAs(t, wsURL, cookie); !strings.HasPrefix(got, `40{"sid":`) {
		t.Errorf("after 3 failed upgrades, the login's one session: %s, want CONNECT", got)
	}
	if _, got := dialAs(t, wsURL, cookie); !strings.HasPrefix(got, `44{"message":"too-many-sessions"`) {
		t.Errorf("its second: %s, want too-many-sessions", got)
	}
}

// TestRateLimitedCloseIsRead: a client that goes on sending after the
// server disconnected it for its rate reads the DISCONNECT and the close
// frame after it every time (wsconn's lingering close; a reset would lose
// both), 200 rounds each with a Go client and with the real
// socket.io-client.
func TestRateLimitedCloseIsRead(t *testing.T) {
	e := newEnv(t)
	srv, err := socketio.New(socketio.Config{Live: e.live, Logger: e.logger(),
		MaxEventsPerSecond: 0.001, EventBurst: 5, MaxUserEventsPerSecond: 0.001, UserEventBurst: 5, MaxDroppedEvents: 20})
	if err != nil {
		t.Fatal(err)
	}
	srv.Of("/").On("say", func(*socketio.Socket, socketio.Args, socketio.AckFunc) {})
	e.mux.Handle("/socket.io/", srv)
	e.serve(t)
	wsURL := strings.Replace(e.url, "http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
	cookie := loginCookie(t, e, "Mallory")
	for i := range 200 {
		c, _ := dialAs(t, wsURL, cookie)
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() { // sends until the server has shut it out
			defer close(done)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if c.WriteMessage(websocket.TextMessage, []byte(`42["say","x"]`)) != nil {
					return
				}
			}
		}()
		first := nextPacket(c)
		_, _, err := c.ReadMessage()
		close(stop)
		<-done
		c.Close()
		var ce *websocket.CloseError
		if first != "41" || !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation || ce.Text != socketio.ReasonRateLimited {
			t.Fatalf("round %d: got %q then %v, want DISCONNECT then close 1008 rate-limited", i, first, err)
		}
	}
	testenv.RunNode(t, 2*clientTimeout, []string{"BRIDGE_URL=" + e.url, "APP_URL=unused", "COOKIE=" + cookie, "ROUNDS=200"},
		"test/socketio-client.js", "rate-limited-rounds")
}
