package wire

import (
	"bytes"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// RequestType is the adapter's request type between servers (its
// RequestType enum), carried in requests and in some responses.
type RequestType int

// The request types of @socket.io/redis-adapter 8.3.
const (
	RequestSockets              RequestType = 0 // ids of the sockets in some rooms (older adapters)
	RequestAllRooms             RequestType = 1 // every room of every server
	RequestRemoteJoin           RequestType = 2 // socketsJoin: sockets matching Opts join Rooms
	RequestRemoteLeave          RequestType = 3 // socketsLeave: sockets matching Opts leave Rooms
	RequestRemoteDisconnect     RequestType = 4 // disconnectSockets(Close)
	RequestRemoteFetch          RequestType = 5 // fetchSockets
	RequestServerSideEmit       RequestType = 6 // serverSideEmit: Data is the event and its arguments
	RequestBroadcast            RequestType = 7 // broadcast with acks (MessagePack)
	RequestBroadcastClientCount RequestType = 8 // response: clients a broadcast with acks reached
	RequestBroadcastAck         RequestType = 9 // response: one client's ack (MessagePack)
)

// Request is a message on RequestChannel. Which fields are set depends on
// Type, as the Node packages write them:
//
//	RequestAllRooms          UID, RequestID
//	RequestRemoteJoin/Leave  UID (none from the emitter), Opts, Rooms
//	RequestRemoteDisconnect  UID (none from the emitter), Opts, Close
//	RequestRemoteFetch       UID, RequestID, Opts
//	RequestServerSideEmit    UID (EmitterUID from the emitter), RequestID when an ack is wanted, Data
//	RequestBroadcast         UID, RequestID, Packet, Opts with Flags.Timeout
//
// Older adapters also send SID and Room (one socket joins, leaves or is
// disconnected) and RequestSockets with Rooms; they are decoded too.
type Request struct {
	UID       string
	RequestID string
	Type      RequestType
	Packet    *Packet
	Opts      *Options
	Rooms     []string
	Close     bool
	Data      []any
	SID       string
	Room      string
}

// Encode returns the request as the Node packages write it: JSON with their
// key order, except RequestBroadcast, which is MessagePack.
func (r *Request) Encode() ([]byte, error) {
	var f fields
	if r.UID != "" {
		f.add("uid", r.UID)
	}
	if r.RequestID != "" {
		f.add("requestId", r.RequestID)
	}
	f.add("type", int64(r.Type))
	if r.SID != "" {
		f.add("sid", r.SID)
	}
	if r.Room != "" {
		f.add("room", r.Room)
	}
	if r.Packet != nil {
		f.add("packet", r.Packet)
	}
	if r.Opts != nil {
		f.add("opts", optionsValue{r.Opts, r.Type == RequestBroadcast})
	}
	switch r.Type {
	case RequestRemoteJoin, RequestRemoteLeave, RequestSockets:
		if r.SID == "" {
			f.add("rooms", nonNil(r.Rooms))
		}
	case RequestRemoteDisconnect:
		if r.SID == "" {
			f.add("close", r.Close)
		}
	case RequestServerSideEmit:
		f.add("data", nonNilAny(r.Data))
	}
	if r.Type == RequestBroadcast {
		return f.msgpack()
	}
	return f.json()
}

// DecodeRequest decodes a payload received on RequestChannel, JSON or
// MessagePack. It fails with an error wrapping ErrMalformed when the
// payload is over MaxMessageSize, nests deeper than MaxDepth, or is not a
// request: a map with a numeric type and fields of the right types.
func DecodeRequest(data []byte) (*Request, error) {
	// 1. Size, depth, JSON or MessagePack.
	v, _, err := decodeAny(data)
	if err != nil {
		return nil, err
	}
	m, ok := asMap(v)
	if !ok {
		return nil, malformed("a request is a map, got %T", v)
	}
	// 2. The type.
	t, ok := integer(m["type"])
	if !ok {
		return nil, malformed("request type %v", m["type"])
	}
	r := &Request{Type: RequestType(t)}
	// 3. The fields, each optional but typed.
	if err := str(m, "uid", &r.UID); err != nil {
		return nil, err
	}
	if err := str(m, "requestId", &r.RequestID); err != nil {
		return nil, err
	}
	if err := str(m, "sid", &r.SID); err != nil {
		return nil, err
	}
	if err := str(m, "room", &r.Room); err != nil {
		return nil, err
	}
	if p, ok := m["packet"]; ok && p != nil {
		r.Packet = &Packet{}
		if err := decodePacket(p, r.Packet); err != nil {
			return nil, err
		}
	}
	if o, ok := m["opts"]; ok && o != nil {
		r.Opts = &Options{}
		if err := decodeOptions(o, r.Opts); err != nil {
			return nil, err
		}
	}
	if r.Rooms, err = rooms(m["rooms"]); err != nil {
		return nil, err
	}
	if c, ok := m["close"]; ok && c != nil {
		if r.Close, ok = c.(bool); !ok {
			return nil, malformed("close of type %T", c)
		}
	}
	if d, ok := m["data"]; ok && d != nil {
		if r.Data, ok = d.([]any); !ok {
			return nil, malformed("data of type %T", d)
		}
	}
	return r, nil
}

// Response is a message on ResponseChannel (or SpecificResponseChannel).
// Responses to RequestServerSideEmit, and the RequestBroadcastClientCount
// and RequestBroadcastAck responses to RequestBroadcast, carry their Type
// (HasType); the others carry only RequestID and the answer, and the
// requester knows what it asked:
//
//	RequestSockets           SocketIDs
//	RequestAllRooms          Rooms
//	RequestRemoteFetch       Sockets
//	RequestRemoteJoin/Leave/Disconnect (older adapters' one-socket form) nothing
//	RequestServerSideEmit    Data: the one argument the ack was called with
//	RequestBroadcastClientCount ClientCount
//	RequestBroadcastAck      Packet: the client's ack arguments (MessagePack)
type Response struct {
	HasType     bool
	Type        RequestType
	RequestID   string
	SocketIDs   []string
	Sockets     []SocketInfo
	Rooms       []string
	Data        any
	ClientCount int64
	Packet      any
}

// SocketInfo is one socket in a fetchSockets answer.
type SocketInfo struct {
	ID string `json:"id"`
	// Handshake is the socket's handshake (headers, time, address, xdomain,
	// secure, issued, url, query, auth) as the Node server has it.
	Handshake map[string]any `json:"handshake"`
	Rooms     []string       `json:"rooms"`
	Data      any            `json:"data"`
}

// Encode returns the response as the adapter writes it for a request of
// kind: JSON with its key order, except RequestBroadcastAck, MessagePack.
// The type field is written for RequestServerSideEmit,
// RequestBroadcastClientCount and RequestBroadcastAck only.
func (r *Response) Encode(kind RequestType) ([]byte, error) {
	var f fields
	switch kind {
	case RequestServerSideEmit, RequestBroadcastClientCount, RequestBroadcastAck:
		f.add("type", int64(kind))
	}
	f.add("requestId", r.RequestID)
	switch kind {
	case RequestSockets:
		f.add("sockets", nonNil(r.SocketIDs))
	case RequestAllRooms:
		f.add("rooms", nonNil(r.Rooms))
	case RequestRemoteFetch:
		s := r.Sockets
		if s == nil {
			s = []SocketInfo{}
		}
		f.add("sockets", s)
	case RequestServerSideEmit:
		f.add("data", r.Data)
	case RequestBroadcastClientCount:
		f.add("clientCount", r.ClientCount)
	case RequestBroadcastAck:
		f.add("packet", r.Packet)
		return f.msgpack()
	}
	return f.json()
}

// DecodeResponse decodes a payload received on a response channel, JSON or
// MessagePack, with DecodeRequest's limits.
func DecodeResponse(data []byte) (*Response, error) {
	v, _, err := decodeAny(data)
	if err != nil {
		return nil, err
	}
	m, ok := asMap(v)
	if !ok {
		return nil, malformed("a response is a map, got %T", v)
	}
	r := &Response{}
	if t, present := m["type"]; present && t != nil {
		n, ok := integer(t)
		if !ok {
			return nil, malformed("response type %v", t)
		}
		r.HasType, r.Type = true, RequestType(n)
	}
	if err := str(m, "requestId", &r.RequestID); err != nil {
		return nil, err
	}
	if r.Rooms, err = rooms(m["rooms"]); err != nil {
		return nil, err
	}
	if s, ok := m["sockets"]; ok && s != nil {
		a, ok := s.([]any)
		if !ok {
			return nil, malformed("sockets of type %T", s)
		}
		for _, x := range a {
			if s, ok := x.(string); ok {
				r.SocketIDs = append(r.SocketIDs, s)
				continue
			}
			xm, ok := asMap(x)
			if !ok {
				return nil, malformed("socket of type %T", x)
			}
			var si SocketInfo
			if err := socketInfo(xm, &si); err != nil {
				return nil, err
			}
			r.Sockets = append(r.Sockets, si)
		}
	}
	r.Data, r.Packet = m["data"], m["packet"]
	if c, ok := m["clientCount"]; ok && c != nil {
		if r.ClientCount, ok = integer(c); !ok {
			return nil, malformed("clientCount %v", c)
		}
	}
	return r, nil
}

func socketInfo(m map[string]any, si *SocketInfo) error {
	if err := str(m, "id", &si.ID); err != nil {
		return err
	}
	if h, ok := m["handshake"]; ok && h != nil {
		if si.Handshake, ok = plainMaps(h).(map[string]any); !ok {
			return malformed("handshake of type %T", h)
		}
	}
	var err error
	if si.Rooms, err = rooms(m["rooms"]); err != nil {
		return err
	}
	si.Data = plainMaps(m["data"]) // the Go API's maps
	return nil
}

// str sets *dst to m[key] when it is present and not null.
func str(m map[string]any, key string, dst *string) error {
	v, ok := m[key]
	if !ok || v == nil {
		return nil
	}
	if *dst, ok = v.(string); !ok {
		return malformed("%s of type %T", key, v)
	}
	return nil
}

// Ordered fields -----------------------------------------------------------

// fields is a map written in insertion order, as JavaScript writes an
// object's keys, in JSON or MessagePack.
type fields struct {
	keys []string
	vals []any
}

func (f *fields) add(k string, v any) {
	f.keys = append(f.keys, k)
	f.vals = append(f.vals, v)
}

// optionsValue is Options in a request: {rooms, except} or, for a
// broadcast with acks, {rooms, except, flags}.
type optionsValue struct {
	o         *Options
	withFlags bool
}

func (f *fields) json() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range f.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(appendString(b.AvailableBuffer(), k))
		b.WriteByte(':')
		v := f.vals[i]
		if ov, ok := v.(optionsValue); ok {
			om := map[string]any{"rooms": nonNil(ov.o.Rooms), "except": nonNil(ov.o.Except)}
			var inner fields
			inner.add("rooms", om["rooms"])
			inner.add("except", om["except"])
			if ov.withFlags {
				inner.add("flags", ov.o.Flags.asMap())
			}
			ib, err := inner.json()
			if err != nil {
				return nil, err
			}
			b.Write(ib)
			continue
		}
		if unlikeStringify(v) {
			v = asStringify(v)
		}
		vb, err := AppendJSON(b.AvailableBuffer(), v, nil) // as JSON.stringify writes it
		if err != nil {
			return nil, fmt.Errorf("wire: %s: %w", k, err)
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func (f *fields) msgpack() ([]byte, error) {
	var b bytes.Buffer
	e := newEncoder(&b)
	if err := e.EncodeMapLen(len(f.keys)); err != nil {
		return nil, err
	}
	for i, k := range f.keys {
		if err := e.EncodeString(k); err != nil {
			return nil, err
		}
		if err := encodeField(e, f.vals[i]); err != nil {
			return nil, fmt.Errorf("wire: %s: %w", k, err)
		}
	}
	return b.Bytes(), nil
}

func encodeField(e *msgpack.Encoder, v any) error {
	switch v := v.(type) {
	case optionsValue:
		return encodeOptions(e, v.o, v.withFlags)
	case *Packet:
		return encodePacket(e, v)
	case []string:
		return encodeStrings(e, v)
	}
	return encodeValue(e, v)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilAny(s []any) []any {
	if s == nil {
		return []any{}
	}
	return s
}
