package socketio_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/examples/chat"
	"github.com/expressbridge/expressbridge/internal/testenv"
	"github.com/expressbridge/expressbridge/socketio"
)

const clientTimeout = 60 * time.Second

// chatServer is what serve runs at /socket.io/ (Chat on "/"), plus two
// events of the test's own through the public API: "echo" acknowledges
// with its arguments (binary ones stay binary), and "ask-me" makes the
// server ask the client ("ask", 21) and emit the answer back.
func chatServer(t *testing.T, e *env) *socketio.Server {
	t.Helper()
	srv, err := socketio.New(socketio.Config{Live: e.live, Logger: e.logger()})
	if err != nil {
		t.Fatal(err)
	}
	ns := srv.Of("/")
	chat.SocketIO(ns)
	// The gate comes first: a middleware never sees a socket it refused
	// (the refusals scenario sends every kind).
	ns.Use(func(so *socketio.Socket) error {
		if so.User() == "" || so.Session() == nil {
			t.Errorf("a namespace middleware ran for a socket without a session")
		}
		return nil
	})
	ns.On("echo", func(so *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
		if ack != nil {
			ack(args.Values()...)
		}
	})
	ns.On("ask-me", func(so *socketio.Socket, _ socketio.Args, _ socketio.AckFunc) {
		go func() { // EmitWithAck blocks: not on the socket's reader
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			res, err := so.EmitWithAck(ctx, "ask", 21)
			var n int
			if err == nil {
				err = res.Decode(0, &n)
			}
			if err != nil {
				so.Emit("answer", map[string]string{"error": err.Error()})
				return
			}
			so.Emit("answer", map[string]int{"answer": n})
		}()
	})
	// "count" saves count+1 in the Express session and acknowledges it.
	ns.On("count", func(so *socketio.Socket, _ socketio.Args, ack socketio.AckFunc) {
		var n int
		err := so.SaveSession(context.Background(), func(sess *connectsid.Session) error {
			n = 0
			if err := sess.Get("count", &n); err != nil && !errors.Is(err, connectsid.ErrNoField) {
				return err
			}
			n++
			return sess.Set("count", n)
		})
		if ack == nil {
			return
		}
		if err != nil {
			ack(map[string]string{"error": err.Error()})
			return
		}
		ack(map[string]int{"count": n})
	})
	e.mux.Handle("/socket.io/", srv)
	return srv
}

// TestSocketIOIdentity runs socket.io-client against the Express app's
// sessions on WebSocket and on long-polling: a session that changes user
// without a regenerate ends its sockets session-changed, the login field
// removed logged-out; whoami is the session as it is now; a Go handler's
// SaveSession is what Express reads next, and keeps what Express wrote.
func TestSocketIOIdentity(t *testing.T) {
	e := newEnv(t)
	app := testenv.StartNodeApp(t, testenv.NodeAppConfig{RedisURL: e.redis.URL(), Secrets: []string{testSecret}})
	chatServer(t, e)
	e.serve(t)
	testenv.RunNode(t, clientTimeout, []string{"APP_URL=" + app.URL(), "BRIDGE_URL=" + e.url}, "test/socketio-client.js", "identity", "save")
}

// TestSocketIOPassport: with passport (the gate on passport.user),
// req.logout() ends a socket logged-out 10 times of 10, alternating
// WebSocket and long-polling; another user's id in the session ends it
// session-changed.
func TestSocketIOPassport(t *testing.T) {
	e := newEnvGate(t, auth.Config{LoginField: "passport.user", UserField: "passport.user"})
	app := testenv.StartNodeApp(t, testenv.NodeAppConfig{RedisURL: e.redis.URL(), Secrets: []string{testSecret}, AuthFlavor: "passport"})
	chatServer(t, e)
	e.serve(t)
	testenv.RunNode(t, clientTimeout, []string{"APP_URL=" + app.URL(), "BRIDGE_URL=" + e.url, "LOGOUTS=10"}, "test/socketio-client.js", "passport")
}

// TestSocketIOClient runs the real socket.io-client 4.8 from Node
// (node-app/test/socketio-client.js) against the Go server, after logging
// in through the real Express app: default options (polling, then the
// upgrade), websocket only, polling only, binary payloads and acks both
// ways, revocation (logout, a changed session) on each transport, and
// every refusal as connect_error.
func TestSocketIOClient(t *testing.T) {
	e := newEnv(t)
	app := testenv.StartNodeApp(t, testenv.NodeAppConfig{RedisURL: e.redis.URL(), Secrets: []string{testSecret}})
	srv := chatServer(t, e)
	e.serve(t)
	testenv.RunNode(t, clientTimeout, []string{"APP_URL=" + app.URL(), "BRIDGE_URL=" + e.url, "EXTRA_REFUSALS=" + recordRefusals(t, e)},
		"test/socketio-client.js", "polling-upgrade", "websocket", "polling-only", "refusals")
	testenv.WaitFor(t, 5*time.Second, "every Engine.IO session to end", func() bool { return srv.Len() == 0 })
	testenv.WaitFor(t, 5*time.Second, "every session to be released", func() bool { return e.live.Len() == 0 })
	if logs := e.logs.String(); strings.Contains(logs, "s%3A") || strings.Contains(logs, "connect.sid=") {
		t.Errorf("a cookie reached the log")
	}
}

// recordRefusals writes records the gate refuses at the record step into
// Redis (an expired one, one that is not a session), and returns
// [[code, step, cookie], …] for the client script.
func recordRefusals(t *testing.T, e *env) string {
	t.Helper()
	ver, err := connectsid.NewVerifier(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	rdb := e.redis.Client(t)
	past := time.Now().Add(-time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")
	records := []struct{ code, sid, record string }{
		{"expired", "expiredSessionAAAAAAAAAAAAAAAAAA", `{"cookie":{"originalMaxAge":3600000,"expires":"` + past + `","httpOnly":true,"path":"/"},"loggedIn":true,"username":"Old"}`},
		{"malformed-session", "notASessionAAAAAAAAAAAAAAAAAAAAA", `not json`},
	}
	var out [][3]string
	for _, r := range records {
		if err := rdb.Set(context.Background(), "sess:"+r.sid, r.record, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		out = append(out, [3]string{r.code, "record", "connect.sid=" + ver.Sign(r.sid)})
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// TestSocketIOSessionExpiry: sessions that expire (the app's cookie
// maxAge is 2 s) end their sockets with session-expired, on long-polling
// and on WebSocket.
func TestSocketIOSessionExpiry(t *testing.T) {
	e := newEnv(t)
	app := testenv.StartNodeApp(t, testenv.NodeAppConfig{RedisURL: e.redis.URL(), Secrets: []string{testSecret}, MaxAgeMS: 2000})
	chatServer(t, e)
	e.serve(t)
	testenv.RunNode(t, clientTimeout, []string{"APP_URL=" + app.URL(), "BRIDGE_URL=" + e.url}, "test/socketio-client.js", "expiry")
}

// TestSocketIOStoreUnavailable: with Redis down, a client with a valid
// cookie gets connect_error store-unavailable, on polling and websocket.
func TestSocketIOStoreUnavailable(t *testing.T) {
	e := newEnv(t)
	app := testenv.StartNodeApp(t, testenv.NodeAppConfig{RedisURL: e.redis.URL(), Secrets: []string{testSecret}})
	chatServer(t, e)
	e.serve(t)
	cookie := app.Login(context.Background(), t, "Zoë")
	e.redis.Kill(t)
	testenv.RunNode(t, clientTimeout, []string{"BRIDGE_URL=" + e.url, "COOKIE=" + cookie},
		"test/socketio-client.js", "store-unavailable")
}

// TestRefusalBeforeHandshake: what is refused with an HTTP status, before
// any Engine.IO session: the wrong protocol version, an unknown
// transport, a page of another origin.
func TestRefusalBeforeHandshake(t *testing.T) {
	e := newEnv(t, "http://app.example")
	chatServer(t, e)
	e.serve(t)
	for _, tc := range []struct {
		name, query, origin string
		status              int
		code                string
	}{
		{"EIO=3", "EIO=3&transport=polling", "", 400, "bad-request"},
		{"no EIO", "transport=polling", "", 400, "bad-request"},
		{"unknown transport", "EIO=4&transport=flash", "", 400, "bad-request"},
		{"other origin", "EIO=4&transport=polling", "http://evil.example", 403, "bad-origin"},
		{"unknown sid", "EIO=4&transport=polling&sid=nope", "", 400, "bad-request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, e.url+"/socket.io/?"+tc.query, nil)
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct{ Error, Step, Message string }
			json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tc.status || body.Error != tc.code || body.Step == "" || body.Message == "" {
				t.Errorf("%s: %d %+v, want %d %s", tc.query, resp.StatusCode, body, tc.status, tc.code)
			}
			if tc.status == 400 && !strings.Contains(body.Message, "EIO") && strings.Contains(tc.query, "EIO=3") {
				t.Errorf("message %q does not say why", body.Message)
			}
		})
	}
	// An allowed origin gets CORS with credentials.
	req, _ := http.NewRequest(http.MethodGet, e.url+"/socket.io/?EIO=4&transport=polling", nil)
	req.Header.Set("Origin", "http://app.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "http://app.example" ||
		resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("allowed origin: %d, CORS headers %v", resp.StatusCode, resp.Header)
	}
}
