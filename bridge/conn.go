package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/connectsid"
)

// Errors of Conn.Send.
var (
	// ErrClosed means the connection has been closed.
	ErrClosed = errors.New("bridge: connection closed")
	// ErrSlowConsumer means the client's queue was full; the connection is
	// being closed with 1008.
	ErrSlowConsumer = errors.New("bridge: client cannot keep up; closing")
)

// closeGrace bounds the write of a close frame: a peer that cannot take 2
// bytes in a second is gone anyway.
const closeGrace = time.Second

// Conn is one accepted connection with the session it was opened with. One
// goroutine reads and one writes; Send, Close and the accessors are safe
// for concurrent use.
type Conn struct {
	s    *Server
	ws   *websocket.Conn
	sess *connectsid.Session
	sid  string
	user string

	send    chan []byte
	ctx     context.Context
	cancel  context.CancelFunc
	once    sync.Once
	closing chan struct{} // closed by the first Close
	code    int           // close frame to write; 0 for none
	reason  string
}

func (s *Server) newConn(ws *websocket.Conn, sess *connectsid.Session) *Conn {
	user, _ := sess.String(s.cfg.UserField)
	ctx, cancel := context.WithCancel(context.Background())
	return &Conn{
		s: s, ws: ws, sess: sess, sid: sess.ID(), user: user,
		send:    make(chan []byte, s.cfg.SendQueue),
		ctx:     ctx,
		cancel:  cancel,
		closing: make(chan struct{}),
	}
}

// Session returns the session the connection was accepted with. Treat it as
// read-only: it is shared by every handler of the connection.
func (c *Conn) Session() *connectsid.Session { return c.sess }

// SessionID returns the session ID. Log connectsid.Redact of it, never it.
func (c *Conn) SessionID() string { return c.sid }

// User returns the value of the session's user field, or "".
func (c *Conn) User() string { return c.user }

// Server returns the server the connection belongs to.
func (c *Conn) Server() *Server { return c.s }

// Context is canceled when the connection closes.
func (c *Conn) Context() context.Context { return c.ctx }

// Send queues a text message without blocking. When the queue is full the
// connection is closed with 1008 and ErrSlowConsumer returned.
func (c *Conn) Send(msg []byte) error {
	select {
	case <-c.closing:
		return ErrClosed
	default:
	}
	select {
	case c.send <- msg:
		return nil
	default:
		c.Close(websocket.ClosePolicyViolation, "slow consumer")
		return ErrSlowConsumer
	}
}

// SendJSON queues v encoded as JSON.
func (c *Conn) SendJSON(v any) error {
	msg, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.Send(msg)
}

// Close closes the connection with a close code and reason. Only the first
// call counts; it does not wait for the close to be written.
func (c *Conn) Close(code int, reason string) {
	c.once.Do(func() {
		c.code, c.reason = code, reason
		close(c.closing)
		c.cancel()
	})
}

// closeNow closes a connection that never started its loops.
func (c *Conn) closeNow(code int, reason string) {
	c.Close(code, reason)
	c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(closeGrace))
	c.ws.Close()
}

// start runs the connection: the writer in its own goroutine, the reader in
// the caller's (the HTTP server's), until either ends.
func (c *Conn) start() {
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop()
	}()
	c.s.cfg.Protocol.Open(c)
	c.readLoop()
	c.Close(0, "") // the peer is gone or broke the protocol: no frame to write
	<-writerDone
	c.s.cfg.Protocol.Close(c)
	c.s.log.LogAttrs(context.Background(), slog.LevelDebug, "connection closed",
		slog.String("sid", connectsid.Redact(c.sid)), slog.Int("code", c.code), slog.String("reason", c.reason))
	c.s.unregister(c)
}

func (c *Conn) readLoop() {
	pongWait := c.s.cfg.PingInterval + c.s.cfg.WriteTimeout
	c.ws.SetReadLimit(c.s.cfg.ReadLimit)
	c.ws.SetReadDeadline(time.Now().Add(pongWait))
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(pongWait))
	})
	for {
		_, msg, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		c.ws.SetReadDeadline(time.Now().Add(pongWait))
		c.s.touchIfDue(c)
		c.s.cfg.Protocol.Message(c, msg)
	}
}

// writeLoop is the connection's only writer of data frames and pings.
func (c *Conn) writeLoop() {
	ticker := time.NewTicker(c.s.cfg.PingInterval)
	defer func() {
		ticker.Stop()
		c.ws.Close() // also ends the reader
	}()
	for {
		select {
		case msg := <-c.send:
			c.ws.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
			if err := c.ws.WriteMessage(websocket.TextMessage, msg); err != nil {
				c.Close(0, "")
				return
			}
		case <-ticker.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.s.cfg.WriteTimeout)); err != nil {
				c.Close(0, "")
				return
			}
		case <-c.closing:
			if c.code != 0 {
				c.ws.WriteControl(websocket.CloseMessage,
					websocket.FormatCloseMessage(c.code, c.reason), time.Now().Add(closeGrace))
			}
			return
		}
	}
}
