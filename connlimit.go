package expressbridge

import (
	"container/list"
	"log/slog"
	"net"
	"net/http"
	"sync"

	"github.com/expressbridge/expressbridge/internal/ratelog"
)

// DefaultMaxHTTPConnections bounds the HTTP connections HTTPServer keeps
// open (Config.MaxHTTPConnections). net/http holds about 22 KB for each
// (its goroutine and buffers), kept alive or not: 4,096 of them are under
// 100 MB, where 20,000 idle ones (a file limit's worth) held 460 MB. It
// is far above what a bridge's own clients need, since WebSocket
// connections, most of its clients', are not counted once upgraded, and
// a long-polling client holds one or two.
const DefaultMaxHTTPConnections = 4096

// The limits of the HTTP connection cap, as logged and counted (under the
// door "http").
const (
	// LimitIdleShed: a kept-alive connection idle between requests was
	// closed to make room for a new one. A client retries a request that
	// fails on a kept-alive connection the server closed (browsers and
	// Go's http.Transport alike), so this costs it a new connection.
	LimitIdleShed = "idle-connection-shed"
	// LimitHTTPConnections: a new connection was closed at once, every
	// open one being busy with a request.
	LimitHTTPConnections = "too-many-http-connections"
	// doorHTTP names the HTTP server's own limits in logs and metrics.
	doorHTTP = "http"
)

// connCap caps the connections of an http.Server through its ConnState
// hook: connections New, Active or Idle count; a hijacked one (a WebSocket
// upgrade: wsconn's poller holds it for a few hundred bytes) or a closed
// one is released. When a new connection would pass max, the one idle
// longest is closed to make room; when none is idle, the new one is
// closed at once. A long-polling GET waiting for packets is Active: it is
// never shed.
type connCap struct {
	max int
	// limits counts both limits and logs them once per interval with
	// their counts, as every door notes its limits.
	limits ratelog.Limits

	mu    sync.Mutex
	conns map[net.Conn]*capped // counted connections
	idle  list.List            // of *capped, longest idle first
	seq   uint64               // numbers the requests as they start
}

// capped is a counted connection. It is ordered among the idle ones by
// when its last request started, not by when net/http marked it idle:
// net/http does so after the response is written, so a client may have
// read it and opened another connection, served and idle, before this
// one is marked.
type capped struct {
	conn net.Conn
	seq  uint64        // when its last request started
	e    *list.Element // its place in idle, nil while not idle
}

func newConnCap(max int, log *slog.Logger, obs ratelog.Observer) *connCap {
	return &connCap{max: max, limits: ratelog.Limits{Log: log, Observer: obs}, conns: make(map[net.Conn]*capped)}
}

// connState is the http.Server's ConnState hook. StateNew is called on
// the accept loop, before the connection is served; the others on the
// connection's own goroutine.
func (c *connCap) connState(conn net.Conn, state http.ConnState) {
	var shed net.Conn
	limit := ""
	c.mu.Lock()
	switch state {
	case http.StateNew:
		if len(c.conns) >= c.max {
			if front := c.idle.Front(); front != nil {
				shed = c.idle.Remove(front).(*capped).conn
				delete(c.conns, shed)
				limit = LimitIdleShed
			} else {
				c.mu.Unlock()
				conn.Close() // net/http's read then fails: the connection ends at once
				c.hit(LimitHTTPConnections, conn)
				return
			}
		}
		c.seq++
		c.conns[conn] = &capped{conn: conn, seq: c.seq}
	case http.StateActive:
		if cc, ok := c.conns[conn]; ok {
			if cc.e != nil {
				c.idle.Remove(cc.e)
				cc.e = nil
			}
			c.seq++
			cc.seq = c.seq
		}
	case http.StateIdle:
		if cc, ok := c.conns[conn]; ok && cc.e == nil {
			// Nearly always the latest: the walk from the back is short.
			at := c.idle.Back()
			for at != nil && at.Value.(*capped).seq > cc.seq {
				at = at.Prev()
			}
			if at == nil {
				cc.e = c.idle.PushFront(cc)
			} else {
				cc.e = c.idle.InsertAfter(cc, at)
			}
		}
	case http.StateHijacked, http.StateClosed:
		if cc, ok := c.conns[conn]; ok {
			if cc.e != nil {
				c.idle.Remove(cc.e)
			}
			delete(c.conns, conn)
		}
	}
	c.mu.Unlock()
	if shed != nil {
		// A request arriving on it just now fails like any on a
		// connection the server closed when idle: the client retries.
		shed.Close()
		c.hit(limit, shed)
	}
}

// hit counts a limit and logs it once per interval with the count.
func (c *connCap) hit(limit string, conn net.Conn) {
	c.limits.Hit(doorHTTP, limit, conn.RemoteAddr().String)
}
