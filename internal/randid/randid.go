// Package randid makes the random IDs of Engine.IO sessions and Socket.IO
// sockets: 15 random bytes, 20 characters of base64url, as engine.io's
// and socket.io's own are unguessable.
package randid

import (
	"crypto/rand"
	"encoding/base64"
)

// New returns a fresh random ID.
func New() string {
	var b [15]byte
	rand.Read(b[:]) // never fails (crypto/rand's contract since Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b[:])
}
