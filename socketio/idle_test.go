//go:build linux

package socketio

import (
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestIdleSocketsHoldNoGoroutine: an idle Socket.IO socket on WebSocket,
// born there or upgraded from long-polling, costs no goroutine and keeps
// no buffer, as a plain bridge connection; and it still answers.
func TestIdleSocketsHoldNoGoroutine(t *testing.T) {
	e := newEnv(t)
	srv, err := New(Config{Bridge: e.bridge, Insecure: true, PingInterval: time.Minute, Logger: e.logger()})
	if err != nil {
		t.Fatal(err)
	}
	Chat(srv.Of("/"))
	e.mux.Handle("/socket.io/", srv)
	e.serve(t)
	wsURL := strings.Replace(e.url, "http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"

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
	connect := func(c *websocket.Conn) {
		t.Helper()
		c.WriteMessage(websocket.TextMessage, []byte("40"))
		read(c, `40{"sid":`)
		read(c, `42["hello"`)
	}
	for range born {
		c, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		read(c, `0{"sid":`)
		connect(c)
	}
	for range upgraded {
		resp, err := http.Get(e.url + "/socket.io/?EIO=4&transport=polling")
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		buf := make([]byte, 512)
		n, _ := resp.Body.Read(buf)
		b.Write(buf[:n])
		resp.Body.Close()
		body := b.String()
		sid := body[len(`0{"sid":"`):strings.Index(body, `","`)]
		c, _, err := websocket.DefaultDialer.Dial(wsURL+"&sid="+sid, nil)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		c.WriteMessage(websocket.TextMessage, []byte("2probe"))
		read(c, "3probe")
		c.WriteMessage(websocket.TextMessage, []byte("5"))
		connect(c)
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
	t.Logf("%d idle sockets (%d upgraded): %d goroutines, %d before them", born+upgraded, upgraded, now, before)
	if now-before >= 20 {
		t.Fatalf("%d goroutines for %d idle sockets", now-before, born+upgraded)
	}
	for _, c := range []*websocket.Conn{conns[0], conns[born-1], conns[born], conns[len(conns)-1]} {
		c.WriteMessage(websocket.TextMessage, []byte(`421["whoami"]`))
		read(c, `431[{}]`)
	}
}
