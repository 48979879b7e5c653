package wire

import (
	"bytes"
	"strconv"

	"github.com/vmihailenco/msgpack/v5"
)

// Packet types of socket.io-parser 4 that an adapter carries.
const (
	PacketEvent = 2 // an emit: Data is the event name, then its arguments
	PacketAck   = 3 // an acknowledgement
)

// Packet is a socket.io-parser packet as the adapter publishes it: before
// the parser splits binary attachments out, so Buffers ride inside Data as
// []byte and the type stays PacketEvent.
type Packet struct {
	Type int
	// Nsp is the namespace, "/" when the message has none (as the adapter
	// reads it).
	Nsp string
	// Data is the event name followed by the arguments.
	Data []any
	// ID is the acknowledgement id, nil when the packet has none.
	ID *int64
}

// Flags are a broadcast's flags (socket.io's BroadcastFlags). Flags the Node
// side sets to false or leaves out are false here; Compress keeps the
// difference because socket.io compresses unless told not to.
type Flags struct {
	Volatile             bool   // "volatile": may be dropped
	Compress             *bool  // "compress"
	Local                bool   // "local": this server only (never published)
	Broadcast            bool   // "broadcast"
	Binary               *bool  // "binary"
	Timeout              *int64 // "timeout": ms to wait for acks (broadcast with ack)
	ExpectSingleResponse bool   // "expectSingleResponse"
	// Other holds flags this package does not know, kept for re-encoding.
	Other map[string]any
}

// Options say which sockets a broadcast or request reaches: those in any
// of Rooms (every socket when empty) and in none of Except.
type Options struct {
	Rooms  []string
	Except []string
	Flags  Flags
}

// Broadcast is the adapter's and the emitter's broadcast message,
// MessagePack [uid, packet, {rooms, except, flags}], published on
// Channel(key). A receiving adapter ignores its own uid and packets of
// another namespace.
type Broadcast struct {
	UID    string // the sender's adapter uid; EmitterUID from the emitter
	Packet Packet
	Opts   Options
}

// Channel returns where the broadcast is published: RoomChannel when it
// targets exactly one room, BroadcastChannel otherwise.
func (b *Broadcast) Channel(key string) string {
	if len(b.Opts.Rooms) == 1 {
		return RoomChannel(key, b.Packet.Nsp, b.Opts.Rooms[0])
	}
	return BroadcastChannel(key, b.Packet.Nsp)
}

// Encode returns the broadcast as the adapter writes it. Packet.Nsp must be
// set (the receiving adapter drops other namespaces).
func (b *Broadcast) Encode() ([]byte, error) {
	var buf bytes.Buffer
	e := newEncoder(&buf)
	err := e.EncodeArrayLen(3)
	if err == nil {
		err = e.EncodeString(b.UID)
	}
	if err == nil {
		err = encodePacket(e, &b.Packet)
	}
	if err == nil {
		err = encodeOptions(e, &b.Opts, true)
	}
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// DecodeBroadcast decodes a payload received on a broadcast or room
// channel. It fails with an error wrapping ErrMalformed when the payload is
// over MaxMessageSize, nests deeper than MaxDepth, or is not
// [uid, packet, opts] with a packet of a numeric type and an array of data.
func DecodeBroadcast(data []byte) (*Broadcast, error) {
	// 1. Size, depth, MessagePack.
	v, err := decodeMsgpack(data)
	if err != nil {
		return nil, err
	}
	// 2. The triple.
	a, ok := v.([]any)
	if !ok || len(a) != 3 {
		return nil, malformed("a broadcast is [uid, packet, opts], got %T", v)
	}
	b := &Broadcast{}
	if b.UID, ok = a[0].(string); !ok {
		return nil, malformed("uid of type %T", a[0])
	}
	// 3. The packet and the options.
	if err := decodePacket(a[1], &b.Packet); err != nil {
		return nil, err
	}
	if err := decodeOptions(a[2], &b.Opts); err != nil {
		return nil, err
	}
	return b, nil
}

// Packets and options ----------------------------------------------------

func encodePacket(e *msgpack.Encoder, p *Packet) error {
	n := 3
	if p.ID != nil {
		n++
	}
	data := p.Data
	if data == nil {
		data = []any{}
	}
	err := e.EncodeMapLen(n)
	for _, kv := range []struct {
		k string
		v any
	}{{"type", int64(p.Type)}, {"data", data}, {"nsp", p.Nsp}} {
		if err == nil {
			err = e.EncodeString(kv.k)
		}
		if err == nil {
			err = encodeValue(e, kv.v)
		}
	}
	if err == nil && p.ID != nil {
		if err = e.EncodeString("id"); err == nil {
			err = e.EncodeInt(*p.ID)
		}
	}
	return err
}

func decodePacket(v any, p *Packet) error {
	m, ok := asMap(v)
	if !ok {
		return malformed("packet of type %T", v)
	}
	t, ok := integer(m["type"])
	if !ok || t < 0 || t > 6 {
		return malformed("packet type %v", m["type"])
	}
	p.Type = int(t)
	p.Nsp = "/"
	if nsp, present := m["nsp"]; present && nsp != nil {
		s, ok := nsp.(string)
		if !ok {
			return malformed("packet nsp of type %T", nsp)
		}
		p.Nsp = s
	}
	switch d := m["data"].(type) {
	case []any:
		p.Data = d
	case nil:
	default:
		return malformed("packet data of type %T", d)
	}
	if id, present := m["id"]; present && id != nil {
		n, ok := integer(id)
		if !ok {
			return malformed("packet id %v", id)
		}
		p.ID = &n
	}
	return nil
}

// encodeOptions writes {rooms, except[, flags]}, the adapter's order.
func encodeOptions(e *msgpack.Encoder, o *Options, withFlags bool) error {
	n := 2
	if withFlags {
		n = 3
	}
	err := e.EncodeMapLen(n)
	if err == nil {
		err = e.EncodeString("rooms")
	}
	if err == nil {
		err = encodeStrings(e, o.Rooms)
	}
	if err == nil {
		err = e.EncodeString("except")
	}
	if err == nil {
		err = encodeStrings(e, o.Except)
	}
	if err == nil && withFlags {
		if err = e.EncodeString("flags"); err == nil {
			err = encodeMap(e, o.Flags.asMap())
		}
	}
	return err
}

func encodeStrings(e *msgpack.Encoder, s []string) error {
	if err := e.EncodeArrayLen(len(s)); err != nil {
		return err
	}
	for _, x := range s {
		if err := e.EncodeString(x); err != nil {
			return err
		}
	}
	return nil
}

func decodeOptions(v any, o *Options) error {
	m, ok := asMap(v)
	if !ok {
		return malformed("options of type %T", v)
	}
	var err error
	if o.Rooms, err = rooms(m["rooms"]); err != nil {
		return err
	}
	if o.Except, err = rooms(m["except"]); err != nil {
		return err
	}
	if f := m["flags"]; f != nil {
		fm, ok := asMap(f)
		if !ok {
			return malformed("flags of type %T", f)
		}
		return o.Flags.fromMap(fm)
	}
	return nil
}

// rooms decodes a list of rooms. Socket.IO rooms are strings in practice;
// a number (JavaScript allows any Map key) becomes its decimal form.
func rooms(v any) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	a, ok := v.([]any)
	if !ok {
		return nil, malformed("rooms of type %T", v)
	}
	out := make([]string, 0, len(a))
	for _, r := range a {
		switch r := r.(type) {
		case string:
			out = append(out, r)
		case float64:
			out = append(out, strconv.FormatFloat(r, 'f', -1, 64))
		default:
			n, ok := integer(r)
			if !ok {
				return nil, malformed("room of type %T", r)
			}
			out = append(out, strconv.FormatInt(n, 10))
		}
	}
	return out, nil
}

func (f *Flags) asMap() map[string]any {
	m := make(map[string]any, len(f.Other)+7)
	for k, v := range f.Other {
		m[k] = v
	}
	set := func(k string, on bool) {
		if on {
			m[k] = true
		}
	}
	set("volatile", f.Volatile)
	set("local", f.Local)
	set("broadcast", f.Broadcast)
	set("expectSingleResponse", f.ExpectSingleResponse)
	if f.Compress != nil {
		m["compress"] = *f.Compress
	}
	if f.Binary != nil {
		m["binary"] = *f.Binary
	}
	if f.Timeout != nil {
		m["timeout"] = *f.Timeout
	}
	return m
}

func (f *Flags) fromMap(m map[string]any) error {
	for k, v := range m {
		b, isBool := v.(bool)
		switch k {
		case "volatile":
			f.Volatile = isBool && b
		case "local":
			f.Local = isBool && b
		case "broadcast":
			f.Broadcast = isBool && b
		case "expectSingleResponse":
			f.ExpectSingleResponse = isBool && b
		case "compress":
			if isBool {
				f.Compress = &b
			}
		case "binary":
			if isBool {
				f.Binary = &b
			}
		case "timeout":
			n, ok := integer(v)
			if !ok {
				return malformed("timeout flag %v", v)
			}
			f.Timeout = &n
		default:
			if f.Other == nil {
				f.Other = make(map[string]any)
			}
			f.Other[k] = v
		}
	}
	return nil
}

// integer returns v as an int64 when it is a whole number.
func integer(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case uint64:
		if n <= 1<<63-1 {
			return int64(n), true
		}
	case float64:
		if n == float64(int64(n)) {
			return int64(n), true
		}
	}
	return 0, false
}

// MarshalJSON writes the packet as socket.io writes it: {type, data, nsp}
// and id when set.
func (p *Packet) MarshalJSON() ([]byte, error) {
	var f fields
	f.add("type", int64(p.Type))
	f.add("data", nonNilAny(p.Data))
	f.add("nsp", p.Nsp)
	if p.ID != nil {
		f.add("id", *p.ID)
	}
	return f.json()
}
