//go:build linux

package socketio_test

import (
	"github.com/expressbridge/expressbridge/examples/chat"
	"github.com/expressbridge/expressbridge/socketio"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/internal/testenv"
)

// TestIdleSocketsHoldNoGoroutine: an idle Socket.IO socket on WebSocket,
// born there or upgraded from long-polling, costs no goroutine and keeps
// no buffer, as a plain bridge connection; and it still answers. (That its
// Engine.IO session keeps nothing of long-polling is engineio's
// TestIdleSessionsHoldNoPollState.)
func TestIdleSocketsHoldNoGoroutine(t *testing.T) {
	e := newEnv(t)
	srv, err := socketio.New(socketio.Config{Live: e.live, Insecure: true, PingInterval: time.Minute, Logger: e.logger()})
	if err != nil {
		t.Fatal(err)
	}
	chat.SocketIO(srv.Of("/"))
	e.mux.Handle("/socket.io/", srv)
	e.serve(t)

	const born, upgraded = 200, 50
	conns := testenv.OpenIdleSessions(t, e.url+"/socket.io/", born, upgraded, 20, func(c *websocket.Conn) {
		c.WriteMessage(websocket.TextMessage, []byte("40"))
		testenv.ReadPrefix(t, c, `40{"sid":`)
		testenv.ReadPrefix(t, c, `42["hello"`)
	})
	for _, c := range []*websocket.Conn{conns[0], conns[born-1], conns[born], conns[len(conns)-1]} {
		c.WriteMessage(websocket.TextMessage, []byte(`421["whoami"]`))
		testenv.ReadPrefix(t, c, `431[{}]`)
	}
}
