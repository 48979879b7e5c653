package parser

import (
	"encoding/json"
	"strconv"
)

// Handshake is the data of the OPEN packet the server sends first.
// Durations are in milliseconds, as the protocol writes them.
type Handshake struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int64    `json:"pingInterval"`
	PingTimeout  int64    `json:"pingTimeout"`
	MaxPayload   int64    `json:"maxPayload"`
}

// OpenPacket returns the OPEN packet of h.
func OpenPacket(h Handshake) Packet {
	if h.Upgrades == nil {
		h.Upgrades = []string{}
	}
	data, _ := json.Marshal(h) // strings and numbers only: cannot fail
	return Packet{Type: Open, Data: data}
}

// ParseVersion reads the EIO query parameter: ok only for protocol 4.
func ParseVersion(v string) (version int, ok bool) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, false
	}
	return n, n == Protocol
}
