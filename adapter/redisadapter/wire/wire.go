// Package wire encodes and decodes the messages of @socket.io/redis-adapter
// 8.3 and @socket.io/redis-emitter 5.1, and of the sharded adapter of
// socket.io-adapter 2.5, byte-exact with the npm packages: channel names,
// broadcasts, requests and responses between servers, cluster messages,
// exactly as the Node packages publish them in Redis. It does no I/O and
// imports no server package: the caller publishes the bytes Encode returns
// and hands Decode* the payloads its subscription receives
// (adapter/redisadapter is such a caller, on go-redis).
//
// The source of the Node packages
// (node-app/node_modules/@socket.io/redis-adapter/dist/index.js,
// sharded-adapter.js, @socket.io/redis-emitter/dist/index.js) is the
// authority; testdata/messages.json beside this package holds messages
// captured from them (TestAdapterVectorsMatchNode checks they still agree).
//
// Payloads are MessagePack (notepack.io) or JSON, as the Node side chooses
// per message: broadcasts and broadcast-with-ack requests are MessagePack,
// every other request and response is JSON, a MessagePack BROADCAST_ACK
// response aside. Decoders take both, as the adapter does (a payload
// starting with '{' is JSON).
//
// Values inside packets (event arguments, socket data) decode to nil, bool,
// int64, uint64, float64, string, []byte (MessagePack bin: a Node Buffer),
// time.Time (a MessagePack timestamp: a Node Date), []any and Object (a
// JavaScript object, its members in Node's order; a socket's data and
// handshake are given as map[string]any). A JSON number decodes to int64
// when it is an integer that fits, float64 otherwise. Encoders write an
// Object in order, a Go map with sorted keys, and every number as
// notepack.io writes the float64 Node holds for it; AppendJSON writes a
// value as JSON.stringify does.
package wire

import (
	"errors"
	"fmt"
)

// Limits of the decoders, checked before any other work.
const (
	// MaxMessageSize bounds one payload: Socket.IO's own default
	// maxHttpBufferSize is 1 MB, and an adapter message carries one packet
	// plus its options.
	MaxMessageSize = 1 << 20
	// MaxDepth bounds the nesting of arrays and maps in a payload, so that a
	// hostile publisher cannot exhaust the decoder's stack.
	MaxDepth = 64
)

// ErrMalformed means a payload is not one the Node packages would publish:
// too large, too deep, not MessagePack or JSON, or of the wrong shape. Every
// decoder error wraps it.
var ErrMalformed = errors.New("wire: malformed message")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// Channels ---------------------------------------------------------------

// DefaultKey is the adapter's and the emitter's default key (option `key`),
// the sharded adapter's default channelPrefix.
const DefaultKey = "socket.io"

// BroadcastChannel is where broadcasts to a namespace without exactly one
// room are published, and the prefix the adapter pattern-subscribes to
// (BroadcastChannel(key, nsp) + "*"): "socket.io#/#".
func BroadcastChannel(key, nsp string) string { return key + "#" + nsp + "#" }

// RoomChannel is where a broadcast to exactly one room is published:
// "socket.io#/#room#". The adapter drops it unless it has the room.
func RoomChannel(key, nsp, room string) string { return key + "#" + nsp + "#" + room + "#" }

// RequestChannel is where requests between servers are published:
// "socket.io-request#/#". Its subscriber count (PUBSUB NUMSUB) is the
// number of servers, as the adapter counts them.
func RequestChannel(key, nsp string) string { return key + "-request#" + nsp + "#" }

// ResponseChannel is where responses are published by default:
// "socket.io-response#/#".
func ResponseChannel(key, nsp string) string { return key + "-response#" + nsp + "#" }

// SpecificResponseChannel is where responses to one server are published
// when the responders set publishOnSpecificResponseChannel:
// "socket.io-response#/#UID#".
func SpecificResponseChannel(key, nsp, uid string) string {
	return ResponseChannel(key, nsp) + uid + "#"
}

// ShardedChannel is the sharded adapter's channel (SPUBLISH/SSUBSCRIBE) for
// a namespace: "socket.io#/#". Its SHARDNUMSUB is the number of servers.
func ShardedChannel(prefix, nsp string) string { return prefix + "#" + nsp + "#" }

// ShardedRoomChannel is the sharded adapter's channel for broadcasts to one
// room in its "dynamic" subscription modes: "socket.io#/#room#".
func ShardedRoomChannel(prefix, nsp, room string) string {
	return ShardedChannel(prefix, nsp) + room + "#"
}

// ShardedResponseChannel is where the sharded adapter sends responses to
// the server uid: "socket.io#/#UID#".
func ShardedResponseChannel(prefix, nsp, uid string) string {
	return ShardedChannel(prefix, nsp) + uid + "#"
}

// EmitterUID is the uid the emitter puts in its broadcasts and requests.
const EmitterUID = "emitter"
