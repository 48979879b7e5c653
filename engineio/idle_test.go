//go:build linux

package engineio_test

import (
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/engineio"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// TestIdleSessionsHoldNoPollState: an idle session on a wsconn
// WebSocket, born there or upgraded from long-polling, costs no goroutine
// and keeps nothing of long-polling (no buffer, no waiting poll); and it
// still answers.
func TestIdleSessionsHoldNoPollState(t *testing.T) {
	logs := newLogs(t)
	srv, err := engineio.New(engineio.Config{Handler: newEcho, Insecure: true,
		PingInterval: time.Minute, Logger: logger(logs)})
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + testenv.ServeHTTP(t, srv) + "/engine.io/"

	const born, upgraded = 200, 50
	conns := testenv.OpenIdleSessions(t, url, born, upgraded, 20, func(c *websocket.Conn) {
		c.WriteMessage(websocket.TextMessage, []byte("4ready")) // echoed once the session is on this connection
		testenv.ReadPrefix(t, c, "4ready")
	})
	if n := srv.KeepingPollState(); n > 0 {
		t.Errorf("%d idle WebSocket sessions keep a poll buffer or waiter, or have no connection", n)
	}
	for _, c := range []*websocket.Conn{conns[0], conns[born-1], conns[born], conns[len(conns)-1]} {
		c.WriteMessage(websocket.TextMessage, []byte("4hello"))
		testenv.ReadPrefix(t, c, "4hello")
	}
}
