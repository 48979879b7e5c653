// Package parser is the Socket.IO v5 packet codec (the format of the npm
// package socket.io-parser 4): what travels inside Engine.IO MESSAGE
// packets. It does no I/O; package socketio serves the protocol.
//
// A packet's text form is
//
//	<type>[<attachments>-][<namespace>,][<ack id>][<JSON data>]
//
// where the namespace is written only when it is not "/", and a
// BINARY_EVENT or BINARY_ACK is followed by that many binary Engine.IO
// messages, each standing for one {"_placeholder":true,"num":N} of the data.
package parser

import (
	"encoding/json"
	"errors"
	"strconv"
)

// Type is a Socket.IO packet type.
type Type byte

// The packet types of protocol version 5.
const (
	Connect      Type = 0
	Disconnect   Type = 1
	Event        Type = 2
	Ack          Type = 3
	ConnectError Type = 4
	BinaryEvent  Type = 5
	BinaryAck    Type = 6
)

// Limits of the decoder.
const (
	// MaxAttachments bounds a binary packet's attachments, so that a
	// header cannot make the server wait for (and hold) millions of frames.
	MaxAttachments = 1000
	// MaxArgs bounds the elements of an EVENT's or ACK's array, counted
	// before any is made: 1 MB of [0,0,0,…] would otherwise make 500,000
	// json.RawMessages (some 24 MB) of one message. An event's arguments
	// are a few values; an app's array goes as one of them, however long.
	MaxArgs = 1000
	// maxID is JavaScript's largest safe integer: ack ids are Numbers.
	maxID = 1<<53 - 1
)

// Errors of Decode: the input is not a Socket.IO v5 packet. socket.io
// closes the connection on each.
var (
	ErrUnknownType    = errors.New("socketio: unknown packet type")
	ErrBadAttachments = errors.New("socketio: illegal attachments")
	ErrBadID          = errors.New("socketio: illegal ack id")
	ErrBadPayload     = errors.New("socketio: invalid payload")
	ErrTooManyArgs    = errors.New("socketio: too many arguments")
)

// reserved reports whether a client may not emit an event of that name
// (socket.io-parser's RESERVED_EVENTS).
func reserved(name string) bool {
	switch name {
	case "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener":
		return true
	}
	return false
}

// Packet is one Socket.IO packet.
type Packet struct {
	Type      Type
	Namespace string // "/" when the text form names none
	// ID is the ack id when HasID.
	ID    uint64
	HasID bool
	// Data is the JSON payload, nil when absent. For an EVENT or ACK, Args
	// holds its elements (the event name first for an EVENT).
	Data json.RawMessage
	Args []json.RawMessage
	// Attachments is how many binary messages follow a BINARY_EVENT or
	// BINARY_ACK.
	Attachments int
}

// Decode decodes the text form of a packet. Data and Args alias text.
func Decode(text []byte) (Packet, error) {
	var p Packet
	// 1. The type.
	if len(text) == 0 || text[0] < '0' || text[0] > '6' {
		return p, ErrUnknownType
	}
	p.Type = Type(text[0] - '0')
	i := 1
	// 2. The attachments of a binary packet: digits then '-'.
	if p.Type == BinaryEvent || p.Type == BinaryAck {
		start := i
		for i < len(text) && text[i] >= '0' && text[i] <= '9' {
			i++
		}
		if i == start || i >= len(text) || text[i] != '-' || i-start > 4 {
			return p, ErrBadAttachments
		}
		n, _ := strconv.Atoi(string(text[start:i]))
		if n > MaxAttachments {
			return p, ErrBadAttachments
		}
		p.Attachments = n
		i++
	}
	// 3. The namespace: from '/' to ',' or the end.
	p.Namespace = "/"
	if i < len(text) && text[i] == '/' {
		start := i
		for i < len(text) && text[i] != ',' {
			i++
		}
		p.Namespace = string(text[start:i])
		if i < len(text) {
			i++ // the ','
		}
	}
	// 4. The ack id: digits.
	if start := i; i < len(text) && text[i] >= '0' && text[i] <= '9' {
		for i < len(text) && text[i] >= '0' && text[i] <= '9' {
			i++
		}
		id, err := strconv.ParseUint(string(text[start:i]), 10, 64)
		if err != nil || id > maxID {
			return p, ErrBadID
		}
		p.ID, p.HasID = id, true
	}
	// 5. The data, valid for the type.
	if i < len(text) {
		p.Data = text[i:]
	}
	if err := p.check(); err != nil {
		return Packet{}, err
	}
	return p, nil
}

// check applies socket.io-parser's isPayloadValid, and fills Args.
func (p *Packet) check() error {
	switch p.Type {
	case Connect:
		if p.Data != nil && !isObject(p.Data) {
			return ErrBadPayload
		}
	case Disconnect:
		if p.Data != nil {
			return ErrBadPayload
		}
	case ConnectError:
		if p.Data == nil || !(isObject(p.Data) || isString(p.Data)) {
			return ErrBadPayload
		}
	case Event, BinaryEvent, Ack, BinaryAck:
		// An array, of MaxArgs elements at most, before they are made.
		if p.Data == nil || !json.Valid(p.Data) {
			return ErrBadPayload
		}
		n, ok := arrayLen(p.Data)
		if !ok {
			return ErrBadPayload
		}
		if n > MaxArgs {
			return ErrTooManyArgs
		}
		p.Args = make([]json.RawMessage, 0, n)
		if json.Unmarshal(p.Data, &p.Args) != nil {
			return ErrBadPayload
		}
		if p.Type == Event || p.Type == BinaryEvent {
			if len(p.Args) == 0 {
				return ErrBadPayload
			}
			var name string
			switch first := p.Args[0]; {
			case isNumber(first):
			case json.Unmarshal(first, &name) == nil:
				if reserved(name) {
					return ErrBadPayload
				}
			default:
				return ErrBadPayload
			}
		}
	}
	return nil
}

// isObject reports whether b is a JSON object, without decoding it (a
// CONNECT's auth is checked for size after this).
func isObject(b []byte) bool {
	i := skipSpace(b, 0)
	return i < len(b) && b[i] == '{' && json.Valid(b)
}

// arrayLen returns the number of elements of b, valid JSON, and whether
// it is an array at all.
func arrayLen(b []byte) (int, bool) {
	i := skipSpace(b, 0)
	if i == len(b) || b[i] != '[' {
		return 0, false
	}
	depth, commas, empty := 0, 0, true
	for inString, escaped := false, false; i < len(b); i++ {
		c := b[i]
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			depth++
			if depth == 1 {
				continue // the array itself
			}
		case c == ']' || c == '}':
			if depth--; depth == 0 {
				if empty {
					return 0, true
				}
				return commas + 1, true
			}
		case c == ',' && depth == 1:
			commas++
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			continue
		}
		empty = false
	}
	return 0, false // not reached for valid JSON
}

// skipSpace returns the index of the first byte of b from i that is not
// JSON whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

func isString(b []byte) bool {
	var s string
	return json.Unmarshal(b, &s) == nil
}

func isNumber(b []byte) bool {
	var n json.Number
	return len(b) > 0 && (b[0] == '-' || (b[0] >= '0' && b[0] <= '9')) && json.Unmarshal(b, &n) == nil
}

// Append appends the text form of p. Data is written as it is (it must be
// JSON); Args are ignored.
func Append(dst []byte, p Packet) []byte {
	dst = append(dst, '0'+byte(p.Type))
	if p.Type == BinaryEvent || p.Type == BinaryAck {
		dst = strconv.AppendInt(dst, int64(p.Attachments), 10)
		dst = append(dst, '-')
	}
	if p.Namespace != "" && p.Namespace != "/" {
		dst = append(dst, p.Namespace...)
		dst = append(dst, ',')
	}
	if p.HasID {
		dst = strconv.AppendUint(dst, p.ID, 10)
	}
	return append(dst, p.Data...)
}

// EncodeArray appends the JSON array of elems: the Data of an EVENT or ACK.
func EncodeArray(dst []byte, elems []json.RawMessage) []byte {
	dst = append(dst, '[')
	for i, e := range elems {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, e...)
	}
	return append(dst, ']')
}

// Placeholder returns the JSON that stands for attachment num.
func Placeholder(num int) json.RawMessage {
	return json.RawMessage(`{"_placeholder":true,"num":` + strconv.Itoa(num) + `}`)
}

// PlaceholderNum reports whether raw is a placeholder, and for which
// attachment.
func PlaceholderNum(raw json.RawMessage) (int, bool) {
	if len(raw) == 0 || raw[0] != '{' {
		return 0, false
	}
	var ph struct {
		Placeholder bool `json:"_placeholder"`
		Num         *int `json:"num"`
	}
	if json.Unmarshal(raw, &ph) != nil || !ph.Placeholder || ph.Num == nil || *ph.Num < 0 {
		return 0, false
	}
	return *ph.Num, true
}
