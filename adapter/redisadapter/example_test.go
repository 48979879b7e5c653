package redisadapter_test

import (
	"fmt"

	"github.com/expressbridge/expressbridge/adapter/redisadapter"
)

// A Go process emits "hello" to the sockets in room "user:42", on whichever
// Node server they are connected to: publish the bytes on the channel.
func ExampleBroadcast_Encode() {
	b := &redisadapter.Broadcast{
		UID: redisadapter.EmitterUID,
		Packet: redisadapter.Packet{Type: redisadapter.PacketEvent, Nsp: "/",
			Data: []any{"hello", map[string]any{"text": "hi"}}},
		Opts: redisadapter.Options{Rooms: []string{"user:42"}},
	}
	payload, err := b.Encode()
	if err != nil {
		panic(err)
	}
	fmt.Println(b.Channel(redisadapter.DefaultKey))
	fmt.Printf("%d bytes of MessagePack\n", len(payload))
	// Output:
	// socket.io#/#user:42#
	// 74 bytes of MessagePack
}

// A request from another server, decoded: here the emitter's socketsJoin.
func ExampleDecodeRequest() {
	r, err := redisadapter.DecodeRequest([]byte(`{"type":2,"opts":{"rooms":["user:42"],"except":[]},"rooms":["room:joined"]}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Type == redisadapter.RequestRemoteJoin, r.Opts.Rooms, r.Rooms)
	// Output: true [user:42] [room:joined]
}
