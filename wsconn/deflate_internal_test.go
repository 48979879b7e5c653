package wsconn

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
)

// inflate reads a compressed message's payload as gorilla does (the RFC
// 7692 tail appended, a flate reader), bounded as readMessage bounds it.
func inflate(payload []byte, limit int64) ([]byte, error) {
	r := flate.NewReader(io.MultiReader(bytes.NewReader(payload), strings.NewReader("\x00\x00\xff\xff\x01\x00\x00\xff\xff")))
	defer r.Close()
	return readBounded(r, limit)
}

// FuzzInflate: whatever a client sends as a compressed payload, the read
// takes at most the limit (or fails), and never panics; and any text the
// server compresses (deflateFrame) inflates back to itself.
func FuzzInflate(f *testing.F) {
	for _, s := range [][]byte{nil, {0}, {0x4b, 0x4c, 0x4a, 0x06, 0}, deflateFrame([]byte("hello hello hello"), &sync.Pool{})[2:],
		deflateFrame(make([]byte, 1<<16), &sync.Pool{})[4:]} {
		f.Add(s)
	}
	const limit = 4096
	var pool sync.Pool
	f.Fuzz(func(t *testing.T, payload []byte) {
		msg, err := inflate(payload, limit)
		if err == nil && len(msg) > limit {
			t.Fatalf("%d bytes read past the limit %d", len(msg), limit)
		}
		if errors.Is(err, ErrInflateLimit) && msg != nil {
			t.Fatal("a message returned with ErrInflateLimit")
		}
		frame := deflateFrame(payload, &pool)
		if frame[0] != 0xc1 {
			t.Fatalf("first byte %#x, want FIN, RSV1, text", frame[0])
		}
		h := 2
		switch frame[1] {
		case 126:
			h = 4
		case 127:
			h = 10
		}
		back, err := inflate(frame[h:], int64(len(payload)))
		if err != nil || !bytes.Equal(back, payload) {
			t.Fatalf("round trip of %d bytes: %d bytes, %v", len(payload), len(back), err)
		}
	})
}

// BenchmarkDeflateFrame: the server's cost of compressing one broadcast
// (once, however many connections get it) of a 4 KiB JSON-like text,
// against framing it plain.
func BenchmarkDeflateFrame(b *testing.B) {
	var sb strings.Builder
	for i := 0; sb.Len() < 4096; i++ {
		fmt.Fprintf(&sb, `{"id":%d,"name":"user-%d","state":"online"},`, i, i)
	}
	msg := []byte(sb.String())
	b.Run("plain", func(b *testing.B) {
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		for range b.N {
			textFrame(msg)
		}
	})
	b.Run("deflate", func(b *testing.B) {
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		var n int
		var pool sync.Pool
		for range b.N {
			n = len(deflateFrame(msg, &pool))
		}
		b.ReportMetric(float64(n), "frame-B")
	})
}
