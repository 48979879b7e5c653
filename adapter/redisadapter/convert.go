package redisadapter

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/expressbridge/expressbridge/adapter/redisadapter/wire"
	"github.com/expressbridge/expressbridge/socketio"
	"github.com/expressbridge/expressbridge/socketio/parser"
)

// Between Go's encoded packets and the adapter's ---------------------------
//
// Go encodes a broadcast once, as the text of a Socket.IO packet and its
// binary attachments (socketio.Encoded); the adapter carries the packet
// before socket.io-parser splits it: {type: EVENT, data: [event, ...args],
// nsp}, Buffers inside data. These convert one to the other.

// packetOf turns an encoded EVENT into the adapter's packet: each argument
// decoded from JSON with its objects' keys in order (wire.DecodeJSONValue),
// each attachment back in its placeholder's place as []byte.
func packetOf(p *socketio.Encoded, nsp string) (wire.Packet, error) {
	// 1. The packet's text.
	sp, err := parser.Decode(p.Text)
	if err != nil {
		return wire.Packet{}, err
	}
	if sp.Type != parser.Event && sp.Type != parser.BinaryEvent {
		return wire.Packet{}, fmt.Errorf("redisadapter: only events are broadcast, not packet type %d", sp.Type)
	}
	// 2. Its arguments, attachments in place.
	data := make([]any, len(sp.Args))
	for i, raw := range sp.Args {
		if data[i], err = wire.DecodeJSONValue(raw); err != nil {
			return wire.Packet{}, err
		}
		if len(p.Attachments) > 0 {
			data[i] = attached(data[i], p.Attachments)
		}
	}
	return wire.Packet{Type: wire.PacketEvent, Nsp: nsp, Data: data}, nil
}

// encodedOf encodes a packet of another server for Go's sockets as
// JSON.stringify writes it (wire.AppendJSON: keys in order, numbers as Node
// holds them), []byte anywhere in data as an attachment. The packet's own id
// is not kept (Go gives its own).
func encodedOf(p *wire.Packet) (*socketio.Encoded, error) {
	return encodedWithID(p, nil)
}

// encodedWithID is encodedOf with ack id id when not nil.
func encodedWithID(p *wire.Packet, id *uint64) (*socketio.Encoded, error) {
	if p.Type != wire.PacketEvent || len(p.Data) == 0 {
		return nil, errors.New("redisadapter: not an event")
	}
	var bins [][]byte
	elems := make([]json.RawMessage, len(p.Data))
	for i, v := range p.Data {
		b, err := wire.AppendJSON(nil, v, placeholders(&bins))
		if err != nil {
			return nil, err
		}
		elems[i] = b
	}
	sp := parser.Packet{Type: parser.Event, Namespace: p.Nsp, Data: parser.EncodeArray(nil, elems), Attachments: len(bins)}
	if len(bins) > 0 {
		sp.Type = parser.BinaryEvent
	}
	if id != nil {
		sp.ID, sp.HasID = *id, true
	}
	return &socketio.Encoded{Text: parser.Append(nil, sp), Attachments: bins}, nil
}

// attached puts each attachment in its placeholder's place, at any depth,
// as socket.io-parser's reconstructPacket does (an object whose
// _placeholder is true and whose num is an attachment's index).
func attached(v any, bins [][]byte) any {
	switch v := v.(type) {
	case wire.Object:
		if ph, _ := v.Get("_placeholder"); ph == true {
			if n, ok := v.Get("num"); ok {
				if i, ok := n.(int64); ok && i >= 0 && i < int64(len(bins)) {
					return bins[i]
				}
			}
		}
		for i := range v {
			v[i].Value = attached(v[i].Value, bins)
		}
	case []any:
		for i := range v {
			v[i] = attached(v[i], bins)
		}
	}
	return v
}

// placeholders writes each []byte as socket.io-parser's placeholder and
// collects it in bins, depth first as the parser numbers them.
func placeholders(bins *[][]byte) func(dst, b []byte) []byte {
	return func(dst, b []byte) []byte {
		*bins = append(*bins, b)
		return append(dst, parser.Placeholder(len(*bins)-1)...)
	}
}

// jsonValues makes Go arguments publishable: each through encoding/json
// (structs become maps), []byte kept as binary; one the decoders would
// refuse (wire.MaxMessageSize, wire.MaxDepth) becomes nil.
func jsonValues(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch a.(type) {
		case []byte, string, nil, bool, int, int64, float64:
			out[i] = a
			continue
		}
		raw, err := json.Marshal(a)
		if err != nil {
			out[i] = nil
			continue
		}
		if out[i], err = wire.DecodeJSONValue(raw); err != nil {
			out[i] = nil // beyond what the decoders take
		}
	}
	return out
}

// ackValue is the value a broadcast's ack carries back to its sender, as
// the adapter's callback takes it: the first argument of the client's
// acknowledgement (nil when it has none, or when the decoders would refuse
// it), binary as []byte, numbers as int64 or float64.
func ackValue(args socketio.Args) any {
	if args.Len() == 0 {
		return nil
	}
	if b, ok := args.Bytes(0); ok {
		return b
	}
	v, err := wire.DecodeJSONValue(args.Raw(0))
	if err != nil {
		return nil
	}
	return v
}

// argsOf is an ack value of another server as the one argument of a
// client's acknowledgement, written as encodedOf writes a packet's.
func argsOf(v any) socketio.Args {
	var bins [][]byte
	raw, err := wire.AppendJSON(nil, v, placeholders(&bins))
	if err != nil {
		return socketio.NewArgs([]json.RawMessage{json.RawMessage("null")}, nil)
	}
	return socketio.NewArgs([]json.RawMessage{raw}, bins)
}

// stringified returns v as JSON.stringify would write the value Node
// decodes it to, for the messages the adapter writes with JSON.stringify
// (a serverSideEmit answer): a []byte as a Buffer's toJSON
// ({"type":"Buffer","data":[…]}), a time.Time as a Date's, keys in order
// (wire.AppendJSON); nil when the decoders would refuse it.
func stringified(v any) any {
	raw, err := wire.AppendJSON(nil, v, nil)
	if err != nil {
		return nil
	}
	out, err := wire.DecodeJSONValue(raw)
	if err != nil {
		return nil // beyond what the decoders take
	}
	return out
}

// optionsOf is o as the adapter publishes it: volatile and compress are
// flags the other servers honour (local never leaves this one). compress
// is sent only when false, as socket.io leaves it out unless
// compress(…) was called (and true is its default).
func optionsOf(o socketio.BroadcastOptions) wire.Options {
	f := wire.Flags{Volatile: o.Volatile}
	if o.NoCompress {
		f.Compress = new(bool)
	}
	return wire.Options{Rooms: roomStrings(o.Rooms), Except: roomStrings(o.Except), Flags: f}
}

func broadcastOptionsOf(o *wire.Options) socketio.BroadcastOptions {
	return socketio.BroadcastOptions{Rooms: toRooms(o.Rooms), Except: toRooms(o.Except), Volatile: o.Flags.Volatile,
		NoCompress: o.Flags.Compress != nil && !*o.Flags.Compress}
}

func roomStrings(rooms []socketio.Room) []string {
	out := make([]string, len(rooms))
	for i, r := range rooms {
		out[i] = string(r)
	}
	return out
}

func toRooms(s []string) []socketio.Room {
	out := make([]socketio.Room, len(s))
	for i, r := range s {
		out[i] = socketio.Room(r)
	}
	return out
}

func socketInfos(in []socketio.SocketInfo) []wire.SocketInfo {
	out := make([]wire.SocketInfo, len(in))
	for i, s := range in {
		out[i] = wire.SocketInfo{ID: string(s.ID), Handshake: s.Handshake, Rooms: roomStrings(s.Rooms), Data: s.Data}
	}
	return out
}

func socketInfoOf(s wire.SocketInfo) socketio.SocketInfo {
	return socketio.SocketInfo{ID: socketio.SocketID(s.ID), Handshake: s.Handshake, Rooms: toRooms(s.Rooms), Data: s.Data}
}
