package wsconn

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"io"
	"sync"
)

// permessage-deflate (RFC 7692), always without context takeover on either
// side: each message is deflated and inflated alone, so a connection keeps
// no sliding window between messages and its memory stays flat however
// long it lives. Gorilla negotiates it (Upgrader.EnableCompression answers
// "permessage-deflate; server_no_context_takeover;
// client_no_context_takeover") and inflates with stdlib compress/flate;
// what is here bounds the inflated size and builds a broadcast's
// compressed frame once.

// DefaultDeflateThreshold is the size in bytes below which a message goes
// uncompressed, as ws's perMessageDeflate threshold (engine.io's default
// when perMessageDeflate is enabled): deflating a short message costs more
// CPU than the bytes it saves.
const DefaultDeflateThreshold = 1024

// deflateLevel is the level gorilla writes with (its default, BestSpeed):
// a broadcast's frame is compressed the same way a single message is.
const deflateLevel = flate.BestSpeed

// ErrInflateLimit is the error of a read whose compressed message
// inflates to more than Options.ReadLimit: the connection is closed with
// 1009, as for a message over the limit on the wire.
var ErrInflateLimit = errors.New("wsconn: inflated message over the read limit")

// Deflate turns permessage-deflate on for a connection (Options.Deflate),
// when the client offers it. A nil *Deflate is off: no extension is
// negotiated and a frame with RSV1 is a protocol error (1002).
type Deflate struct {
	// Threshold is the size in bytes from which a message is compressed
	// (DefaultDeflateThreshold when 0; a negative one compresses every
	// message).
	Threshold int
}

// threshold is d's Threshold with its default.
func (d *Deflate) threshold() int {
	switch {
	case d.Threshold == 0:
		return DefaultDeflateThreshold
	case d.Threshold < 0:
		return 0
	}
	return d.Threshold
}

// Message is a text message sent to many connections (Conn.SendMessage):
// its frame is built once, and its compressed frame once too, the first
// time a connection that negotiated permessage-deflate needs it, however
// many connections it goes to.
type Message struct {
	data     []byte
	compress bool

	plainOnce sync.Once
	plain     []byte
	zOnce     sync.Once
	z         []byte
}

// NewMessage returns msg as a Message, compressed for the connections that
// negotiated permessage-deflate when compress is true and msg reaches
// their threshold (socket.io's compress flag, true by default). msg is
// never modified and must not be afterwards.
func NewMessage(msg []byte, compress bool) *Message {
	return &Message{data: msg, compress: compress}
}

// Data returns the message's text.
func (m *Message) Data() []byte { return m.data }

// Compress returns the message's compress flag.
func (m *Message) Compress() bool { return m.compress }

// frame returns the message framed for a connection: compressed when z,
// with a compressor of pool's.
func (m *Message) frame(z bool, pool *sync.Pool) []byte {
	if z {
		m.zOnce.Do(func() { m.z = deflateFrame(m.data, pool) })
		return m.z
	}
	m.plainOnce.Do(func() { m.plain = textFrame(m.data) })
	return m.plain
}

// deflateFrame frames msg as a server's final, unmasked text frame with
// RSV1, its payload deflated without context takeover: the stream's sync
// flush with its final 00 00 ff ff left off (RFC 7692 §7.2.1). A
// compressor is most of a megabyte to make, so pool keeps them (the
// hub's: Hub.deflaters).
func deflateFrame(msg []byte, pool *sync.Pool) []byte {
	var z bytes.Buffer
	z.Grow(len(msg)/2 + 16)
	fw, _ := pool.Get().(*flate.Writer)
	if fw == nil {
		fw, _ = flate.NewWriter(&z, deflateLevel) // the level is valid
	} else {
		fw.Reset(&z)
	}
	fw.Write(msg) // a bytes.Buffer does not fail
	fw.Flush()
	fw.Reset(nil) // the pool keeps no buffer of z
	pool.Put(fw)
	p := bytes.TrimSuffix(z.Bytes(), []byte{0, 0, 0xff, 0xff})
	return appendFrameHeader(make([]byte, 0, 10+len(p)), 0xc1, len(p), p)
}

// appendFrameHeader appends a server's frame of first byte b0 and payload
// p (of length n) to f.
func appendFrameHeader(f []byte, b0 byte, n int, p []byte) []byte {
	switch {
	case n < 126:
		f = append(f, b0, byte(n))
	case n < 1<<16:
		f = append(f, b0, 126, byte(n>>8), byte(n))
	default:
		f = append(f, b0, 127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	return append(f, p...)
}

// readBounded reads r to its end, failing with ErrInflateLimit past limit
// bytes: an inflating reader is read no further than that, so a deflate
// bomb costs at most limit bytes, never what it would inflate to.
func readBounded(r io.Reader, limit int64) ([]byte, error) {
	msg, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(msg)) > limit {
		return nil, ErrInflateLimit
	}
	return msg, nil
}
