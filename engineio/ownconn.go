package engineio

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// The engine's own WebSocket connections, for an Insecure server without
// a Bridge (the protocol suites, tests): a goroutine reads (the request's)
// and one writes, per connection. A Bridge's connections hold no goroutine
// while idle; these do.

// Bounds of an own connection's writes.
const (
	// ownWriteTimeout bounds one write: a client that stops reading is
	// dropped rather than held.
	ownWriteTimeout = 10 * time.Second
	// ownCloseTimeout bounds the close frame's write.
	ownCloseTimeout = time.Second
)

var errOwnClosed = errors.New("engineio: connection closed")

// ownFrame is one item of an own connection's write queue: a message, a
// close after what came before (closing), or a marker that what came
// before has been written (sent).
type ownFrame struct {
	typ     int
	data    []byte
	sent    chan struct{}
	closing bool
	code    int
	reason  string
}

// ownConn is one of the engine's own WebSocket connections (conn).
type ownConn struct {
	ws      *websocket.Conn
	out     chan ownFrame // the write queue; only the writer takes from it
	stop    chan struct{} // closed by Close: the writer closes at once
	stopped sync.Once
	written chan struct{} // closed when the writer has returned

	mu        sync.Mutex
	closing   bool // no more sends
	code      int  // of the close frame when stopped
	reason    string
	endReason string
}

// acceptOwn upgrades r and serves the connection with t until it ends,
// on the request's goroutine. Any origin is accepted: only an Insecure
// server, which takes every client, has no Bridge.
func acceptOwn(w http.ResponseWriter, r *http.Request, t *wsTransport, readLimit int64, queue int) {
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered the client
	}
	ws.SetReadLimit(readLimit)
	c := &ownConn{ws: ws, out: make(chan ownFrame, queue), stop: make(chan struct{}), written: make(chan struct{})}
	go c.write()
	t.Open(c)
	for {
		typ, msg, err := ws.ReadMessage()
		if err != nil {
			break
		}
		if typ == websocket.BinaryMessage {
			t.BinaryMessage(c, msg)
		} else {
			t.Message(c, msg)
		}
	}
	c.end(reasonClientClosed, 0, "")
	<-c.written
	t.Close(c)
}

// write is the connection's only writer, until a close.
func (c *ownConn) write() {
	defer close(c.written)
	defer c.ws.Close()
	for {
		select {
		case f := <-c.out:
			switch {
			case f.sent != nil:
				close(f.sent)
			case f.closing:
				c.writeClose(f.code, f.reason)
				return
			default:
				c.ws.SetWriteDeadline(time.Now().Add(ownWriteTimeout))
				if c.ws.WriteMessage(f.typ, f.data) != nil {
					c.end(reasonClientClosed, 0, "")
					return
				}
			}
		case <-c.stop:
			c.mu.Lock()
			code, reason := c.code, c.reason
			c.mu.Unlock()
			c.writeClose(code, reason)
			return
		}
	}
}

func (c *ownConn) writeClose(code int, reason string) {
	if code != 0 {
		c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(ownCloseTimeout))
	}
}

// end stops sending and has the writer close with code and reason (0: no
// close frame); the first reason is the Observer's.
func (c *ownConn) end(endReason string, code int, reason string) {
	c.mu.Lock()
	if !c.closing {
		c.closing, c.code, c.reason, c.endReason = true, code, reason, endReason
	}
	c.mu.Unlock()
	c.stopped.Do(func() { close(c.stop) })
}

// queue adds f to the write queue without blocking; a full queue closes
// the connection as too slow.
func (c *ownConn) queue(f ownFrame) error {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return errOwnClosed
	}
	select {
	case c.out <- f:
		if f.closing {
			c.closing, c.endReason = true, reasonClientClosed
		}
		c.mu.Unlock()
		return nil
	default:
	}
	c.mu.Unlock()
	c.end(reasonSlowClient, websocket.ClosePolicyViolation, reasonSlowClient)
	return ErrSlowClient
}

func (c *ownConn) Send(msg []byte) error {
	return c.queue(ownFrame{typ: websocket.TextMessage, data: msg})
}

func (c *ownConn) SendBinary(msg []byte) error {
	return c.queue(ownFrame{typ: websocket.BinaryMessage, data: msg})
}

func (c *ownConn) Close(code int, reason string) { c.end(reasonClientClosed, code, reason) }

func (c *ownConn) CloseWhenSent(code int, reason string) {
	if c.queue(ownFrame{closing: true, code: code, reason: reason}) != nil {
		c.end(reasonClientClosed, code, reason)
	}
}

func (c *ownConn) WaitSent(ctx context.Context) error {
	sent := make(chan struct{})
	if err := c.queue(ownFrame{sent: sent}); err != nil {
		return err
	}
	select {
	case <-sent:
		return nil
	case <-c.written:
		return errOwnClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *ownConn) EndReason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.endReason
}
