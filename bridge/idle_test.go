//go:build linux

package bridge_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/bridge"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// TestIdleConnectionsHoldNoGoroutine: with epoll, an open connection that
// is not reading or writing costs no goroutine, and it still answers.
func TestIdleConnectionsHoldNoGoroutine(t *testing.T) {
	h := newHarness(t)
	b := h.serve(bridge.Config{})
	const n = 300
	sids := seedSessions(t, h, "idle", n)
	conns := make([]*websocket.Conn, n)
	before := runtime.NumGoroutine()
	dialAll(t, b, h, sids, conns)
	var now int
	testenv.WaitFor(t, 5*time.Second, "the connections to go idle", func() bool {
		now = runtime.NumGoroutine()
		return now-before < 20 // the poller, the keeper, go-redis and the test's own
	})
	t.Logf("%d open connections: %d goroutines, %d before them", n, now, before)
	for _, c := range []*websocket.Conn{conns[0], conns[n/2], conns[n-1]} {
		send(t, c, map[string]string{"type": "whoami"})
		if m := readMsg(t, c); m.Type != "session" {
			t.Fatalf("an idle connection did not answer: %+v", m)
		}
	}
}
