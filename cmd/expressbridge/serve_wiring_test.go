package main

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/spf13/pflag"

	"github.com/expressbridge/expressbridge/internal/testenv"
)

// What the packages do must reach them through serve's flags and variables:
// these tests check a setting at a time through serve itself.

// TestServeRevalidateIntervalFromEnv: on PostgreSQL serve polls every
// second unless the interval is chosen, and a choice made in the
// environment is a choice as much as one on the command line.
func TestServeRevalidateIntervalFromEnv(t *testing.T) {
	pg := testenv.StartPostgres(t)
	pg.Exec(t, `CREATE TABLE session (sid varchar NOT NULL PRIMARY KEY, sess json NOT NULL, expire timestamp(6) NOT NULL)`)
	sv := startServe(t, []string{"s"}, map[string]string{
		envStoreURL:                         pg.URL(),
		"EXPRESSBRIDGE_REVALIDATE_INTERVAL": "7s",
	})
	testenv.WaitFor(t, 10*time.Second, "serve to say it polls", func() bool {
		return strings.Contains(sv.stderr.String(), "revalidating open sessions periodically")
	})
	if logs := sv.stderr.String(); !strings.Contains(logs, "every=7s") {
		t.Errorf("EXPRESSBRIDGE_REVALIDATE_INTERVAL=7s: serve does not poll every 7s:\n%s", logs)
	}
	// --help gives the default serve takes there.
	cli(t, nil, "", "serve", "--help").want(t, exitOK, []string{"on PostgreSQL without the notify trigger, 1s unless set"}, nil)
}

// sioSession opens a Socket.IO session on long-polling at base (…/socket.io/)
// with cookie, joins "/" and takes the hello; it returns the session's URL.
func sioSession(t *testing.T, base, cookie string) string {
	t.Helper()
	url := base + "?EIO=4&transport=polling"
	status, body := do(t, "GET", url, cookie, "")
	if status != 200 || !strings.HasPrefix(body, `0{"sid":"`) {
		t.Fatalf("handshake: %d %s", status, body)
	}
	url += "&sid=" + body[len(`0{"sid":"`):strings.Index(body, `","`)]
	if status, body = do(t, "POST", url, cookie, "40"); status != 200 || body != "ok" {
		t.Fatalf("CONNECT: %d %s", status, body)
	}
	if status, body = do(t, "GET", url, cookie, ""); status != 200 || !strings.Contains(body, `42["hello"`) {
		t.Fatalf("after CONNECT: %d %q", status, body)
	}
	return url
}

// zoe plants Zoë's session (logged in for an hour) in a new Redis as
// Express would, and returns the store and her cookie signed with secret.
func zoe(t *testing.T, secret, sid string) (*store, string) {
	t.Helper()
	s := newStore(t)
	s.set(t, "sess:"+sid, expressRecord(time.Now().Add(time.Hour), "Zoë"), time.Hour)
	return s, "connect.sid=" + signWith(t, secret, sid)
}

// TestServeSocketIOSendQueue: --send-queue bounds what waits for a
// Socket.IO client on long-polling as it bounds what waits for a /ws
// client (and for Socket.IO on WebSocket, which the bridge carries);
// --socketio-send-queue-bytes bounds its bytes beside that count.
func TestServeSocketIOSendQueue(t *testing.T) {
	const secret, sid = "send queue secret", "d-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR"
	for _, tc := range []struct {
		name  string
		flags []string
		all   bool // every said arrives; else the session is closed as slow first
	}{
		// 100 says in one payload: 100 "said" wait for the next poll, more
		// than the default queue (64) and less than --send-queue; their
		// bytes are far below the default byte bound (4 MB).
		{"--send-queue 200", []string{"--send-queue", "200"}, true},
		// Each said is some 60 bytes: the queue passes 2,000 bytes during
		// the POST, the session is closed as slow then, and a GET finds
		// it gone.
		{"--socketio-send-queue-bytes 2000", []string{"--send-queue", "200", "--socketio-send-queue-bytes", "2000"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, cookie := zoe(t, secret, sid)
			sv := startServe(t, []string{secret}, map[string]string{envRedisURL: s.r.URL()}, append([]string{"--no-pubsub",
				// The rate limits off: 100 says at once is the point here.
				"--socketio-max-events-per-second", "-1", "--socketio-max-user-events-per-second", "-1"}, tc.flags...)...)
			url := sioSession(t, "http://"+sv.base+"/socket.io/", cookie)
			const n = 100
			says := make([]string, n)
			for i := range says {
				says[i] = `42["say","x"]`
			}
			if status, body := do(t, "POST", url, cookie, strings.Join(says, "\x1e")); status != 200 || body != "ok" {
				t.Fatalf("POST of %d says: %d %s", n, status, body)
			}
			got := 0
			deadline := time.Now().Add(5 * time.Second)
			for got < n && time.Now().Before(deadline) {
				status, body := do(t, "GET", url, cookie, "")
				if status != 200 && tc.all {
					t.Fatalf("with %v the session was closed after %d of %d messages: %d %s", tc.flags, got, n, status, body)
				}
				if status != 200 {
					return // closed as slow, before all arrived
				}
				got += strings.Count(body, `42["said"`)
			}
			if tc.all && got != n {
				t.Fatalf("got %d said, want %d", got, n)
			}
			if !tc.all {
				t.Fatalf("with %v all %d said arrived (got %d); want the session closed as slow first", tc.flags, n, got)
			}
		})
	}
}

// TestServeFlagsFromEnv: every serve flag can be set from the environment,
// as the README says ("each also from the environment: --help names the
// variable"); --no-pubsub is --pubsub=false, whose variable is
// EXPRESSBRIDGE_PUBSUB. A variable set reaches the bridge: a read limit
// from EXPRESSBRIDGE_READ_LIMIT closes a larger message with 1009.
func TestServeFlagsFromEnv(t *testing.T) {
	cmd := newServeCmd(&app{})
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Name == "no-pubsub" {
			return
		}
		if len(f.Annotations[envAnnotation]) == 0 {
			t.Errorf("serve --%s has no environment variable", f.Name)
		}
	})

	const secret, sid = "read limit secret", "d-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR"
	s, cookie := zoe(t, secret, sid)
	sv := startServe(t, []string{secret}, map[string]string{envRedisURL: s.r.URL(), "EXPRESSBRIDGE_READ_LIMIT": "100"}, "--no-pubsub")
	c := dialHello(t, sv.base, cookie, "", "Zoë")
	c.WriteJSON(map[string]string{"type": "say", "text": strings.Repeat("x", 200)})
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var err error
	for err == nil {
		_, _, err = c.ReadMessage()
	}
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
		t.Fatalf("a 200-byte message with EXPRESSBRIDGE_READ_LIMIT=100: %v, want close 1009", err)
	}
}

// TestServeSocketIOOptions: Socket.IO's own options reach the door from
// flags and from the environment (the handshake tells the client; a POST
// over maxHttpBufferSize gets 413), and nonsense is a usage error.
func TestServeSocketIOOptions(t *testing.T) {
	const secret, sid = "socket.io options secret", "o-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR"
	s, cookie := zoe(t, secret, sid)
	sv := startServe(t, []string{secret}, map[string]string{envRedisURL: s.r.URL(), "EXPRESSBRIDGE_SOCKETIO_MAX_BUFFER": "5000"},
		"--no-pubsub", "--socketio-ping-interval", "4s", "--socketio-ping-timeout", "3s")
	base := "http://" + sv.base + "/socket.io/"
	status, body := do(t, "GET", base+"?EIO=4&transport=polling", cookie, "")
	if status != 200 || !strings.Contains(body, `"pingInterval":4000,"pingTimeout":3000,"maxPayload":5000`) {
		t.Fatalf("handshake: %d %s", status, body)
	}
	url := sioSession(t, base, cookie)
	if status, body = do(t, "POST", url, cookie, `42["say","`+strings.Repeat("x", 6000)+`"]`); status != 413 {
		t.Fatalf("a 6 KB POST with a 5000-byte limit: %d %s", status, body)
	}
	cli(t, map[string]string{envRedisURL: s.r.URL(), envSecret: secret}, "", "serve", "--socketio-ping-timeout", "0s").
		want(t, exitUsage, nil, []string{"must be positive"})
}

// TestServeSocketIOGoodbyeInOnePoll: when the Express session ends, a
// long-polling client gets session-ended and DISCONNECT in one response.
// Its next poll may carry no session cookie any more (the logout cleared
// it) and be refused: a DISCONNECT left for it would be lost, and the page
// would see "transport error" instead of "io server disconnect" (a
// browser test caught this under load).
func TestServeSocketIOGoodbyeInOnePoll(t *testing.T) {
	const secret = "goodbye secret"
	s, _ := zoe(t, secret, "unused-L9xbwSXrMcxjPo6X_sFHJSTgb3v")
	sv := startServe(t, []string{secret}, map[string]string{envRedisURL: s.r.URL()}, "--no-pubsub")
	for i := range 20 { // the race it guards against is short: run it often
		sid := "g" + strconv.Itoa(100+i) + "-L9xbwSXrMcxjPo6X_sFHJSTgb3v"
		s.set(t, "sess:"+sid, expressRecord(time.Now().Add(time.Hour), "Zoë"), time.Hour)
		cookie := "connect.sid=" + signWith(t, secret, sid)
		url := sioSession(t, "http://"+sv.base+"/socket.io/", cookie)
		sent := make(chan struct{})
		polled := make(chan string, 1)
		go func() { polled <- pollOnce(url, cookie, sent) }()
		<-sent
		time.Sleep(20 * time.Millisecond) // the poll is pending
		if err := s.c.Del(context.Background(), "sess:"+sid).Err(); err != nil {
			t.Fatal(err)
		}
		body := <-polled
		if !strings.Contains(body, `42["session-ended",{"reason":"logged-out"}]`) || !strings.Contains(body, "\x1e41") {
			t.Fatalf("round %d: the poll after the logout got %q, want session-ended and DISCONNECT together", i, body)
		}
	}

	// No poll pending at the logout, and the next one without the cookie
	// (the logout cleared it): it gets the goodbye, and only that (not the
	// "said" that was waiting for the user).
	sid := "gbye-L9xbwSXrMcxjPo6X_sFHJSTgb3vl"
	s.set(t, "sess:"+sid, expressRecord(time.Now().Add(time.Hour), "Zoë"), time.Hour)
	cookie := "connect.sid=" + signWith(t, secret, sid)
	url := sioSession(t, "http://"+sv.base+"/socket.io/", cookie)
	if st, body := do(t, "POST", url, cookie, `42["say","for Zoë's eyes only"]`); st != 200 {
		t.Fatalf("say: %d %s", st, body)
	}
	if err := s.c.Del(context.Background(), "sess:"+sid).Err(); err != nil {
		t.Fatal(err)
	}
	// Refused (403) until the keyspace event has ended the session.
	var st int
	var body string
	testenv.WaitFor(t, 5*time.Second, "the goodbye", func() bool { st, body = do(t, "GET", url, "", ""); return st != 403 })
	if st != 200 || body != `42["session-ended",{"reason":"logged-out"}]`+"\x1e41" {
		t.Fatalf("a poll without the cookie after the logout: %d %q, want the goodbye alone", st, body)
	}
}
