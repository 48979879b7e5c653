package wsconn

import (
	"encoding/binary"
	"errors"
	"syscall"
	"time"
)

// A lingering close (RFC 6455 §7.1.1). Closing a TCP socket that still
// holds unread input makes the kernel answer with RST, and a client that
// is still sending when the server closes may then lose what the server
// wrote last: the close frame, and the protocol's goodbye before it. So
// once the server has written its close frame it shuts down its write half
// (the client reads the close frame, then EOF), and goes on reading and
// dropping what the client sends, through the poller as ever (no goroutine
// while nothing arrives), until the client's close frame, EOF, an error,
// lingerBudget bytes or lingerTimeout: then it closes the socket.
// Net/http does the same for an unread request body, Node's ws and Go's
// websocket libraries for their close handshake.

const (
	// lingerTimeout bounds the wait for the client's close: a client
	// answers a close frame in a round trip; a hostile one is cut here.
	lingerTimeout = 2 * time.Second
	// lingerBudget bounds the bytes read and dropped meanwhile (into no
	// buffer of their own: it costs time, not memory). Above what a
	// client flooding on loopback has in flight when it reads the close
	// (up to 3.8 MiB was seen: the kernel's window grows to megabytes).
	lingerBudget = 8 << 20
)

// lingerState is what the lingering reader knows of the client's frames,
// guarded by Conn.readMu.
type lingerState struct {
	on     bool // linger has begun: readers read and drop
	hungUp bool // the socket is closed
	left   int  // bytes the budget still allows
	hdr    [14]byte
	got    int   // header bytes of the frame being read
	skip   int64 // payload bytes of it to drop
	timer  *time.Timer
}

// closeWriter is a connection whose write half can be shut down:
// *net.TCPConn.
type closeWriter interface{ CloseWrite() error }

// beginLinger is the writer's, once the close frame is written: it shuts
// down the write half, bounds any read in progress by the linger timeout
// and marks c lingering, so that finish keeps the socket open. A
// connection without a descriptor to poll closes at once instead.
func (c *Conn) beginLinger() {
	cw, ok := c.fc.Conn.(closeWriter)
	if !ok || c.raw == nil || c.blocking.Load() {
		return
	}
	c.lingering.Store(true) // first: a reader meeting an error now leaves the socket open
	cw.CloseWrite()
	c.fc.Conn.SetReadDeadline(time.Now().Add(lingerTimeout))
}

// linger starts the lingering reads; finish calls it with c.readMu held,
// once c has left the hub, having added the socket to the hub's
// WaitGroup (Shutdown waits for it) until hangUp.
func (c *Conn) linger() {
	l := &c.lg
	l.on, l.left = true, lingerBudget
	// A frame gorilla had begun: the rest of its payload comes first.
	l.skip, c.fc.replay = c.fc.remain, nil
	l.timer = time.AfterFunc(lingerTimeout, func() {
		c.readMu.Lock()
		defer c.readMu.Unlock()
		c.hangUp()
	})
	c.lingerRead()
}

// lingerRead reads and drops what the client has sent, without waiting,
// then re-arms the poller; or it closes the socket (hangUp) when the
// client closed, erred or spent the budget. Called with c.readMu held.
func (c *Conn) lingerRead() {
	l := &c.lg
	var buf [2048]byte
	for !l.hungUp {
		var n int
		var err error
		c.raw.Read(func(fd uintptr) bool {
			n, err = syscall.Read(int(fd), buf[:])
			return true // one attempt: the poller says when there is more
		})
		if errors.Is(err, syscall.EAGAIN) {
			c.poll.rearm(c)
			return
		}
		if err != nil || n <= 0 || c.dropFrames(buf[:n]) {
			c.hangUp()
			return
		}
		if l.left -= n; l.left <= 0 {
			c.hangUp()
			return
		}
	}
}

// dropFrames follows the client's frames through b and reports whether a
// close frame has begun.
func (c *Conn) dropFrames(b []byte) (closeFrame bool) {
	l := &c.lg
	for {
		if l.got >= 2 && l.got == frameHeaderLen(l.hdr[1]) {
			if l.hdr[0]&0x0f == 8 {
				return true
			}
			l.skip, l.got = framePayloadLen(l.hdr[:l.got]), 0
		}
		if len(b) == 0 {
			return false
		}
		if l.skip > 0 {
			k := min(int64(len(b)), l.skip)
			b, l.skip = b[k:], l.skip-k
			continue
		}
		need := 2
		if l.got >= 2 {
			need = frameHeaderLen(l.hdr[1])
		}
		k := copy(l.hdr[l.got:need], b)
		b, l.got = b[k:], l.got+k
	}
}

// frameHeaderLen is the length of a frame's header from its second byte
// (RFC 6455 §5.2).
func frameHeaderLen(b1 byte) int {
	n := 2
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4
	}
	return n
}

// framePayloadLen is the payload length a whole header announces.
func framePayloadLen(hdr []byte) int64 {
	switch n := hdr[1] & 0x7f; n {
	case 126:
		return int64(binary.BigEndian.Uint16(hdr[2:4]))
	case 127:
		return int64(binary.BigEndian.Uint64(hdr[2:10]) & (1<<63 - 1))
	default:
		return int64(n)
	}
}

// hangUp closes a lingering connection's socket, once. Called with
// c.readMu held.
func (c *Conn) hangUp() {
	l := &c.lg
	if l.hungUp {
		return
	}
	l.hungUp = true
	l.timer.Stop()
	c.poll.remove(c) // before the close, so the descriptor cannot be reused while armed
	c.ws.Close()
	c.h.wg.Done()
}
