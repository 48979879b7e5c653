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
	recoveryServer(t, e)
	e.serve(t)
	testenv.RunNode(t, clientTimeout, []string{"APP_URL=" + app.URL(), "BRIDGE_URL=" + e.url}, "test/socketio-client.js", "recovery")
}

// TestSocketIORecoveryExpiry: a session that expires while its socket is
// disconnected (the app's cookie maxAge is 2 s, recovery's duration 2 min)
// is refused at the reconnect with the gate's code, not recovered.
func TestSocketIORecoveryExpiry(t *testing.T) {
	e := newEnv(t)
	app := testenv.StartNodeApp(t, testenv.NodeAppConfig{RedisURL: e.redis.URL(), Secrets: []string{testSecret}, MaxAgeMS: 2000})
	recoveryServer(t, e)
	e.serve(t)
	testenv.RunNode(t, clientTimeout, []string{"APP_URL=" + app.URL(), "BRIDGE_URL=" + e.url}, "test/socketio-client.js", "recovery-expiry")
}

// recoveryServer is the server of the recovery scenarios at /socket.io/:
// "hello" on connection (a first offset), "join" a room, "news" {to, text}
// to a room, "left" with the reason to the watchers.
func recoveryServer(t *testing.T, e *env) {
	t.Helper()
	srv, err := socketio.New(socketio.Config{Live: e.live, Logger: e.logger(), Recovery: &socketio.RecoveryConfig{}})
	if err != nil {
		t.Fatal(err)
	}
	io := srv.Of("/")
	io.OnConnection(func(so *socketio.Socket) { so.Emit("hello", so.Recovered()) })
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
}
