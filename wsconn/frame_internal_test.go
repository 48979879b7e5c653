package wsconn

import (
	"bytes"
	"testing"
)

// TestTextFrame checks Broadcast's framing (RFC 6455 §5.2) at each
// payload-length encoding's edges: FIN and text, no mask, then the payload.
func TestTextFrame(t *testing.T) {
	for _, tc := range []struct {
		n      int
		header []byte
	}{
		{0, []byte{0x81, 0}},
		{125, []byte{0x81, 125}},
		{126, []byte{0x81, 126, 0, 126}},
		{65535, []byte{0x81, 126, 0xff, 0xff}},
		{65536, []byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
	} {
		msg := bytes.Repeat([]byte{'x'}, tc.n)
		got := textFrame(msg)
		if !bytes.Equal(got[:len(tc.header)], tc.header) || !bytes.Equal(got[len(tc.header):], msg) {
			t.Errorf("%d bytes: frame begins %x, want %x then the payload", tc.n, got[:min(len(got), 10)], tc.header)
		}
	}
}
