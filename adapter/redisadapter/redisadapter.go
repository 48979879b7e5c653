// Package redisadapter joins a Go instance to a Socket.IO fleet that fans
// out through Redis, in the protocol of @socket.io/redis-adapter 8.3 and
// @socket.io/redis-emitter 5.1 (and of createShardedAdapter), so that Go
// instances, Node servers and the emitter reach each other's sockets: emit
// to rooms, make sockets join or leave, disconnect them, fetch them,
// server-side emit, broadcasts with acks, in both directions.
//
// A Bus is the membership, on a go-redis client: NewAdapter gives each
// socketio namespace an Adapter (rooms local first, Redis layered on top,
// as RedisAdapter subclasses socket.io-adapter's Adapter), and NewRelay
// carries the /ws door's broadcasts (bridge.Fanout). Delivery between
// instances is at most once, as Redis Pub/Sub's.
//
// The messages themselves are package wire's (adapter/redisadapter/wire,
// a codec with no I/O); this package converts between them and socketio's
// types and does the publishing, subscribing and request/response dance.
//
// Payloads cross exactly: an event's arguments (and a serverSideEmit's, an
// ack's answer) reach every instance as a Node server relaying them would
// write them: objects with their keys in the sender's order, numbers as
// the float64 Node holds (notepack.io's integer forms), Buffers anywhere
// as binary, Dates as JSON.stringify writes them. Values handed to Go code
// (ServerSideHandler's args, serverSideEmit's answers, broadcast acks) are
// package wire's: a JavaScript object is a wire.Object, its members in
// order; a socket's Data and Handshake stay map[string]any.
package redisadapter

import "github.com/expressbridge/expressbridge/adapter/redisadapter/wire"

// DefaultKey is BusConfig.Key's default: the Node packages' default key
// (option `key`, the sharded adapter's channelPrefix), wire.DefaultKey.
const DefaultKey = wire.DefaultKey
