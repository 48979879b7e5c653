//go:build linux

package bench

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The raw client: many idle authenticated connections held as bare file
// descriptors in one epoll set, for the fan-out and the 100,000-connection
// hold, where a gorilla connection and a goroutine per client would cost
// the load generator more memory than the server under test. Handshakes
// are blocking system calls on a few worker goroutines; once a hello has
// arrived the descriptor joins the epoll set, read by one goroutine that
// counts the data frames delivered, answers WebSocket pings and Engine.IO
// pings, and notices connections that end.

// ipBindAddressNoPort lets bind(addr, port 0) leave the port to connect,
// which picks it per destination: many more than 28,000 connections from
// one source address to different ports, and no bind-time exhaustion.
const ipBindAddressNoPort = 24

// rawReadBuf is the reader's buffer: large enough for a burst of small
// frames from one socket.
const rawReadBuf = 64 << 10

// RawPool holds raw WebSocket (or Socket.IO over WebSocket) connections to
// one server.
type RawPool struct {
	port    int
	path    string // request target
	proto   Protocol
	sources [][4]byte // local addresses, round-robin; none: the kernel's choice
	host    string

	ep    int
	mu    sync.Mutex
	conns map[int32]*rawConn
	next  atomic.Uint64 // round-robin over sources

	delivered atomic.Int64 // data frames received after the hello (Engine.IO pings not counted)
	ended     atomic.Int64 // connections that ended from the server's side
	endedCh   chan int     // session indexes of ended connections, when asked
	stop      atomic.Bool
	done      chan struct{}
}

type rawConn struct {
	fd      int32
	session int32  // index of the session it was opened with
	part    []byte // an incomplete frame; nil between frames
}

// NewRawPool returns a pool of connections to 127.0.0.1:port. Plain
// WebSocket connections are opened at path; Socket.IO at
// /socket.io/?EIO=4&transport=websocket. With sources, each connection
// binds the next of them (127.0.0.x) as its local address.
func NewRawPool(port int, path string, proto Protocol, sources [][4]byte) (*RawPool, error) {
	if proto == SocketIO {
		path = "/socket.io/?EIO=4&transport=websocket"
	}
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	p := &RawPool{port: port, path: path, proto: proto, sources: sources, host: "127.0.0.1:" + strconv.Itoa(port),
		ep: ep, conns: make(map[int32]*rawConn), done: make(chan struct{})}
	go p.loop()
	return p, nil
}

// Len is the number of connections held.
func (p *RawPool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Delivered is the number of data frames received after the hellos.
func (p *RawPool) Delivered() int64 { return p.delivered.Load() }

// Ended is the number of connections the server (or the network) ended.
func (p *RawPool) Ended() int64 { return p.ended.Load() }

// OnEnd makes the pool send the session index of every connection that
// ends to ch (which must have room for all of them).
func (p *RawPool) OnEnd(ch chan int) {
	p.mu.Lock()
	p.endedCh = ch
	p.mu.Unlock()
}

// Open opens n connections, session (base+i) % len(sessions) for the i-th,
// with workers goroutines, until limit has passed. It returns the failures
// and whether it ran out of time.
func (p *RawPool) Open(sessions []Session, base, n, workers int, limit time.Duration) (Failures, bool) {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = (base + i) % len(sessions)
	}
	return p.OpenSessions(sessions, idx, workers, limit, 0)
}

// OpenSessions opens one connection for each session index in idx. A dial
// the server refuses at the TCP level (nothing listens yet) is retried
// every retry until limit when retry > 0; refusals by the server (an HTTP
// status, a CONNECT_ERROR) are failures, never retried.
func (p *RawPool) OpenSessions(sessions []Session, idx []int, workers int, limit time.Duration, retry time.Duration) (Failures, bool) {
	var next atomic.Int64
	fails := make([]Failures, workers)
	deadline := time.Now().Add(limit)
	var aborted atomic.Bool
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(idx) {
					return
				}
				for {
					if time.Now().After(deadline) {
						aborted.Store(true)
						return
					}
					err := p.open(&sessions[idx[i]], idx[i])
					if err == nil {
						break
					}
					if retry > 0 && errors.Is(err, syscall.ECONNREFUSED) {
						time.Sleep(retry)
						continue
					}
					fails[w].add(err)
					break
				}
			}
		}()
	}
	wg.Wait()
	var f Failures
	for _, x := range fails {
		f.merge(x)
	}
	return f, aborted.Load()
}

// open dials and authenticates one connection and adds it to the epoll set.
func (p *RawPool) open(s *Session, si int) error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return &Error{FailDial, err}
	}
	ok := false
	defer func() {
		if !ok {
			syscall.Close(fd)
		}
	}()
	tv := syscall.NsecToTimeval(int64(handshakeTimeout))
	_ = syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
	_ = syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_SNDTIMEO, &tv)
	if len(p.sources) > 0 {
		_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
		src := p.sources[p.next.Add(1)%uint64(len(p.sources))]
		if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: src}); err != nil {
			return &Error{FailDial, fmt.Errorf("bind %v: %w", src, err)}
		}
	}
	if err := connect(fd, p.port); err != nil {
		return &Error{FailDial, fmt.Errorf("connect: %w", err)}
	}
	req := "GET " + p.path + " HTTP/1.1\r\nHost: " + p.host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nCookie: " +
		s.Cookie + "\r\n\r\n"
	if err := writeAll(fd, []byte(req)); err != nil {
		return &Error{FailDial, fmt.Errorf("writing the request: %w", err)}
	}
	r := rawReader{fd: fd}
	head, err := r.until([]byte("\r\n\r\n"))
	if err != nil {
		return &Error{FailDial, fmt.Errorf("reading the response: %w", err)}
	}
	if !bytes.HasPrefix(head, []byte("HTTP/1.1 101 ")) {
		line, _, _ := bytes.Cut(head, []byte("\r\n"))
		return &Error{FailRefused, fmt.Errorf("%s", line)}
	}
	switch p.proto {
	case SocketIO:
		err = r.socketIOHello(s.User)
	case Bare:
		_, err = r.text()
	default:
		var msg []byte
		if msg, err = r.text(); err == nil && !isHello(msg, s.User) {
			err = &Error{FailHello, fmt.Errorf("first frame %.100q is not the hello for %s", msg, s.User)}
		}
	}
	if err != nil {
		return err
	}
	if len(r.buf) > 0 {
		return &Error{FailHello, fmt.Errorf("%d unexpected bytes after the hello", len(r.buf))}
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		return &Error{FailDial, err}
	}
	c := &rawConn{fd: int32(fd), session: int32(si)}
	p.mu.Lock()
	p.conns[int32(fd)] = c
	p.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(fd)}
	if err := syscall.EpollCtl(p.ep, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		p.mu.Lock()
		delete(p.conns, int32(fd))
		p.mu.Unlock()
		return &Error{FailDial, err}
	}
	ok = true
	return nil
}

func isHello(msg []byte, user string) bool {
	return bytes.Contains(msg, []byte(`"type":"hello"`)) && bytes.Contains(msg, []byte(`"user":"`+user+`"`))
}

// rawReader reads frames during a handshake with blocking reads.
type rawReader struct {
	fd  int
	buf []byte
}

// connect connects a blocking socket to 127.0.0.1:port. The Go runtime's
// preemption signal interrupts blocking system calls: a connect that
// returns EINTR goes on in the background, and is waited for.
func connect(fd, port int) error {
	err := syscall.Connect(fd, &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}})
	for errors.Is(err, syscall.EINTR) || errors.Is(err, syscall.EALREADY) {
		time.Sleep(time.Millisecond)
		err = syscall.Connect(fd, &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}})
		if errors.Is(err, syscall.EISCONN) {
			return nil
		}
	}
	return err
}

func (r *rawReader) fill() error {
	var b [4096]byte
	n, err := syscall.Read(r.fd, b[:])
	for errors.Is(err, syscall.EINTR) {
		n, err = syscall.Read(r.fd, b[:])
	}
	if err != nil {
		return err
	}
	if n == 0 {
		return errors.New("connection closed")
	}
	r.buf = append(r.buf, b[:n]...)
	return nil
}

func (r *rawReader) until(sep []byte) ([]byte, error) {
	for {
		if i := bytes.Index(r.buf, sep); i >= 0 {
			head := r.buf[:i]
			r.buf = r.buf[i+len(sep):]
			return head, nil
		}
		if len(r.buf) > 64<<10 {
			return nil, errors.New("response head too long")
		}
		if err := r.fill(); err != nil {
			return nil, err
		}
	}
}

// text returns the next text frame's payload, skipping pings and pongs.
func (r *rawReader) text() ([]byte, error) {
	for {
		op, payload, n := parseFrame(r.buf)
		if n == 0 {
			if err := r.fill(); err != nil {
				return nil, &Error{FailHello, fmt.Errorf("reading a frame: %w", err)}
			}
			continue
		}
		r.buf = r.buf[n:]
		switch op {
		case 1:
			return payload, nil
		case 8:
			code := 0
			if len(payload) >= 2 {
				code = int(binary.BigEndian.Uint16(payload))
			}
			return nil, &Error{FailRefused, fmt.Errorf("closed before the hello: %d %s", code, payload[min(2, len(payload)):])}
		}
	}
}

// socketIOHello: the open packet, CONNECT, its answer, the hello event.
func (r *rawReader) socketIOHello(user string) error {
	msg, err := r.text()
	if err != nil {
		return err
	}
	if len(msg) < 2 || msg[0] != '0' {
		return &Error{FailHello, fmt.Errorf("engine.io: %.100q is not an open packet", msg)}
	}
	if err := writeAll(r.fd, clientText([]byte("40"))); err != nil {
		return &Error{FailHello, err}
	}
	for {
		if msg, err = r.text(); err != nil {
			return err
		}
		if !bytes.Equal(msg, eioPing) {
			break
		}
	}
	switch {
	case bytes.HasPrefix(msg, []byte("44")):
		return &Error{FailRefused, fmt.Errorf("socket.io CONNECT_ERROR %s", msg[2:])}
	case !bytes.HasPrefix(msg, []byte("40")):
		return &Error{FailHello, fmt.Errorf("socket.io: %.100q is not a CONNECT answer", msg)}
	}
	if msg, err = r.text(); err != nil {
		return err
	}
	if !bytes.HasPrefix(msg, []byte(`42["hello",`)) || !bytes.Contains(msg, []byte(`"user":"`+user+`"`)) {
		return &Error{FailHello, fmt.Errorf("socket.io: %.100q is not the hello for %s", msg, user)}
	}
	return nil
}

// parseFrame parses one server frame at the start of b: its opcode, its
// payload (a slice of b) and its length; n is 0 when b holds no whole
// frame. Server frames are unmasked.
func parseFrame(b []byte) (op byte, payload []byte, n int) {
	if len(b) < 2 {
		return 0, nil, 0
	}
	h, l := 2, int(b[1]&0x7f)
	switch l {
	case 126:
		if len(b) < 4 {
			return 0, nil, 0
		}
		h, l = 4, int(binary.BigEndian.Uint16(b[2:4]))
	case 127:
		if len(b) < 10 {
			return 0, nil, 0
		}
		h, l = 10, int(binary.BigEndian.Uint64(b[2:10]))
	}
	if b[1]&0x80 != 0 {
		h += 4 // a masked server frame is a protocol error; skip the key
	}
	if len(b) < h+l {
		return 0, nil, 0
	}
	return b[0] & 0x0f, b[h : h+l], h + l
}

// clientFrame frames payload as a client must: masked (with a zero key,
// which leaves the payload as it is).
func clientFrame(op byte, payload []byte) []byte {
	out := make([]byte, 0, len(payload)+14)
	out = append(out, 0x80|op)
	switch n := len(payload); {
	case n < 126:
		out = append(out, 0x80|byte(n))
	case n < 1<<16:
		out = append(out, 0x80|126, byte(n>>8), byte(n))
	default:
		out = append(out, 0x80|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	out = append(out, 0, 0, 0, 0)
	return append(out, payload...)
}

func clientText(payload []byte) []byte { return clientFrame(1, payload) }

func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := syscall.Write(fd, b)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			return err
		}
		b = b[n:]
	}
	return nil
}

// Send writes a text message on one held connection (the one opened i-th
// among those held, in no particular order): the fan-out's trigger.
func (p *RawPool) Send(msg []byte) error {
	p.mu.Lock()
	var fd int32 = -1
	for k := range p.conns {
		fd = k
		break
	}
	p.mu.Unlock()
	if fd < 0 {
		return errors.New("no connection held")
	}
	return p.write(fd, clientText(msg))
}

// write writes b on a non-blocking descriptor, waiting out a full buffer
// for at most a second.
func (p *RawPool) write(fd int32, b []byte) error {
	deadline := time.Now().Add(time.Second)
	for len(b) > 0 {
		n, err := syscall.Write(int(fd), b)
		switch {
		case err == nil:
			b = b[n:]
		case errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR):
			if time.Now().After(deadline) {
				return err
			}
			time.Sleep(time.Millisecond)
		default:
			return err
		}
	}
	return nil
}

// loop reads every held connection as input arrives.
func (p *RawPool) loop() {
	defer close(p.done)
	events := make([]syscall.EpollEvent, 512)
	buf := make([]byte, rawReadBuf)
	for !p.stop.Load() {
		n, err := syscall.EpollWait(p.ep, events, 100)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			return
		}
		for _, ev := range events[:n] {
			p.mu.Lock()
			c := p.conns[ev.Fd]
			p.mu.Unlock()
			if c != nil {
				p.readConn(c, buf)
			}
		}
	}
}

// readConn reads what c has and handles each whole frame.
func (p *RawPool) readConn(c *rawConn, buf []byte) {
	for {
		n, err := syscall.Read(int(c.fd), buf)
		if err != nil {
			if errors.Is(err, syscall.EAGAIN) {
				return
			}
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			p.end(c)
			return
		}
		if n == 0 {
			p.end(c)
			return
		}
		data := buf[:n]
		if c.part != nil {
			c.part = append(c.part, data...)
			data = c.part
		}
		for {
			op, payload, m := parseFrame(data)
			if m == 0 {
				break
			}
			data = data[m:]
			switch op {
			case 1, 2:
				if p.proto == SocketIO && bytes.Equal(payload, eioPing) {
					_ = p.write(c.fd, clientText(eioPong))
				} else {
					p.delivered.Add(1)
				}
			case 9:
				_ = p.write(c.fd, clientFrame(10, payload))
			case 8:
				p.end(c)
				return
			}
		}
		if len(data) > 0 {
			c.part = append([]byte(nil), data...)
		} else {
			c.part = nil
		}
		if n < len(buf) {
			return
		}
	}
}

// end forgets a connection the server ended.
func (p *RawPool) end(c *rawConn) {
	p.mu.Lock()
	if p.conns[c.fd] != c {
		p.mu.Unlock()
		return
	}
	delete(p.conns, c.fd)
	ch := p.endedCh
	p.mu.Unlock()
	syscall.Close(int(c.fd)) // also leaves the epoll set
	p.ended.Add(1)
	if ch != nil {
		ch <- int(c.session)
	}
}

// Close drops every connection (no closing handshake: the runs that use
// the pool end by stopping the server or by this) and stops the reader.
func (p *RawPool) Close() {
	if p.stop.CompareAndSwap(false, true) {
		<-p.done
		syscall.Close(p.ep)
	}
	p.mu.Lock()
	conns := p.conns
	p.conns = map[int32]*rawConn{}
	p.mu.Unlock()
	for fd := range conns {
		syscall.Close(int(fd))
	}
}
