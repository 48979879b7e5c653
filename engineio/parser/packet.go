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

// Errors of the decoders: the input is not Engine.IO v4. They describe the
// peer's bytes, never a system failure.
var (
	ErrEmpty       = errors.New("engineio: empty packet")
	ErrUnknownType = errors.New("engineio: unknown packet type")
	ErrBadBase64   = errors.New("engineio: binary packet is not valid base64")
	ErrTooLarge    = errors.New("engineio: payload over the size limit")
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
// payloads over maxBytes (0: no limit). Text packets' Data alias payload;
// binary ones are fresh.
func DecodePayload(payload []byte, maxBytes int) ([]Packet, error) {
	// 1. The limit, before any work.
	if maxBytes > 0 && len(payload) > maxBytes {
		return nil, ErrTooLarge
	}
	var out []Packet
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
