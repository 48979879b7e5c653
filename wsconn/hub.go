// Package wsconn serves WebSocket connections that cost no goroutine while
// idle: one epoll set per Hub starts a reader only when input arrives, a
// writer runs only while there is something to write, and one keeper
// pings every connection. Each connection follows the Express session it
// was accepted with through a liveness.Tracker and ends when the session
// does. The doors (the WebSocket bridge, the Engine.IO server) check the
// handshake, then hand it to Hub.Accept with their own Handler.
package wsconn

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/internal/defaults"
	"github.com/expressbridge/expressbridge/internal/ratelog"
	"github.com/expressbridge/expressbridge/liveness"
)

// Defaults for Config's zero fields.
const (
	// DefaultReadLimit bounds one client message: chat-sized, far below
	// what would let one client hold much memory.
	DefaultReadLimit = 64 << 10
	// DefaultPingInterval keeps NAT and proxy mappings alive and finds dead
	// peers within about a minute.
	DefaultPingInterval = 30 * time.Second
	// DefaultWriteTimeout is how long one write may block before the peer
	// counts as gone.
	DefaultWriteTimeout = 10 * time.Second
	// DefaultSendQueue is how many messages may wait for a slow client
	// before it is closed (1008) rather than slowing anyone else.
	DefaultSendQueue = 64
	// DefaultSendQueueBytes bounds the bytes waiting for a client, as
	// DefaultSendQueue bounds the messages: a full queue of messages of
	// DefaultReadLimit, so that a door relaying what its clients send
	// closes a slow client about when the count would, while a few large
	// messages cannot make one slow client hold their count's worth.
	DefaultSendQueueBytes = DefaultSendQueue * DefaultReadLimit
	// DefaultHandshakeTimeout bounds the upgrade.
	DefaultHandshakeTimeout = 5 * time.Second
)

// Close codes of connections whose session ended: the HTTP status a
// browser cannot read, carried in the 4000 range.
const (
	CloseUnauthorized = 4401
	CloseForbidden    = 4403
	CloseUnavailable  = 4503
)

// The reasons a connection ends besides a liveness.Reason, as
// Conn.EndReason and the Observer say them.
const (
	ReasonSlowClient   = "slow-client"   // its queue was full (1008)
	ReasonPingTimeout  = "ping-timeout"  // silent for longer than a ping interval
	ReasonClientClosed = "client-closed" // the client closed, broke the protocol, or the network did
)

// CloseFor is the WebSocket close code and reason of a connection that a
// Tracker ends: 4401 and the reason when the session ended, 4503
// store-unavailable, 1001 shutting-down.
func CloseFor(r liveness.Reason) (code int, reason string) {
	switch {
	case r.SessionEnded():
		return CloseUnauthorized, string(r)
	case r == liveness.StoreUnavailable:
		return CloseUnavailable, string(r)
	}
	return websocket.CloseGoingAway, string(r)
}

// Handler serves accepted connections. Open runs once a connection is
// accepted, Message for each message the client sends (in order, one at a
// time per connection), Close once after the connection ends. Methods may
// be called concurrently for different connections.
type Handler interface {
	Open(c *Conn)
	Message(c *Conn, msg []byte)
	Close(c *Conn)
}

// BinaryHandler is a Handler that takes binary messages too. Without it, a
// binary message goes to Message like a text one.
type BinaryHandler interface {
	Handler
	BinaryMessage(c *Conn, msg []byte)
}

// Ender is a Handler that ends its connections itself when the Tracker
// ends their session (or the hub shuts down): it may tell the client in
// its own terms first, and must then close c (Close or CloseWhenSent).
// Without it the hub closes c with CloseFor(r).
type Ender interface {
	Handler
	End(c *Conn, r liveness.Reason)
}

// Observer hears connections open and close, for metrics. Its methods
// must be cheap and safe for concurrent use. metrics.Metrics is one.
type Observer interface {
	ConnectionOpened(door string)
	// ConnectionClosed hears Conn.EndReason.
	ConnectionClosed(door, reason string)
}

// The limits a WebSocket client can hit, as a LimitObserver hears them
// and the hub logs them (once per 10 s per limit, with the count).
const (
	LimitSlowClient      = "slow-client"       // its send queue was full (1008)
	LimitMessageTooLarge = "message-too-large" // a message over Options.ReadLimit (1009)
	LimitFrameTimeout    = "frame-timeout"     // a frame begun and not finished within 10 s
)

// LimitObserver is an Observer that also hears each limit a client hits,
// by door and limit (metrics.Metrics is one). Its method must be cheap and
// safe for concurrent use.
type LimitObserver interface {
	LimitHit(door, limit string)
}

// Config configures a Hub. Zero fields take the default named beside
// them.
type Config struct {
	// Live follows each connection's session. Nil: connections follow no
	// session and end only as connections do (a door without
	// authentication, for tests).
	Live *liveness.Tracker
	// PingInterval is how often the hub pings (DefaultPingInterval).
	PingInterval time.Duration
	// WriteTimeout bounds one write (DefaultWriteTimeout).
	WriteTimeout time.Duration
	// SendQueue is a connection's outgoing queue length (DefaultSendQueue).
	SendQueue int
	// SendQueueBytes bounds the bytes of that queue
	// (DefaultSendQueueBytes): over either bound the client is closed as
	// slow (1008, ErrSlowConsumer). A message larger than it still goes
	// when nothing else waits.
	SendQueueBytes int
	// HandshakeTimeout bounds the upgrade (DefaultHandshakeTimeout).
	HandshakeTimeout time.Duration
	// Observer, when set, hears connections open and close (those not
	// Options.Uncounted), and the limits they hit when it is a
	// LimitObserver.
	Observer Observer
	// LimitHit, when set, hears the limits the connections hit instead of
	// the Observer and the hub's own log line, so that a server owning
	// the hub (engineio) counts and logs each door's limits once.
	LimitHit func(door, limit string)
	// Logger receives the hub's logs (slog.Default when nil).
	Logger *slog.Logger
}

// Options are what a door chooses for one connection it accepts.
type Options struct {
	// Handler serves the connection; required.
	Handler Handler
	// ReadLimit bounds one client message in bytes (DefaultReadLimit).
	ReadLimit int64
	// Door names the connection to the Observer.
	Door string
	// Since is the Mark the door took before its gate check (liveness.Mark).
	Since liveness.Mark
	// Broadcast makes Hub.Broadcast reach the connection.
	Broadcast bool
	// Uncounted leaves the connection out of the Observer's counts, for a
	// door that counts its own sessions (Engine.IO counts a session once,
	// on whichever transports it lives).
	Uncounted bool
	// Value is the door's, returned by Conn.Value.
	Value any
	// Deflate negotiates permessage-deflate when the client offers it
	// (nil: off, as engine.io's perMessageDeflate). Messages inflate up to
	// ReadLimit, then the connection closes with 1009.
	Deflate *Deflate
}

// Hub holds a set of connections: their poller, their keeper, their
// registry. It is safe for concurrent use.
type Hub struct {
	cfg      Config
	log      *slog.Logger
	live     *liveness.Tracker
	upgrader websocket.Upgrader

	limits ratelog.Limits // limitHit's

	deflaters sync.Pool // *flate.Writer of Messages' compressed frames (deflateFrame)

	mu     sync.Mutex
	conns  map[*Conn]struct{}
	closed bool
	wg     sync.WaitGroup // connections

	// Started with the first connection, stopped by Shutdown.
	startOnce               sync.Once
	poller                  poller
	stop                    chan struct{}
	kept                    chan struct{} // closed when the keeper has stopped
	stopKeeper, closePoller sync.Once
}

// NewHub returns a hub for cfg. It fails when a limit is negative.
func NewHub(cfg Config) (*Hub, error) {
	if cfg.PingInterval < 0 || cfg.WriteTimeout < 0 || cfg.SendQueue < 0 || cfg.SendQueueBytes < 0 || cfg.HandshakeTimeout < 0 {
		return nil, errors.New("wsconn: Config limits and timeouts must not be negative")
	}
	defaults.Set(&cfg.PingInterval, DefaultPingInterval)
	defaults.Set(&cfg.WriteTimeout, DefaultWriteTimeout)
	defaults.Set(&cfg.SendQueue, DefaultSendQueue)
	defaults.Set(&cfg.SendQueueBytes, DefaultSendQueueBytes)
	defaults.Set(&cfg.HandshakeTimeout, DefaultHandshakeTimeout)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &Hub{cfg: cfg, log: cfg.Logger, live: cfg.Live, conns: make(map[*Conn]struct{})}
	h.limits.Log = cfg.Logger
	if o, ok := cfg.Observer.(LimitObserver); ok {
		h.limits.Observer = o
	}
	h.upgrader = websocket.Upgrader{
		HandshakeTimeout: cfg.HandshakeTimeout,
		// frameConn hands gorilla one frame at a time, so the smallest
		// buffer gorilla takes (a control frame's 125 bytes) serves; it
		// stays with the connection for its life.
		ReadBufferSize:  128,
		WriteBufferSize: 1024,
		WriteBufferPool: &sync.Pool{},
		// The door checked the origin before the upgrade, with its rules.
		CheckOrigin: func(*http.Request) bool { return true },
		// What the upgrader still refuses (version, key) gets a JSON body too.
		Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
			w.Header().Set("Sec-Websocket-Version", "13")
			auth.WriteRefusal(w, &auth.Refusal{Status: status, Code: auth.CodeBadRequest, Step: auth.StepRequest, Message: reason.Error()})
		},
	}
	return h, nil
}

// Accept upgrades a WebSocket handshake that a door has authenticated
// (sess from auth.Gate.Check; an empty ID follows no session) and serves
// the connection with opts.Handler until it ends; the connection ends when
// its session does. It returns nil and an error when the upgrade fails
// (the client has been answered) or the hub is shutting down (closed with
// 1001, ErrShuttingDown).
func (h *Hub) Accept(w http.ResponseWriter, r *http.Request, sess *auth.Session, opts Options) (*Conn, error) {
	if opts.Handler == nil {
		return nil, errors.New("wsconn: Options.Handler is required")
	}
	defaults.Set(&opts.ReadLimit, DefaultReadLimit)
	c, err := h.upgrade(w, r, sess, opts)
	if err != nil {
		return nil, err // the upgrader has answered the client
	}
	if !h.register(c) {
		c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, auth.CodeShuttingDown),
			time.Now().Add(closeGrace))
		c.ws.Close()
		return nil, ErrShuttingDown
	}
	c.start()
	return c, nil
}

// limitHit notes a limit c's client hit: the Observer hears it, and it is
// logged once per interval with the count.
func (h *Hub) limitHit(c *Conn, limit string) {
	if h.cfg.LimitHit != nil {
		h.cfg.LimitHit(c.door, limit)
		return
	}
	h.limits.Hit(c.door, limit, nil)
}

// Len returns the number of open connections.
func (h *Hub) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}

// Closed reports whether Shutdown has begun.
func (h *Hub) Closed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// Broadcast sends msg as a text message to every open connection accepted
// with Options.Broadcast, and returns how many. It is framed once and
// written at once to each connection that has nothing else to write and
// whose socket takes it; the others get it queued, as Send does. A
// connection whose queue is full is closed with 1008 instead of slowing
// the others.
func (h *Hub) Broadcast(msg []byte) int {
	// Framed once here, not once per connection by each writer.
	frame := textFrame(msg)
	h.mu.Lock()
	to := make([]*Conn, 0, len(h.conns))
	for c := range h.conns {
		if c.broadcast {
			to = append(to, c)
		}
	}
	h.mu.Unlock()
	// In descriptor order, which is about the order the kernel allocated
	// the sockets: walked that way rather than in the map's random order,
	// each write(2) took a quarter less kernel time in the fan-out
	// benchmark (cache locality).
	slices.SortFunc(to, func(a, b *Conn) int { return a.fd - b.fd })
	for _, c := range to {
		c.sendFrame(frame)
	}
	return len(to)
}

// textFrame frames msg as a server's final, unmasked, uncompressed text
// frame (RFC 6455 §5.2), as gorilla writes it.
func textFrame(msg []byte) []byte {
	return appendFrameHeader(make([]byte, 0, 10+len(msg)), 0x81, len(msg), msg)
}

// snapshot returns the open connections.
func (h *Hub) snapshot() []*Conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	all := make([]*Conn, 0, len(h.conns))
	for c := range h.conns {
		all = append(all, c)
	}
	return all
}

// Shutdown refuses new connections, ends every open one as the Tracker
// does at its shutdown (liveness.ShuttingDown: 1001, or the Ender's
// goodbye) and waits until their goroutines have ended or ctx is done.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true // from here on no connection registers
	h.mu.Unlock()
	for _, c := range h.snapshot() {
		c.end(liveness.ShuttingDown)
	}
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	h.mu.Lock()
	h.startOnce.Do(func() {}) // nothing to stop if nothing started
	h.mu.Unlock()
	if h.stop != nil {
		h.stopKeeper.Do(func() { close(h.stop); <-h.kept })
		if err == nil { // no connection left to read for
			h.closePoller.Do(h.poller.close)
		}
	}
	return err
}

// startLocked starts what connections need: the poller and the keeper.
// Called with h.mu held, once.
func (h *Hub) startLocked() {
	p, err := newPoller()
	if err != nil {
		h.log.Warn("cannot poll connections; each gets a reader goroutine", "err", err)
		p = blockingPoller{}
	}
	h.poller = p
	h.stop, h.kept = make(chan struct{}), make(chan struct{})
	go h.keep()
}

// keep pings every connection each PingInterval and ends those whose
// client has gone silent.
func (h *Hub) keep() {
	defer close(h.kept)
	t := time.NewTicker(h.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case now := <-t.C:
			for _, c := range h.snapshot() {
				c.ping(now)
			}
		}
	}
}

func (h *Hub) register(c *Conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	// The poller first: the Tracker may end c as soon as it follows it,
	// and an ended connection leaves the poller.
	h.startOnce.Do(h.startLocked)
	c.poll = h.poller
	if h.live != nil {
		hold, err := h.live.Follow(c.sid, c.sess, c.since, func(r liveness.Reason) { c.end(r) })
		if err != nil {
			return false // the Tracker is shutting down
		}
		c.hold = hold // under h.mu: unregister, which takes it, sees it
	}
	h.conns[c] = struct{}{}
	h.wg.Add(1)
	if h.cfg.Observer != nil && !c.uncounted {
		h.cfg.Observer.ConnectionOpened(c.door)
	}
	return true
}

func (h *Hub) unregister(c *Conn) {
	h.mu.Lock()
	delete(h.conns, c)
	h.mu.Unlock()
	if c.hold != nil {
		c.hold.Release()
	}
	h.wg.Done()
}
