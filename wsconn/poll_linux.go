//go:build linux

package wsconn

import (
	"errors"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// epoller tells the server which connections have input, so that an idle
// connection needs no goroutine waiting on it. Each connection is armed
// one-shot: at most one reader runs per connection, and it re-arms the
// connection when it has read all there was.
type epoller struct {
	fd     int
	mu     sync.Mutex
	conns  map[int32]*Conn // by file descriptor
	gen    uint32          // tells a reused descriptor from the one armed
	closed atomic.Bool
	done   chan struct{}
}

const epollEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

func newPoller() (poller, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	p := &epoller{fd: fd, conns: make(map[int32]*Conn), done: make(chan struct{})}
	go p.loop()
	return p, nil
}

func (p *epoller) loop() {
	defer close(p.done)
	events := make([]syscall.EpollEvent, 256)
	for !p.closed.Load() {
		// The timeout lets close take effect: closing an epoll descriptor
		// does not wake a thread waiting on it.
		n, err := syscall.EpollWait(p.fd, events, 100)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			return
		}
		for _, ev := range events[:n] {
			p.mu.Lock()
			c := p.conns[ev.Fd]
			if c != nil && c.pollGen != uint32(ev.Pad) {
				c = nil // an event of an earlier connection on the same descriptor
			}
			p.mu.Unlock()
			if c != nil {
				go c.readReady()
			}
		}
	}
}

func (p *epoller) add(c *Conn) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gen++
	c.pollGen = p.gen
	ev := syscall.EpollEvent{Events: epollEvents, Fd: int32(c.fd), Pad: int32(c.pollGen)}
	if err := syscall.EpollCtl(p.fd, syscall.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
		return err
	}
	p.conns[int32(c.fd)] = c
	return nil
}

// rearm waits for c's next input. It does nothing once c was removed, so a
// descriptor reused by a newer connection is never armed for c.
func (p *epoller) rearm(c *Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns[int32(c.fd)] != c {
		return
	}
	ev := syscall.EpollEvent{Events: epollEvents, Fd: int32(c.fd), Pad: int32(c.pollGen)}
	syscall.EpollCtl(p.fd, syscall.EPOLL_CTL_MOD, c.fd, &ev)
}

// remove forgets c; it must run before c's descriptor is closed. Closing
// the descriptor takes it out of the epoll set (nothing dups it), so no
// EPOLL_CTL_DEL is needed; an event already taken for it finds no entry, or
// another generation, and is dropped.
func (p *epoller) remove(c *Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns[int32(c.fd)] == c {
		delete(p.conns, int32(c.fd))
	}
}

// pending reports whether c's socket holds unread input.
func (p *epoller) pending(c *Conn) bool {
	var n int32
	c.raw.Control(func(fd uintptr) {
		syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&n)))
	})
	return n > 0
}

func (p *epoller) close() {
	if p.closed.CompareAndSwap(false, true) {
		<-p.done
		syscall.Close(p.fd)
	}
}
