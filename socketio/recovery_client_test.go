package socketio_test

import (
	"testing"

	"github.com/expressbridge/expressbridge/internal/testenv"
	"github.com/expressbridge/expressbridge/socketio"
)

// TestSocketIORecovery runs the real socket.io-client 4.8.1 against a Go
// server with recovery on, behind the real Express app's sessions
// (node-app/test/socketio-client.js recovery): a dropped WebSocket comes
// back with socket.recovered, its id and the events broadcast meanwhile
// in order; a logout meanwhile is refused no-session, another user in the
// session recovery-other-session, a pid with another cookie too.
func TestSocketIORecovery(t *testing.T) {
	e := newEnv(t)
	app := testenv.StartNodeApp(t, testenv.NodeAppConfig{RedisURL: e.redis.URL(), Secrets: []string{testSecret}})
	srv, err := socketio.New(socketio.Config{Live: e.live, Logger: e.logger(), Recovery: &socketio.RecoveryConfig{}})
	if err != nil {
		t.Fatal(err)
	}
	io := srv.Of("/")
	io.On("join", func(so *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
		var room socketio.Room
		args.Decode(0, &room)
		so.Join(room)
		ack()
	})
	io.On("news", func(so *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
		var o struct {
			To   socketio.Room
			Text string
		}
		args.Decode(0, &o)
		io.Broadcast(socketio.BroadcastOptions{Rooms: []socketio.Room{o.To}}, "news", o.Text)
		ack()
	})
	io.OnDisconnect(func(so *socketio.Socket, reason string) {
		io.Broadcast(socketio.BroadcastOptions{Rooms: []socketio.Room{"watchers"}}, "left", reason)
	})
	e.mux.Handle("/socket.io/", srv)
	e.serve(t)
	testenv.RunNode(t, clientTimeout, []string{"APP_URL=" + app.URL(), "BRIDGE_URL=" + e.url}, "test/socketio-client.js", "recovery")
}
