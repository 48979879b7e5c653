package main

import (
	"strings"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/examples/chat"
)

// TestServeSocketIOLimits: the Socket.IO door's limits on one user reach
// it from flags and from the environment (a second tab refused
// too-many-sessions; a burst over the event limit dropped, then the
// sender disconnected), and nonsense is a usage error.
func TestServeSocketIOLimits(t *testing.T) {
	const secret, sid = "socket.io limits secret", "l-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR"
	s, cookie := zoe(t, secret, sid)
	sv := startServe(t, []string{secret}, map[string]string{envRedisURL: s.r.URL(), "EXPRESSBRIDGE_SOCKETIO_MAX_SESSIONS_PER_LOGIN": "1"},
		"--no-pubsub", "--socketio-max-events-per-second", "0.001", "--socketio-event-burst", "2", "--socketio-max-dropped-events", "3")
	base := "http://" + sv.base + "/socket.io/"
	url := sioSession(t, base, cookie)

	_, body := do(t, "GET", base+"?EIO=4&transport=polling", cookie, "")
	second := base + "?EIO=4&transport=polling&sid=" + body[len(`0{"sid":"`):strings.Index(body, `","`)]
	do(t, "POST", second, cookie, "40")
	if _, body = do(t, "GET", second, cookie, ""); !strings.HasPrefix(body, `44{"message":"too-many-sessions"`) {
		t.Errorf("a second tab with EXPRESSBRIDGE_SOCKETIO_MAX_SESSIONS_PER_LOGIN=1: %q, want connect_error too-many-sessions", body)
	}

	// Seven says at once: two pass, the fourth dropped ends the session.
	says := strings.TrimSuffix(strings.Repeat(`42["say","x"]`+"\x1e", 7), "\x1e")
	if status, body := do(t, "POST", url, cookie, says); status != 200 || body != "ok" {
		t.Fatalf("POST of 7 says: %d %s", status, body)
	}
	if _, body = do(t, "GET", url, cookie, ""); body != "41" {
		t.Errorf("after a burst over --socketio-event-burst 2: %q, want DISCONNECT", body)
	}

	for _, args := range [][]string{
		{"--socketio-event-burst", "0"},
		{"--socketio-user-event-burst", "-1"},
		{"--socketio-max-events-per-second", "0"},
		{"--socketio-max-sessions-per-login", "0"},
	} {
		cli(t, map[string]string{envRedisURL: s.r.URL(), envSecret: secret}, "", append([]string{"serve"}, args...)...).
			want(t, exitUsage, nil, []string{args[0]})
	}
}

// TestServeSocketIORecovery: --socketio-recovery (and its environment
// form) turns connection state recovery on: the CONNECT answer carries a
// pid, which it does not by default; a negative duration is a usage error,
// and so is recovery beside the fan-out between instances.
func TestServeSocketIORecovery(t *testing.T) {
	const secret, sid = "socket.io recovery secret", "r-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR"
	s, cookie := zoe(t, secret, sid)
	for _, tc := range []struct {
		name    string
		env     map[string]string
		args    []string
		wantPID bool
	}{
		{"default", nil, nil, false},
		{"flag", nil, []string{"--socketio-recovery", "30s"}, true},
		{"env", map[string]string{"EXPRESSBRIDGE_SOCKETIO_RECOVERY": "1m"}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{envRedisURL: s.r.URL()}
			for k, v := range tc.env {
				env[k] = v
			}
			sv := startServe(t, []string{secret}, env, append([]string{"--no-pubsub"}, tc.args...)...)
			base := "http://" + sv.base + "/socket.io/"
			url := base + "?EIO=4&transport=polling"
			_, body := do(t, "GET", url, cookie, "")
			url += "&sid=" + body[len(`0{"sid":"`):strings.Index(body, `","`)]
			do(t, "POST", url, cookie, "40")
			_, body = do(t, "GET", url, cookie, "")
			if got := strings.Contains(body, `"pid":"`); !strings.HasPrefix(body, `40{"sid":"`) || got != tc.wantPID {
				t.Errorf("CONNECT answer %q: pid %v, want %v", body, got, tc.wantPID)
			}
		})
	}
	cli(t, map[string]string{envRedisURL: s.r.URL(), envSecret: secret}, "", "serve", "--socketio-recovery", "-1s").
		want(t, exitUsage, nil, []string{"--socketio-recovery"})
	// With the fan-out between instances on (the default), recovery
	// would miss the other instances' broadcasts: refused, naming the fix.
	cli(t, map[string]string{envRedisURL: s.r.URL(), envSecret: secret}, "", "serve", "--socketio-recovery", "1m").
		want(t, exitUsage, nil, []string{"--socketio-recovery", "--no-pubsub"})
}

// TestServeChatTextBound: serve's /ws chat relays a text of chat.MaxText
// characters and answers a longer one bad-message, relaying nothing; the
// connection stays open.
func TestServeChatTextBound(t *testing.T) {
	const secret, sid = "chat bound secret", "c-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR"
	s, cookie := zoe(t, secret, sid)
	sv := startServe(t, []string{secret}, map[string]string{envRedisURL: s.r.URL()}, "--no-pubsub")
	c := dialHello(t, sv.base, cookie, "", "Zoë")
	for _, tc := range []struct {
		name, text string
		want       string // the type of the answer
	}{
		{"MaxText", strings.Repeat("é", chat.MaxText), "said"},
		{"MaxText+1", strings.Repeat("é", chat.MaxText+1), "error"},
		{"60 KB", strings.Repeat("x", 60_000), "error"},
		{"still open", "hi", "said"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.WriteJSON(map[string]string{"type": "say", "text": tc.text})
			var got struct{ Type, Text, Error string }
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if err := c.ReadJSON(&got); err != nil {
				t.Fatal(err)
			}
			if got.Type != tc.want || (tc.want == "said" && got.Text != tc.text) || (tc.want == "error" && got.Error != "bad-message") {
				t.Errorf("got %s %.40q %s, want %s", got.Type, got.Text, got.Error, tc.want)
			}
		})
	}
}
