package wsconn

import (
	"encoding/binary"
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// frameConn is the connection gorilla reads from. It reads every frame's
// header itself, for two reasons:
//
//   - gorilla's buffer then never holds more than the frame being read, so
//     "the socket is readable" (from epoll) is the same as "a frame has
//     begun": no frame can wait unseen in a buffer.
//   - pings and pongs are answered here. gorilla handles control frames
//     inside NextReader and then waits for a data frame, so a lone pong
//     would keep a goroutine blocked in it: the cost an idle connection
//     must not have.
//
// Data, continuation and close frames, and any malformed frame, are handed
// to gorilla, which validates them. Only the connection's one reader uses
// a frameConn's read side.
type frameConn struct {
	net.Conn
	hdr    [14]byte
	replay []byte // header bytes gorilla has not read yet
	remain int64  // payload bytes of gorilla's frame it has not read yet

	onFrame func()               // any frame began
	onPing  func(payload []byte) // a ping arrived; the payload is the callee's

	// The 101 response is held back and written with the first frame (the
	// hello): one write, one segment, one wake-up of the client instead of
	// two. corked is set until held has been written.
	corked  atomic.Bool
	holdMu  sync.Mutex
	holding bool   // the upgrade is writing: hold what it writes
	held    []byte // written before the next bytes
}

// heldCap fits the 101 response and a short first frame (the hello), so
// that holding costs one allocation.
const heldCap = 512

// Write writes p, after the held 101 response if it is still waiting.
func (f *frameConn) Write(p []byte) (int, error) {
	if !f.corked.Load() {
		return f.Conn.Write(p)
	}
	f.holdMu.Lock()
	defer f.holdMu.Unlock()
	if f.holding {
		if f.held == nil {
			f.held = make([]byte, 0, heldCap)
		}
		f.held = append(f.held, p...) // a copy: gorilla reuses its buffer
		return len(p), nil
	}
	if len(f.held) == 0 {
		f.corked.Store(false)
		return f.Conn.Write(p)
	}
	b := append(f.held, p...)
	f.held = nil
	f.corked.Store(false)
	if n, err := f.Conn.Write(b); err != nil {
		return max(n-(len(b)-len(p)), 0), err
	}
	return len(p), nil
}

// release ends the upgrade's hold: the held bytes go out with the next
// write, or with flush.
func (f *frameConn) release() {
	f.holdMu.Lock()
	f.holding = false
	f.holdMu.Unlock()
}

// flush writes the held bytes now, if no write has taken them yet.
func (f *frameConn) flush() error {
	if !f.corked.Load() {
		return nil
	}
	_, err := f.Write(nil)
	return err
}

// Read gives gorilla the current frame's bytes, never more. At a frame
// boundary (gorilla wants the next fragment of a message) it reads on to
// the next frame gorilla must see.
func (f *frameConn) Read(p []byte) (int, error) {
	for {
		if len(f.replay) > 0 {
			n := copy(p, f.replay)
			f.replay = f.replay[n:]
			return n, nil
		}
		if f.remain > 0 {
			if int64(len(p)) > f.remain {
				p = p[:f.remain]
			}
			n, err := f.Conn.Read(p)
			f.remain -= int64(n)
			return n, err
		}
		if _, err := f.next(); err != nil {
			return 0, err
		}
	}
}

// next reads one frame header from the socket. For a ping or pong it
// consumes the frame and returns false; otherwise it keeps the header for
// gorilla to read and returns true.
func (f *frameConn) next() (forGorilla bool, err error) {
	// A client's frame is masked, so at least 6 bytes long: one read takes
	// the whole header of the usual short frame. (An unmasked frame is
	// refused by gorilla below, and its connection ends.)
	const least = 6
	if _, err := io.ReadFull(f.Conn, f.hdr[:least]); err != nil {
		return false, err
	}
	f.onFrame()
	b0, b1 := f.hdr[0], f.hdr[1]
	h, n := 2, int64(b1&0x7f)
	switch n {
	case 126:
		h += 2
	case 127:
		h += 8
	}
	masked := b1&0x80 != 0
	if masked {
		h += 4
	}
	if h > least {
		if _, err := io.ReadFull(f.Conn, f.hdr[least:h]); err != nil {
			return false, err
		}
	}
	switch n {
	case 126:
		n = int64(binary.BigEndian.Uint16(f.hdr[2:4]))
	case 127:
		n = int64(binary.BigEndian.Uint64(f.hdr[2:10]) & (1<<63 - 1))
	}
	op := b0 & 0x0f
	// A well-formed ping or pong from a client: final, no extension bits,
	// masked, at most 125 bytes. Anything else goes to gorilla to refuse.
	if (op == 9 || op == 10) && b0&0xf0 == 0x80 && masked && n <= 125 {
		if op == 10 { // a pong: its payload is of no use
			_, err := io.CopyN(io.Discard, f.Conn, n)
			return false, err
		}
		// Clients seldom ping, so the buffer is not kept with the connection.
		payload := make([]byte, n)
		if _, err := io.ReadFull(f.Conn, payload); err != nil {
			return false, err
		}
		key := f.hdr[h-4 : h]
		for i := range payload {
			payload[i] ^= key[i&3]
		}
		f.onPing(payload)
		return false, nil
	}
	// Everything read goes to gorilla: an unmasked frame's header is shorter
	// than what was read, and gorilla refuses the frame at its header.
	read := max(h, least)
	f.replay, f.remain = f.hdr[:read], max(n-int64(read-h), 0)
	return true, nil
}
