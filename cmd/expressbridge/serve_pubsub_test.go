package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/internal/testenv"
)

// TestServeFleet: three `serve` on one Redis, Pub/Sub on by default: a /ws
// chat message said on one reaches the /ws clients of the other, and not
// those of an instance run with --no-pubsub; the start-up log says where
// the fan-out goes.
func TestServeFleet(t *testing.T) {
	secret := "serve fleet secret"
	r := testenv.StartRedis(t)
	app := testenv.StartNodeApp(t, testenv.NodeAppConfig{RedisURL: r.URL(), Secrets: []string{secret}})
	env := map[string]string{"REDIS_URL": r.URL()}
	a := startServe(t, []string{secret}, env)
	b := startServe(t, []string{secret}, env)
	solo := startServe(t, []string{secret}, env, "--no-pubsub")
	cookie := app.Login(context.Background(), t, "ann")
	dial := func(sv *served) (*websocket.Conn, chan string) {
		t.Helper()
		c, _, err := websocket.DefaultDialer.Dial("ws://"+sv.base+"/ws", http.Header{"Cookie": {cookie}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		ch := make(chan string, 16)
		go func() {
			defer close(ch)
			for {
				_, m, err := c.ReadMessage()
				if err != nil {
					return
				}
				ch <- string(m)
			}
		}()
		return c, ch
	}
	next := func(ch chan string, d time.Duration) string {
		select {
		case m := <-ch:
			return m
		case <-time.After(d):
			return ""
		}
	}
	ca, cha := dial(a)
	_, chb := dial(b)
	_, chs := dial(solo)
	for _, ch := range []chan string{cha, chb, chs} {
		if m := next(ch, 5*time.Second); !strings.HasPrefix(m, `{"type":"hello"`) {
			t.Fatalf("hello: %q", m)
		}
	}
	ca.WriteMessage(websocket.TextMessage, []byte(`{"type":"say","text":"across"}`))
	want := `{"type":"said","user":"ann","text":"across"}`
	if m := next(cha, 5*time.Second); m != want {
		t.Errorf("the sender's instance: %q", m)
	}
	if m := next(chb, 5*time.Second); m != want {
		t.Errorf("the other instance: %q", m)
	}
	if m := next(chs, 300*time.Millisecond); m != "" {
		t.Errorf("the --no-pubsub instance got %q", m)
	}
	if !strings.Contains(a.stderr.String(), `pubsub="the session store's Redis"`) ||
		!strings.Contains(solo.stderr.String(), `pubsub="off (single instance)"`) {
		t.Errorf("start-up logs do not say where the fan-out goes:\n%s\n%s", a.stderr.String(), solo.stderr.String())
	}
}
