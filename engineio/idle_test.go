//go:build linux

package engineio_test

import (
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/engineio"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// TestIdleSessionsHoldNoPollState: an idle session on a bridge's
// WebSocket, born there or upgraded from long-polling, costs no goroutine
// and keeps nothing of long-polling (no buffer, no waiting poll); and it
// still answers.
func TestIdleSessionsHoldNoPollState(t *testing.T) {
	logs := newLogs(t)
	b := newBridge(t, logs)
	srv, err := engineio.New(engineio.Config{Handler: newEcho, Bridge: b, Insecure: true, PingInterval: time.Minute,
		Logger: logger(logs)})
	if err != nil {
		t.Fatal(err)
	}
	addr := testenv.ServeHTTP(t, srv)
	wsURL := "ws://" + addr + "/engine.io/?EIO=4&transport=websocket"

	const born, upgraded = 200, 50
	var conns []*websocket.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	before := runtime.NumGoroutine()
	read := func(c *websocket.Conn, want string) {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, m, err := c.ReadMessage()
		if err != nil || !strings.HasPrefix(string(m), want) {
			t.Fatalf("read %q, %v; want %s…", m, err, want)
		}
	}
	for range born {
		c, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		read(c, `0{"sid":`)
	}
	for range upgraded {
		resp, err := http.Get("http://" + addr + "/engine.io/?EIO=4&transport=polling")
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 512)
		n, _ := resp.Body.Read(buf)
		resp.Body.Close()
		body := string(buf[:n])
		sid := body[len(`0{"sid":"`):strings.Index(body, `","`)]
		c, _, err := websocket.DefaultDialer.Dial(wsURL+"&sid="+sid, nil)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		c.WriteMessage(websocket.TextMessage, []byte("2probe"))
		read(c, "3probe")
		c.WriteMessage(websocket.TextMessage, []byte("5"))
		c.WriteMessage(websocket.TextMessage, []byte("4upgraded")) // echoed once the upgrade is done
		read(c, "4upgraded")
	}
	http.DefaultClient.CloseIdleConnections()
	var now int
	deadline := time.Now().Add(5 * time.Second)
	for {
		now = runtime.NumGoroutine()
		if now-before < 20 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("%d idle sessions (%d upgraded): %d goroutines, %d before them", born+upgraded, upgraded, now, before)
	if now-before >= 20 {
		t.Fatalf("%d goroutines for %d idle sessions", now-before, born+upgraded)
	}
	if n := srv.KeepingPollState(); n > 0 {
		t.Errorf("%d idle WebSocket sessions keep a poll buffer or waiter, or have no connection", n)
	}
	for _, c := range []*websocket.Conn{conns[0], conns[born-1], conns[born], conns[len(conns)-1]} {
		c.WriteMessage(websocket.TextMessage, []byte("4hello"))
		read(c, "4hello")
	}
}
