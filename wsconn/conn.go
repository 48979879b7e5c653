package wsconn

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/liveness"
)

// Errors of Conn.Send.
var (
	// ErrClosed means the connection has been closed.
	ErrClosed = errors.New("wsconn: connection closed")
	// ErrSlowConsumer means the client's queue was full; the connection is
	// being closed with 1008.
	ErrSlowConsumer = errors.New("wsconn: client cannot keep up; closing")
	// ErrShuttingDown means the hub is shutting down and accepts nothing.
	ErrShuttingDown = errors.New("wsconn: shutting down")
)

const (
	// closeGrace bounds the write of a close frame: a peer that cannot take
	// 2 bytes in a second is gone anyway.
	closeGrace = time.Second
	// frameTimeout bounds the read of one message once it has begun, so a
	// client cannot hold a reader by trickling a frame.
	frameTimeout = 10 * time.Second
)

// Conn is one accepted connection with the session it was opened with.
//
// An idle connection costs no goroutine: the hub's poller starts a
// reader when input arrives (one at a time per connection, so messages are
// handled in order), and a writer runs only while there is something to
// write (one at a time, the only writer of frames). Send, Close and the
// accessors are safe for concurrent use.
type Conn struct {
	h         *Hub
	proto     Handler
	value     any           // the door's (Options.Value)
	door      string        // for the Observer
	since     liveness.Mark // taken before the handshake's gate check
	broadcast bool          // Hub.Broadcast reaches it
	uncounted bool          // the door reports the connection to the Observer itself
	ws        *websocket.Conn
	fc        *frameConn
	raw       syscall.RawConn
	fd        int
	sess      *connectsid.Session
	sid       string
	user      string
	hold      *liveness.Hold // follows the session, set at registration; nil without a Tracker
	deflate   bool           // permessage-deflate was negotiated
	threshold int            // from which a message is compressed, when deflate
	readLimit int64          // Options.ReadLimit: of a message, inflated

	lastRead atomic.Int64 // unix nanoseconds of the last frame received
	pollGen  uint32       // the poller's, guarded by it
	poll     poller       // the hub's, set at registration
	blocking atomic.Bool  // c could not be polled: its reader waits in reads

	readMu    sync.Mutex  // held by the one reader
	finished  atomic.Bool // finish has begun
	lingering atomic.Bool // the close frame is out: finish leaves the socket to linger
	lg        lingerState // guarded by readMu

	wmu     sync.Mutex      // guards what follows
	ctx     context.Context // made on first use: most protocols never ask
	cancel  context.CancelFunc
	queue   []outFrame
	queued  int           // bytes of queue (Config.SendQueueBytes)
	writing bool          // a writer goroutine is running
	sent    chan struct{} // closed when the writer next runs dry (WaitSent)
	closing bool
	drain   bool // closing once the queue is written (CloseWhenSent)
	ended   bool // end has run
	code    int  // close frame to write; 0 for none
	reason  string
}

type outFrame struct {
	op         int // websocket.TextMessage, BinaryMessage, PingMessage, PongMessage, or opRaw
	data       []byte
	noCompress bool // socket.io's compress(false)
}

// opRaw marks an outFrame whose data is a whole frame, or the rest of one
// begun on the wire, framed already (a broadcast): written as it is.
const opRaw = -1

// sendFrame sends a frame framed once for many connections (Broadcast).
// When the connection has nothing else to write and its socket takes the
// whole frame at once, it is written right here, without a writer
// goroutine; otherwise (a backlog, a full socket buffer, the 101 still
// held) it is queued like any message, and a frame begun on the wire has
// its rest queued first. The queue limit and the slow-consumer close are
// Send's.
func (c *Conn) sendFrame(frame []byte) error {
	c.wmu.Lock()
	if c.closing {
		c.wmu.Unlock()
		return ErrClosed
	}
	if !c.writing && len(c.queue) == 0 && c.raw != nil && !c.fc.corked.Load() {
		n := c.writeNow(frame)
		if n == len(frame) {
			c.wmu.Unlock()
			return nil
		}
		if n > 0 { // the rest goes next, whatever the queue's length
			c.queue = append(c.queue, outFrame{op: opRaw, data: frame[n:]})
			c.queued += len(frame) - n
			c.writing = true
			c.wmu.Unlock()
			go c.writeLoop()
			return nil
		}
	}
	c.wmu.Unlock()
	return c.enqueue(outFrame{op: opRaw, data: frame})
}

// writeNow makes one non-blocking write of b to the socket and returns how
// many bytes it took: 0 when it would block, or on any error (the writer
// then meets the error itself). Called with c.wmu held and no writer
// running, so no other frame can be on its way.
func (c *Conn) writeNow(b []byte) int {
	n := 0
	c.raw.Write(func(fd uintptr) bool {
		m, err := syscall.Write(int(fd), b)
		if err == nil {
			n = m
		}
		return true // one attempt: never wait for the socket here
	})
	return n
}

// hijacker hands gorilla a frameConn instead of the bare connection.
type hijacker struct {
	http.ResponseWriter
	fc *frameConn
}

func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.fc = &frameConn{Conn: conn, holding: true}
	h.fc.corked.Store(true)
	return h.fc, brw, nil
}

// upgrade completes the handshake of an authenticated request.
func (hub *Hub) upgrade(w http.ResponseWriter, r *http.Request, sess *auth.Session, opts Options) (*Conn, error) {
	h := &hijacker{ResponseWriter: w}
	up := &hub.upgrader
	if opts.Deflate != nil {
		withDeflate := hub.upgrader
		withDeflate.EnableCompression = true
		up = &withDeflate
	}
	ws, err := up.Upgrade(h, r, nil)
	deflate := false
	if h.fc != nil {
		// Whether gorilla agreed to the client's offer is in the 101 it
		// answered, held until the first frame.
		h.fc.holdMu.Lock()
		deflate = opts.Deflate != nil && bytes.Contains(h.fc.held, []byte("\r\nSec-WebSocket-Extensions: permessage-deflate"))
		h.fc.holdMu.Unlock()
		h.fc.release() // the 101 goes out with the first frame, or at start
	}
	if err != nil {
		if h.fc != nil {
			h.fc.flush()
		}
		return nil, err
	}
	c := &Conn{h: hub, proto: opts.Handler, value: opts.Value, door: opts.Door, broadcast: opts.Broadcast,
		uncounted: opts.Uncounted, since: opts.Since, ws: ws, fc: h.fc, sess: sess.Record, sid: sess.ID, user: sess.User, fd: -1,
		deflate: deflate, readLimit: opts.ReadLimit}
	if deflate {
		c.threshold = opts.Deflate.threshold()
	}
	c.lastRead.Store(time.Now().UnixNano())
	h.fc.onFrame = func() { c.lastRead.Store(time.Now().UnixNano()) }
	h.fc.onPing = func(p []byte) { c.enqueue(outFrame{op: websocket.PongMessage, data: p}) }
	if sc, ok := h.fc.Conn.(syscall.Conn); ok {
		if c.raw, err = sc.SyscallConn(); err == nil {
			c.raw.Control(func(fd uintptr) { c.fd = int(fd) })
		}
	}
	ws.SetReadLimit(opts.ReadLimit)
	return c, nil
}

// Session returns the connection's session record as it is now: the one
// it was accepted with, then the one each revalidation loaded (after every
// change the store reports, and after SaveSession), as long as it is still
// the connection's user's (liveness.Hold.Session). Treat it as read-only:
// it is shared by every handler of the connection.
func (c *Conn) Session() *connectsid.Session {
	if c.hold != nil {
		if cur := c.hold.Session(); cur != nil {
			return cur.Record
		}
	}
	return c.sess
}

// SaveSession changes the connection's Express session as an Express
// route would and writes it to the store (liveness.Hold.Save: reloaded,
// changed, written unless someone wrote meanwhile, never recreated).
// Without a Tracker, or for a connection already ended, it fails with
// liveness.ErrNotHeld.
func (c *Conn) SaveSession(ctx context.Context, change func(*connectsid.Session) error) error {
	if c.hold == nil {
		return liveness.ErrNotHeld
	}
	return c.hold.Save(ctx, change)
}

// Hold returns the liveness.Hold that follows the connection's session,
// or nil without a Tracker (or before the connection is registered).
func (c *Conn) Hold() *liveness.Hold { return c.hold }

// SessionID returns the session ID. Log connectsid.Redact of it, never it.
func (c *Conn) SessionID() string { return c.sid }

// User returns the value of the session's user field, or "".
func (c *Conn) User() string { return c.user }

// Value returns what the door that accepted the connection attached to it
// (Options.Value).
func (c *Conn) Value() any { return c.value }

// Context is canceled when the connection closes.
func (c *Conn) Context() context.Context {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.ctx == nil {
		c.ctx, c.cancel = context.WithCancel(context.Background())
		if c.closing {
			c.cancel()
		}
	}
	return c.ctx
}

// Send queues a text message without blocking. When the queue is full (in
// messages or in bytes: Config.SendQueue, Config.SendQueueBytes) the
// connection is closed with 1008 and ErrSlowConsumer returned.
func (c *Conn) Send(msg []byte) error {
	return c.enqueue(outFrame{op: websocket.TextMessage, data: msg})
}

// SendCompress is Send with socket.io's compress flag: with compress
// false the message goes uncompressed even when permessage-deflate was
// negotiated and it reaches the threshold. Send is SendCompress(msg, true).
func (c *Conn) SendCompress(msg []byte, compress bool) error {
	return c.enqueue(outFrame{op: websocket.TextMessage, data: msg, noCompress: !compress})
}

// SendMessage sends m as Send does, with the frame m built once for every
// connection it goes to: compressed when the connection negotiated
// permessage-deflate, m's compress flag is set and it reaches the
// connection's threshold.
func (c *Conn) SendMessage(m *Message) error {
	return c.sendFrame(m.frame(c.compresses(len(m.data), m.compress), &c.h.deflaters))
}

// Deflates reports whether permessage-deflate was negotiated.
func (c *Conn) Deflates() bool { return c.deflate }

// compresses tells whether a message of n bytes with the compress flag
// goes compressed: negotiated, flagged, at least the threshold.
func (c *Conn) compresses(n int, compress bool) bool {
	return c.deflate && compress && n >= c.threshold
}

// SendBinary queues a binary message, as Send does a text one.
func (c *Conn) SendBinary(msg []byte) error {
	return c.SendBinaryCompress(msg, true)
}

// SendBinaryCompress is SendBinary with the compress flag, as
// SendCompress is Send with it.
func (c *Conn) SendBinaryCompress(msg []byte, compress bool) error {
	return c.enqueue(outFrame{op: websocket.BinaryMessage, data: msg, noCompress: !compress})
}

// SendJSON queues v encoded as JSON.
func (c *Conn) SendJSON(v any) error {
	msg, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.Send(msg)
}

func (c *Conn) enqueue(f outFrame) error {
	c.wmu.Lock()
	if c.closing {
		c.wmu.Unlock()
		return ErrClosed
	}
	// Over either bound the client is slow; a message larger than the
	// byte bound still goes alone.
	if len(c.queue) >= c.h.cfg.SendQueue || (len(c.queue) > 0 && c.queued+len(f.data) > c.h.cfg.SendQueueBytes) {
		c.wmu.Unlock()
		c.h.limitHit(c, LimitSlowClient)
		c.Close(websocket.ClosePolicyViolation, "slow consumer")
		return ErrSlowConsumer
	}
	c.queue = append(c.queue, f)
	c.queued += len(f.data)
	start := !c.writing
	c.writing = true
	c.wmu.Unlock()
	if start {
		go c.writeLoop()
	}
	return nil
}

// Idle reports whether the connection has nothing queued or being
// written and is not closing: a message sent now goes straight to the
// socket (socket.io's volatile packets go only then).
func (c *Conn) Idle() bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return !c.closing && !c.writing && len(c.queue) == 0
}

// Close closes the connection with a close code and reason (code 0: no
// close frame), dropping what is still queued. Only the first call counts
// (a Close after CloseWhenSent stops the draining); it does not wait.
func (c *Conn) Close(code int, reason string) {
	c.close(code, reason, false)
}

// CloseWhenSent closes the connection with a close code and reason once
// what is queued has been written: for a protocol's last words. Later
// Sends fail with ErrClosed. It does not wait.
func (c *Conn) CloseWhenSent(code int, reason string) {
	c.close(code, reason, true)
}

func (c *Conn) close(code int, reason string, drain bool) {
	c.wmu.Lock()
	if c.closing && !(c.drain && !drain) {
		c.wmu.Unlock()
		return
	}
	if !c.closing {
		c.code, c.reason = code, reason
	}
	c.closing, c.drain = true, drain
	if !drain {
		c.queue, c.queued = nil, 0 // what was not sent is moot
	}
	start := !c.writing
	c.writing = true
	if c.cancel != nil {
		c.cancel()
	}
	c.wmu.Unlock()
	if start {
		go c.writeLoop()
	}
}

// writeLoop writes what is queued, then ends. It is the connection's only
// writer of frames; the last one also writes the close frame.
func (c *Conn) writeLoop() {
	for {
		c.wmu.Lock()
		if c.closing && (!c.drain || len(c.queue) == 0) {
			code, reason := c.code, c.reason
			c.wmu.Unlock()
			if code != 0 && c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason),
				time.Now().Add(closeGrace)) == nil {
				c.beginLinger()
			}
			c.finish(false)
			return
		}
		if len(c.queue) == 0 {
			c.writing = false
			c.queue, c.queued = nil, 0 // an idle connection keeps no queue
			c.signalSentLocked()
			c.wmu.Unlock()
			return
		}
		// One frame at a time, so the queue's length is the backlog that
		// tells a slow client.
		f := c.queue[0]
		c.queue[0] = outFrame{}
		c.queue = c.queue[1:]
		c.queued -= len(f.data)
		c.wmu.Unlock()
		deadline := time.Now().Add(c.h.cfg.WriteTimeout)
		var err error
		switch {
		case f.op == opRaw:
			c.fc.Conn.SetWriteDeadline(deadline)
			_, err = c.fc.Write(f.data)
		case f.op == websocket.TextMessage || f.op == websocket.BinaryMessage:
			c.ws.SetWriteDeadline(deadline)
			if c.deflate {
				c.ws.EnableWriteCompression(c.compresses(len(f.data), !f.noCompress))
			}
			err = c.ws.WriteMessage(f.op, f.data)
		default:
			err = c.ws.WriteControl(f.op, f.data, deadline)
		}
		if err != nil {
			c.abort()
			c.finish(false)
			return
		}
	}
}

// WaitSent waits until what was queued before the call has been written,
// the connection has closed, or ctx ends (its error is returned).
func (c *Conn) WaitSent(ctx context.Context) error {
	c.wmu.Lock()
	if !c.writing {
		c.wmu.Unlock()
		return nil
	}
	if c.sent == nil {
		c.sent = make(chan struct{})
	}
	ch := c.sent
	c.wmu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Conn) signalSentLocked() {
	if c.sent != nil {
		close(c.sent)
		c.sent = nil
	}
}

// abort ends the connection without a close frame: the peer is gone or
// broke the protocol.
func (c *Conn) abort() {
	c.Close(0, "")
}

// readReady reads what the client has sent, then waits for more through the
// poller. It runs when the poller saw input; one at a time per connection.
func (c *Conn) readReady() {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	if c.lg.on {
		c.lingerRead()
		return
	}
	for !c.finished.Load() {
		c.fc.Conn.SetReadDeadline(time.Now().Add(frameTimeout))
		forGorilla, err := c.fc.next()
		if err == nil && forGorilla {
			var msg []byte
			var op int
			if op, msg, err = c.readMessage(); err == nil {
				if c.hold != nil {
					c.hold.Active()
				}
				if bp, ok := c.proto.(BinaryHandler); ok && op == websocket.BinaryMessage {
					bp.BinaryMessage(c, msg)
				} else {
					c.proto.Message(c, msg)
				}
			}
		}
		if err != nil {
			c.readFailed(err)
			c.finish(true) // marks the connection closing; no writer needed for that
			return
		}
		c.wmu.Lock()
		closing := c.closing && !c.drain
		c.wmu.Unlock()
		if closing || c.finished.Load() {
			return // the writer finishes the connection, or is waiting to
		}
		if !c.blocking.Load() && !c.poll.pending(c) {
			c.poll.rearm(c)
			return
		}
	}
}

// readMessage reads the message whose first frame has begun. A
// compressed one is inflated no further than the read limit (gorilla's
// limit counts the bytes on the wire): past it the client gets 1009, as
// gorilla gives for a message over the limit on the wire.
func (c *Conn) readMessage() (int, []byte, error) {
	if !c.deflate {
		return c.ws.ReadMessage()
	}
	op, r, err := c.ws.NextReader()
	if err != nil {
		return op, nil, err
	}
	msg, err := readBounded(r, c.readLimit)
	if errors.Is(err, ErrInflateLimit) {
		c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseMessageTooBig, ""),
			time.Now().Add(closeGrace))
	}
	return op, msg, err
}

// readFailed notes a read that failed on a limit: a message over the
// read limit (gorilla has written 1009), a frame not finished in time.
func (c *Conn) readFailed(err error) {
	var ne net.Error
	switch {
	case errors.Is(err, websocket.ErrReadLimit), errors.Is(err, ErrInflateLimit):
		c.h.limitHit(c, LimitMessageTooLarge)
	case errors.As(err, &ne) && ne.Timeout() && !c.lingering.Load():
		c.h.limitHit(c, LimitFrameTimeout)
	}
}

// finish releases the connection once: after its reader is done, it leaves
// the poller and the server and tells the protocol. readerHeld says the
// caller is the reader. A connection whose close frame is out stays in
// the poller and lingers (linger.go) once it has left the server.
func (c *Conn) finish(readerHeld bool) {
	if !c.finished.CompareAndSwap(false, true) {
		return
	}
	c.wmu.Lock()
	c.closing = true
	if c.cancel != nil {
		c.cancel()
	}
	c.signalSentLocked()
	c.wmu.Unlock()
	lingering := c.lingering.Load()
	if !lingering {
		c.poll.remove(c) // before the close, so the descriptor cannot be reused while armed
		c.ws.Close()     // also ends a reader waiting in a read
	}
	if !readerHeld {
		c.readMu.Lock()
		defer c.readMu.Unlock()
	}
	c.proto.Close(c)
	if o := c.h.cfg.Observer; o != nil && !c.uncounted {
		o.ConnectionClosed(c.door, c.EndReason())
	}
	if ctx := context.Background(); c.h.log.Enabled(ctx, slog.LevelDebug) { // Redact allocates
		c.h.log.LogAttrs(ctx, slog.LevelDebug, "connection closed",
			slog.String("sid", connectsid.Redact(c.sid)), slog.Int("code", c.code), slog.String("reason", c.reason))
	}
	if lingering {
		c.h.wg.Add(1) // the socket's, until hangUp; taken before unregister lets go of the connection's
	}
	c.h.unregister(c)
	if lingering {
		c.linger()
	}
}

// EndReason names why the connection ended, as the Observer hears it: a
// Reason… constant, or the liveness.Reason that ended it. It is final once
// Handler.Close has been called.
func (c *Conn) EndReason() string {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	switch c.reason {
	case "":
		return ReasonClientClosed
	case "slow consumer":
		return ReasonSlowClient
	}
	return c.reason
}

// start runs an accepted connection: Open, then input through the poller.
func (c *Conn) start() {
	c.proto.Open(c)
	c.wmu.Lock()
	writing := c.writing
	c.wmu.Unlock()
	if !writing { // no hello to carry the 101: send it alone
		c.fc.flush()
	}
	if c.fd < 0 || c.poll.add(c) != nil {
		c.blocking.Store(true) // no descriptor to poll: a reader of its own
		go c.readReady()
	}
}

// ping is the hub's keeper: it pings c, or ends it when the client has
// sent nothing, not even a pong, for longer than a ping interval and a
// write timeout.
func (c *Conn) ping(now time.Time) {
	if now.Sub(time.Unix(0, c.lastRead.Load())) > c.h.cfg.PingInterval+c.h.cfg.WriteTimeout {
		c.Close(0, ReasonPingTimeout) // no close frame: the peer is gone
		return
	}
	c.enqueue(outFrame{op: websocket.PingMessage})
}

// end ends the connection for the Tracker's reason, through its protocol
// when that is an Ender. It reports whether the connection was still open.
func (c *Conn) end(r liveness.Reason) bool {
	code, reason := CloseFor(r)
	c.wmu.Lock()
	was := !c.closing && !c.ended
	c.ended = true
	c.wmu.Unlock()
	if !was {
		return false
	}
	if e, ok := c.proto.(Ender); ok {
		e.End(c, r)
	} else {
		c.Close(code, reason)
	}
	return true
}
