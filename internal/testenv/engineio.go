package testenv

import (
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// OpenIdleSessions opens born Engine.IO sessions on WebSocket at url (a
// server's Engine.IO path: http://…/engine.io/) and upgraded more from
// long-polling, calling ready on each once it is on WebSocket (the first
// exchange of the layer above); then it waits up to 5 s for the server to
// settle, and fails the test unless the sessions hold fewer than
// maxGoroutines goroutines between them. It returns the connections, born
// ones first, closed at cleanup.
func OpenIdleSessions(t testing.TB, url string, born, upgraded, maxGoroutines int, ready func(*websocket.Conn)) []*websocket.Conn {
	t.Helper()
	wsURL := strings.Replace(url, "http", "ws", 1) + "?EIO=4&transport=websocket"
	var conns []*websocket.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	dial := func(url string) *websocket.Conn {
		t.Helper()
		c, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		return c
	}
	before := runtime.NumGoroutine()
	for range born {
		c := dial(wsURL)
		ReadPrefix(t, c, `0{"sid":`)
		ready(c)
	}
	for range upgraded {
		c := dial(wsURL + "&sid=" + pollingSID(t, url))
		c.WriteMessage(websocket.TextMessage, []byte("2probe"))
		ReadPrefix(t, c, "3probe")
		c.WriteMessage(websocket.TextMessage, []byte("5"))
		ready(c)
	}
	http.DefaultClient.CloseIdleConnections()
	var now int
	deadline := time.Now().Add(5 * time.Second)
	for {
		now = runtime.NumGoroutine()
		if now-before < maxGoroutines || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("%d idle sessions (%d upgraded): %d goroutines, %d before them", born+upgraded, upgraded, now, before)
	if now-before >= maxGoroutines {
		t.Fatalf("%d goroutines for %d idle sessions", now-before, born+upgraded)
	}
	return conns
}

// pollingSID opens an Engine.IO session over long-polling at url and
// returns its sid.
func pollingSID(t testing.TB, url string) string {
	t.Helper()
	resp, err := http.Get(url + "?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 512))
	if err != nil {
		t.Fatal(err)
	}
	body := string(b)
	end := strings.Index(body, `","`)
	if !strings.HasPrefix(body, `0{"sid":"`) || end < 0 {
		t.Fatalf("polling handshake: %q", body)
	}
	return body[len(`0{"sid":"`):end]
}

// ReadPrefix reads one WebSocket message within 5 s and fails the test
// unless it begins with want.
func ReadPrefix(t testing.TB, c *websocket.Conn, want string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, m, err := c.ReadMessage()
	if err != nil || !strings.HasPrefix(string(m), want) {
		t.Fatalf("read %q, %v; want %s…", m, err, want)
	}
}
