//go:build linux

package bench

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
)

// The fan-out floor: what writing one frame to N sockets costs with
// nothing around it. ServeFloor accepts WebSocket handshakes without any
// authentication, greets each with a hello frame, and when any client sends
// a text message, writes that message, framed once, to every connection
// with a bare loop of write(2) calls on their descriptors. The fan-out run
// starts it as `ebload floor` and measures its CPU as it does a server's.

// floorHello is what the floor greets with (no user: it knows none).
var floorHello = serverText([]byte(`{"type":"hello","user":""}`))

// ServeFloor serves the floor on ln until it fails; log gets one line per
// broadcast that could not reach every connection.
func ServeFloor(ln net.Listener, log io.Writer) error {
	f := &floor{log: log}
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go f.serve(c)
	}
}

type floor struct {
	log io.Writer
	mu  sync.Mutex
	fds []int
}

func (f *floor) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReaderSize(c, 4096)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	key := req.Header.Get("Sec-Websocket-Key")
	if key == "" {
		io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
		return
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n"
	fd := -1
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			raw.Control(func(x uintptr) { fd = int(x) })
		}
	}
	if fd < 0 {
		return
	}
	// The hello and the registration under the broadcast's lock: a
	// broadcast reaches every client that has its hello, after it.
	f.mu.Lock()
	_, err = c.Write(append([]byte(resp), floorHello...))
	if err == nil {
		f.fds = append(f.fds, fd)
	}
	f.mu.Unlock()
	if err != nil {
		return
	}
	defer f.forget(fd)
	for {
		op, payload, err := readClientFrame(br)
		if err != nil {
			return
		}
		switch op {
		case 1:
			f.broadcast(serverText(payload))
		case 8:
			return
		}
	}
}

func (f *floor) forget(fd int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, x := range f.fds {
		if x == fd {
			f.fds = append(f.fds[:i], f.fds[i+1:]...)
			return
		}
	}
}

// broadcast is the floor itself: one write(2) per connection.
func (f *floor) broadcast(frame []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	short := 0
	for _, fd := range f.fds {
		if n, err := syscall.Write(fd, frame); err != nil || n != len(frame) {
			short++
		}
	}
	if short > 0 {
		fmt.Fprintf(f.log, "floor: %d of %d writes short or failed\n", short, len(f.fds))
	}
}

// serverText frames payload as a server does: unmasked, final, text.
func serverText(payload []byte) []byte {
	out := make([]byte, 0, len(payload)+10)
	out = append(out, 0x81)
	switch n := len(payload); {
	case n < 126:
		out = append(out, byte(n))
	case n < 1<<16:
		out = append(out, 126, byte(n>>8), byte(n))
	default:
		out = append(out, 127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	return append(out, payload...)
}

// readClientFrame reads one masked client frame and unmasks it.
func readClientFrame(br *bufio.Reader) (byte, []byte, error) {
	var h [14]byte
	if _, err := io.ReadFull(br, h[:2]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		if _, err := io.ReadFull(br, h[2:4]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(h[2:4]))
	case 127:
		if _, err := io.ReadFull(br, h[2:10]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(h[2:10])
	}
	if h[1]&0x80 == 0 || n > 1<<20 {
		return 0, nil, errors.New("unmasked or oversized client frame")
	}
	var key [4]byte
	if _, err := io.ReadFull(br, key[:]); err != nil {
		return 0, nil, err
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(br, payload); err != nil {
		return 0, nil, err
	}
	for i := range payload {
		payload[i] ^= key[i&3]
	}
	return h[0] & 0x0f, payload, nil
}
