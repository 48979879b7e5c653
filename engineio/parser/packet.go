// Package parser is the Engine.IO v4 (EIO=4) packet codec: packets as
// they travel in WebSocket frames and in HTTP long-polling payloads. It
// does no I/O; the server that speaks the protocol is package engineio.
//
// A packet is a type (one ASCII digit) and its data. On WebSocket each
// packet is one frame: a text frame "4hello", or a binary frame whose bytes
// are a binary MESSAGE. On long-polling a payload joins packets with the
// record separator \x1e; a binary MESSAGE travels as "b" + base64 (standard
// alphabet, padded).
package parser

import (
	"bytes"
	"encoding/base64"
	"errors"
)

// Type is an Engine.IO packet type.
type Type byte

// The packet types of protocol version 4.
const (
	Open    Type = '0' // server → client: the handshake
	Close   Type = '1' // either way: the session ends
	Ping    Type = '2' // server → client (and "2probe" client → server during an upgrade)
	Pong    Type = '3' // client → server (and "3probe" server → client)
	Message Type = '4' // either way: the data
	Upgrade Type = '5' // client → server: the upgrade to WebSocket is done
	Noop    Type = '6' // server → client: ends a pending poll during an upgrade
)

// Separator joins the packets of a long-polling payload.
const Separator = '\x1e'

// Protocol is the protocol version this package speaks (the EIO query parameter).
const Protocol = 4

// MaxPackets bounds the packets of one payload DecodePayload takes: a
// payload of "6\x1e6\x1e…" would otherwise make a 40-byte Packet of every
// 2 bytes of input (500,000 of them from 1 MB). 10,000 is more than a
// client sends in one POST (socket.io-client sends one at a time, with
// what its app emitted meanwhile; a binary event of socketio/parser's
// 1,000 attachments fits ten times), and its 400 KB of Packets stay below
// the 1 MB payload they come from.
const MaxPackets = 10_000

// Errors of the decoders: the input is not Engine.IO v4. They describe the
// peer's bytes, never a system failure.
var (
	ErrEmpty       = errors.New("engineio: empty packet")
	ErrUnknownType = errors.New("engineio: unknown packet type")
	ErrBadBase64   = errors.New("engineio: binary packet is not valid base64")
	ErrTooLarge    = errors.New("engineio: payload over the size limit")
	// ErrTooManyPackets: a payload of more than MaxPackets packets,
	// refused before any is decoded.
	ErrTooManyPackets = errors.New("engineio: payload of too many packets")
)

// Packet is one Engine.IO packet. Binary is set for a binary MESSAGE (a
// binary WebSocket frame, or "b"+base64 on polling). Data may alias the
// decoder's input.
type Packet struct {
	Type   Type
	Data   []byte
	Binary bool
}

// Valid reports whether t is a packet type of protocol 4.
func (t Type) Valid() bool { return t >= Open && t <= Noop }

// DecodeText decodes a WebSocket text frame (or one packet of a payload
// without the binary prefix). Data aliases frame.
func DecodeText(frame []byte) (Packet, error) {
	// 1. A type, at least.
	if len(frame) == 0 {
		return Packet{}, ErrEmpty
	}
	// 2. One of the seven types.
	t := Type(frame[0])
	if !t.Valid() {
		return Packet{}, ErrUnknownType
	}
	return Packet{Type: t, Data: frame[1:]}, nil
}

// DecodeBinary decodes a WebSocket binary frame: always a binary MESSAGE.
func DecodeBinary(frame []byte) Packet {
	return Packet{Type: Message, Data: frame, Binary: true}
}

// AppendText appends the text form of p (type then data) for a WebSocket
// text frame. A binary packet has no text form on WebSocket: send its Data
// as a binary frame.
func AppendText(dst []byte, p Packet) []byte {
	dst = append(dst, byte(p.Type))
	return append(dst, p.Data...)
}

// DecodePayload splits a long-polling payload into its packets, refusing
// payloads over maxBytes (0: no limit) and of more than MaxPackets
// packets, both before any allocation. Text packets' Data alias payload;
// binary ones are fresh.
func DecodePayload(payload []byte, maxBytes int) ([]Packet, error) {
	// 1. The limits, before any work: the bytes, then the packets.
	if maxBytes > 0 && len(payload) > maxBytes {
		return nil, ErrTooLarge
	}
	n := bytes.Count(payload, []byte{Separator}) + 1
	if n > MaxPackets {
		return nil, ErrTooManyPackets
	}
	out := make([]Packet, 0, n)
	// 2. Each packet, up to the next separator.
	for start := 0; start <= len(payload); {
		end := start
		for end < len(payload) && payload[end] != Separator {
			end++
		}
		part := payload[start:end]
		start = end + 1
		// 3. "b" + base64: a binary message.
		if len(part) > 0 && part[0] == 'b' {
			data := make([]byte, base64.StdEncoding.DecodedLen(len(part)-1))
			n, err := base64.StdEncoding.Decode(data, part[1:])
			if err != nil {
				return nil, ErrBadBase64
			}
			out = append(out, Packet{Type: Message, Data: data[:n], Binary: true})
			continue
		}
		// 4. Otherwise a text packet.
		p, err := DecodeText(part)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// EncodedLen is the length of p in a long-polling payload, without its
// separator: what AppendPayload writes for it.
func EncodedLen(p Packet) int {
	if p.Binary {
		return 1 + base64.StdEncoding.EncodedLen(len(p.Data))
	}
	return 1 + len(p.Data)
}

// PayloadLen is the length of the long-polling payload of packets.
func PayloadLen(packets []Packet) int {
	n := 0
	for i, p := range packets {
		if i > 0 {
			n++ // the separator
		}
		n += EncodedLen(p)
	}
	return n
}

// Fit returns how many of packets, from the first, make a payload of at
// most maxBytes: the rule engine.io-client applies to its POSTs under the
// server's maxPayload (stop before the packet that would pass the limit),
// and a server's GETs under its own. It is at least one when there are
// packets, however large the first; maxBytes <= 0 takes them all.
func Fit(packets []Packet, maxBytes int) int {
	if maxBytes <= 0 {
		return len(packets)
	}
	n := 0
	for i, p := range packets {
		if i > 0 {
			n++ // the separator
		}
		if n += EncodedLen(p); i > 0 && n > maxBytes {
			return i
		}
	}
	return len(packets)
}

// AppendPayload appends the long-polling payload of packets: each in its
// text form, a binary one as "b"+base64, separated by \x1e.
func AppendPayload(dst []byte, packets []Packet) []byte {
	for i, p := range packets {
		if i > 0 {
			dst = append(dst, Separator)
		}
		if p.Binary {
			dst = append(dst, 'b')
			dst = base64.StdEncoding.AppendEncode(dst, p.Data)
			continue
		}
		dst = AppendText(dst, p)
	}
	return dst
}
