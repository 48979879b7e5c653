package redisadapter_test

import (
	"context"
	"log"
	"net/http"

	"github.com/redis/go-redis/v9"

	"github.com/expressbridge/expressbridge/adapter/redisadapter"
	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/bridge"
	"github.com/expressbridge/expressbridge/examples/chat"
	"github.com/expressbridge/expressbridge/socketio"
)

// One instance of a fleet: Socket.IO rooms and broadcasts, and the /ws
// chat's broadcasts, fan out through Redis in @socket.io/redis-adapter's
// protocol, so Node servers on createAdapter and the emitter take part.
// Run the same program on every instance.
func ExampleBus() {
	ctx := context.Background()
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	bus := redisadapter.NewBus(client, redisadapter.BusConfig{})
	defer bus.Close()

	var gate *auth.Gate // auth.New(…): the Express app's secrets and store
	relay := bus.NewRelay()
	ws, err := bridge.New(bridge.Config{Gate: gate, Protocol: chat.WebSocket{}, Fanout: relay})
	if err != nil {
		log.Fatal(err)
	}
	relay.Start(ctx, ws.BroadcastLocal) // /ws broadcasts of the other instances

	sio, err := socketio.New(socketio.Config{Live: ws.Tracker(), NewAdapter: bus.NewAdapter})
	if err != nil {
		log.Fatal(err)
	}
	chat.SocketIO(sio.Of("/"))
	http.Handle("/ws", ws)
	http.Handle("/socket.io/", sio)
	log.Fatal(http.ListenAndServe(":8081", nil))
}

// Operations on the sockets of every instance, as io.in(room).… does in
// Node: here, every socket of user 42 joins "team:7", then the team hears
// the news, then bob's sockets are disconnected wherever they are.
func ExampleAdapter() {
	ctx := context.Background()
	var ns *socketio.Namespace // sio.Of("/") of a server whose NewAdapter is a Bus's
	user42 := socketio.BroadcastOptions{Rooms: []socketio.Room{chat.UserRoom("42")}}
	if err := ns.SocketsJoin(ctx, user42, "team:7"); err != nil {
		log.Print(err)
	}
	ns.Broadcast(socketio.BroadcastOptions{Rooms: []socketio.Room{"team:7"}}, "news", "the team grew")
	everyone, err := ns.FetchSockets(ctx, socketio.BroadcastOptions{})
	log.Print(len(everyone), err)
	ns.DisconnectSockets(ctx, socketio.BroadcastOptions{Rooms: []socketio.Room{chat.UserRoom("bob")}}, false)
}
