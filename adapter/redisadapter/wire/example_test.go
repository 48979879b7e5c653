package wire_test

import (
	"fmt"

	"github.com/expressbridge/expressbridge/adapter/redisadapter/wire"
)

// A Go process emits "hello" to the sockets in room "user:42", on whichever
// Node server they are connected to: publish the bytes on the channel.
func ExampleBroadcast_Encode() {
	b := &wire.Broadcast{
		UID: wire.EmitterUID,
		Packet: wire.Packet{Type: wire.PacketEvent, Nsp: "/",
			Data: []any{"hello", map[string]any{"text": "hi"}}},
		Opts: wire.Options{Rooms: []string{"user:42"}},
	}
	payload, err := b.Encode()
	if err != nil {
		panic(err)
	}
	fmt.Println(b.Channel(wire.DefaultKey))
	fmt.Printf("%d bytes of MessagePack\n", len(payload))
	// Output:
	// socket.io#/#user:42#
	// 74 bytes of MessagePack
}

// A request from another server, decoded: here the emitter's socketsJoin.
func ExampleDecodeRequest() {
	r, err := wire.DecodeRequest([]byte(`{"type":2,"opts":{"rooms":["user:42"],"except":[]},"rooms":["room:joined"]}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Type == wire.RequestRemoteJoin, r.Opts.Rooms, r.Rooms)
	// Output: true [user:42] [room:joined]
}

// A broadcast received on a room channel, decoded: here the one the
// emitter publishes for emitter.to("user:42").emit("hello", {text: "hi"}),
// made by Encode for the example.
func ExampleDecodeBroadcast() {
	payload, err := (&wire.Broadcast{UID: wire.EmitterUID,
		Packet: wire.Packet{Type: wire.PacketEvent, Nsp: "/", Data: []any{"hello", map[string]any{"text": "hi"}}},
		Opts:   wire.Options{Rooms: []string{"user:42"}}}).Encode()
	if err != nil {
		panic(err)
	}
	b, err := wire.DecodeBroadcast(payload)
	if err != nil {
		panic(err) // errors.Is(err, wire.ErrMalformed) for what no Node package would publish
	}
	args, _ := wire.AppendJSON(nil, b.Packet.Data, nil)
	fmt.Println(b.UID, b.Packet.Nsp, string(args), b.Opts.Rooms)
	// Output: emitter / ["hello",{"text":"hi"}] [user:42]
}

// The sharded adapter's broadcast with acks: Data built with the Map
// methods, read back with the typed accessors.
func ExampleClusterMessage() {
	p := wire.Packet{Type: wire.PacketEvent, Nsp: "/", Data: []any{"ping"}}
	o := wire.Options{Except: []string{"muted"}}
	m := &wire.ClusterMessage{Type: wire.ClusterBroadcast, UID: "a1b2c3", Nsp: "/",
		Data: map[string]any{"packet": p.Map(), "opts": o.Map(), "requestId": "r1"}}
	payload, err := m.Encode()
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s on %s\n", payload, wire.ShardedChannel(wire.DefaultKey, "/"))
	got, err := wire.DecodeClusterMessage(payload)
	if err != nil {
		panic(err)
	}
	pkt, err := got.Packet()
	if err != nil {
		panic(err)
	}
	opts, err := got.Opts()
	if err != nil {
		panic(err)
	}
	fmt.Println(got.RequestID(), pkt.Data, opts.Except)
	// Output:
	// {"type":3,"data":{"opts":{"except":["muted"],"flags":{},"rooms":[]},"packet":{"data":["ping"],"nsp":"/","type":2},"requestId":"r1"},"uid":"a1b2c3","nsp":"/"} on socket.io#/#
	// r1 [ping] [muted]
}

// An object argument keeps its keys in the order the sender wrote them, and
// its numbers as Node holds them, from JSON to MessagePack and back.
func ExampleObject() {
	v, err := wire.DecodeJSONValue([]byte(`{"order":1,"text":"hi","from":"a","big":9007199254740993,"neg":-0}`))
	if err != nil {
		panic(err)
	}
	payload, err := (&wire.Broadcast{UID: "a1", Packet: wire.Packet{Type: wire.PacketEvent, Nsp: "/",
		Data: []any{"chat", v}}}).Encode()
	if err != nil {
		panic(err)
	}
	b, err := wire.DecodeBroadcast(payload)
	if err != nil {
		panic(err)
	}
	out, _ := wire.AppendJSON(nil, b.Packet.Data[1], nil)
	fmt.Println(string(out))
	// Output: {"order":1,"text":"hi","from":"a","big":9007199254740992,"neg":0}
}
