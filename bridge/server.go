// Package bridge is a WebSocket server that accepts only users logged in
// through an Express app: each handshake goes through the auth gate (the
// app's signed session cookie, its session store, the login) before the
// upgrade. Refusals carry an HTTP status and a JSON body
// {"error":CODE,"step":STEP,"message":…}; accepted connections carry the
// session to every later message, and end when it does.
package bridge

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/internal/defaults"
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
	// DefaultHandshakeTimeout bounds the session lookup and the upgrade.
	DefaultHandshakeTimeout = 5 * time.Second
	// MaxHeaderBytes is the request-header limit for the http.Server in
	// front of the bridge (serve sets it): twice Node's 16 KiB, so every
	// handshake Express would take fits, far below net/http's 1 MiB
	// default. net/http answers 431 to larger headers (it allows 4 KiB of
	// slack over the limit).
	MaxHeaderBytes = 32 << 10
)

// Pinger is a store that can say whether it answers (for /healthz).
type Pinger interface {
	Ping(ctx context.Context) error
}

// Protocol handles accepted connections. Open runs once a connection is
// accepted, Message for each message the client sends (in order, one at a
// time per connection), Close once after the connection ends. Methods may
// be called concurrently for different connections.
type Protocol interface {
	Open(c *Conn)
	Message(c *Conn, msg []byte)
	Close(c *Conn)
}

// Observer hears a server's events, for metrics. Its methods must be cheap
// and safe for concurrent use. metrics.Metrics is one.
type Observer interface {
	ConnectionOpened(door string)
	// ConnectionClosed hears the reason: a Reason… constant, or the code of
	// the refusal or shutdown that closed it (store-unavailable,
	// shutting-down).
	ConnectionClosed(door, reason string)
	// Broadcast hears one broadcast and how many connections it was queued
	// for.
	Broadcast(delivered int)
	// Resubscribed hears each time the store's watch subscribed again
	// after losing its subscription.
	Resubscribed()
}

// BinaryProtocol is a Protocol that takes binary messages too. Without it,
// a binary message goes to Message like a text one.
type BinaryProtocol interface {
	Protocol
	BinaryMessage(c *Conn, msg []byte)
}

// Ender is a Protocol that ends its connections itself when the server
// ends them for a reason: the session ended (CloseUnauthorized and
// ReasonLoggedOut, …), the store is down under CloseOnStoreUnavailable
// (CloseUnavailable), shutdown (1001). It may tell the client in its own
// terms first, and must then close c (Close or CloseWhenSent). Without it
// the server closes c with the code and reason.
type Ender interface {
	Protocol
	End(c *Conn, code int, reason string)
}

// Config configures a Server. Gate is required; every other zero field
// takes the safe default named beside it.
type Config struct {
	// Gate checks every handshake, and every open session again when its
	// record changes. Its store serves the Pinger and Toucher abilities.
	Gate *auth.Gate
	// ReadLimit bounds one client message in bytes (DefaultReadLimit).
	ReadLimit int64
	// PingInterval is how often the server pings (DefaultPingInterval).
	PingInterval time.Duration
	// WriteTimeout bounds one write (DefaultWriteTimeout).
	WriteTimeout time.Duration
	// SendQueue is a connection's outgoing queue length (DefaultSendQueue).
	SendQueue int
	// HandshakeTimeout bounds session lookup and upgrade (DefaultHandshakeTimeout).
	HandshakeTimeout time.Duration
	// Live, when set, follows the connections' sessions: a Tracker shared
	// with the other doors (expressbridge.New makes one), whose owner runs
	// it; Watch, RevalidateInterval, CloseOnStoreUnavailable and
	// TouchInterval are then the Tracker's and must be left zero. Nil: the
	// server makes its own from them, run by Run and shut down by Shutdown.
	Live *liveness.Tracker
	// Watch, when set, reports changes to stored sessions so that
	// connections end with their session (redisstore.Store.Watch).
	Watch WatchFunc
	// RevalidateInterval is how often open sessions are reloaded when Watch
	// is nil or cannot work (DefaultRevalidateInterval).
	RevalidateInterval time.Duration
	// CloseOnStoreUnavailable makes Run ping the store every second (when
	// it is a Pinger) and close every open connection with 4503
	// "store-unavailable" each time a ping fails, so that no connection
	// outlives the bridge's ability to see its session end. By default
	// open connections stay open through a store outage (new handshakes
	// get 503 store-unavailable either way).
	CloseOnStoreUnavailable bool
	// TouchInterval, when positive, renews an active session's TTL at most
	// this often, as Express does on each request, so that a user who only
	// chats is not logged out of Express. The store must be a Toucher.
	TouchInterval time.Duration
	// Protocol handles accepted connections (Chat when nil).
	Protocol Protocol
	// TrustedProxies are the reverse proxies (nginx, a load balancer) whose
	// X-Forwarded-For is believed: a request from one of them is logged
	// with the client address the header names. Empty: none is.
	TrustedProxies []netip.Prefix
	// Fanout, when set, carries Broadcast's messages to the other instances
	// (fanout.go). Nil: broadcasts reach this instance's connections only.
	Fanout Fanout
	// Observer, when set, hears connections open and end, broadcasts, and
	// the watch's resubscriptions (for metrics).
	Observer Observer
	// Door names this server's connections to the Observer and the gate's
	// Observer (auth.DoorWS when empty).
	Door string
	// Logger receives the server's logs (slog.Default when nil). Logs never
	// hold a secret, a whole cookie or a whole session ID.
	Logger *slog.Logger
}

// Server is the bridge: an http.Handler that authenticates WebSocket
// handshakes and serves the accepted connections. It is safe for
// concurrent use.
type Server struct {
	cfg      Config
	log      *slog.Logger
	gate     *auth.Gate
	store    auth.Store
	upgrader websocket.Upgrader

	live    *liveness.Tracker
	ownLive bool // live is the server's own: Run runs it, Shutdown shuts it down

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

// New returns a server for cfg, with defaults for zero fields. It fails
// when Gate is missing or a limit or timeout is negative.
func New(cfg Config) (*Server, error) {
	if cfg.Gate == nil {
		return nil, errors.New("bridge: Config.Gate is required")
	}
	if cfg.ReadLimit < 0 || cfg.PingInterval < 0 || cfg.WriteTimeout < 0 || cfg.SendQueue < 0 ||
		cfg.HandshakeTimeout < 0 || cfg.RevalidateInterval < 0 {
		// Zero means the default; a negative value would panic (NewTicker,
		// make) or silently disable a limit.
		return nil, errors.New("bridge: Config limits and timeouts must not be negative")
	}
	defaults.Set(&cfg.ReadLimit, DefaultReadLimit)
	defaults.Set(&cfg.PingInterval, DefaultPingInterval)
	defaults.Set(&cfg.WriteTimeout, DefaultWriteTimeout)
	defaults.Set(&cfg.SendQueue, DefaultSendQueue)
	defaults.Set(&cfg.HandshakeTimeout, DefaultHandshakeTimeout)
	defaults.Set(&cfg.Door, auth.DoorWS)
	if cfg.Protocol == nil {
		cfg.Protocol = &Chat{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	live, own := cfg.Live, cfg.Live == nil
	if !own && (cfg.Watch != nil || cfg.RevalidateInterval != 0 || cfg.CloseOnStoreUnavailable || cfg.TouchInterval != 0) {
		return nil, errors.New("bridge: Config.Watch, RevalidateInterval, CloseOnStoreUnavailable and TouchInterval are the Tracker's when Config.Live is set")
	}
	if own {
		lc := liveness.Config{Gate: cfg.Gate, Watch: cfg.Watch, RevalidateInterval: cfg.RevalidateInterval,
			TouchInterval: cfg.TouchInterval, CloseOnStoreUnavailable: cfg.CloseOnStoreUnavailable,
			Timeout: cfg.HandshakeTimeout, Logger: cfg.Logger}
		if cfg.Observer != nil {
			lc.Observer = cfg.Observer
		}
		var err error
		if live, err = liveness.New(lc); err != nil {
			return nil, err
		}
	}
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		gate:    cfg.Gate,
		store:   cfg.Gate.Store(),
		live:    live,
		ownLive: own,
		conns:   make(map[*Conn]struct{}),
	}
	s.upgrader = websocket.Upgrader{
		HandshakeTimeout: cfg.HandshakeTimeout,
		// frameConn hands gorilla one frame at a time, so the smallest
		// buffer gorilla takes (a control frame's 125 bytes) serves; it
		// stays with the connection for its life.
		ReadBufferSize:  128,
		WriteBufferSize: 1024,
		WriteBufferPool: &sync.Pool{},
		// The origin was checked before the upgrade, with our rules.
		CheckOrigin: func(*http.Request) bool { return true },
		// What the upgrader still refuses (version, key) gets a JSON body too.
		Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
			w.Header().Set("Sec-Websocket-Version", "13")
			auth.WriteRefusal(w, &auth.Refusal{Status: status, Code: auth.CodeBadRequest, Step: auth.StepRequest, Message: reason.Error()})
		},
	}
	return s, nil
}

// ServeHTTP authenticates a WebSocket handshake and, when it passes,
// upgrades it. Refusals happen before the upgrade, with a status and a JSON
// body; with ?explain=1 the server upgrades instead, sends one
// {"type":"error","error":CODE,"step":STEP,"message":…} frame and closes with 4401,
// 4403 or 4503, because a browser cannot read a refused handshake.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	explain := r.URL.RawQuery != "" && r.URL.Query().Get("explain") == "1"
	since := s.Mark() // before the store is read: see EventMark
	sess, ref := s.authenticate(r)
	if ref != nil && ref.Step == auth.StepRequest { // the gate counted its own
		s.gate.Report(auth.WithDoor(r.Context(), s.cfg.Door), ref.Code)
	}
	if ref != nil {
		s.log.LogAttrs(r.Context(), ref.LogLevel(), "handshake refused",
			slog.String("step", ref.Step), slog.String("code", ref.Code),
			slog.String("reason", ref.LogReason()), slog.String("remote", s.remote(r)))
		if explain && ref.Code != auth.CodeBadRequest {
			s.explain(w, r, ref)
			return
		}
		auth.WriteRefusal(w, ref)
		return
	}
	s.Accept(w, r, sess, AcceptOptions{Since: since})
}

// AcceptOptions are what a door chooses for the connections it accepts
// through Accept; zero fields take the server's Config.
type AcceptOptions struct {
	// Protocol handles the connection (Config.Protocol when nil). It may be
	// a value made for this one connection.
	Protocol Protocol
	// ReadLimit bounds one client message in bytes (Config.ReadLimit).
	ReadLimit int64
	// Door names the connection to the Observer (Config.Door when empty).
	Door string
	// Since is the Mark the door took before its gate check: a session
	// event in between has the session revalidated once registered. The
	// zero value revalidates always.
	Since EventMark
	// Uncounted leaves the connection out of the Observer's open and
	// closed counts, for a door that counts its own sessions with Count
	// (Socket.IO counts an Engine.IO session once, on whichever
	// transports it lives).
	Uncounted bool
}

// Accept upgrades a WebSocket handshake that a door has authenticated
// (sess from auth.Gate.Check) and serves the connection with the server's
// connection model, revocation included. Another door (Socket.IO) uses it
// to serve its own protocol on the same server. A session with an empty ID
// is not followed in the store (a door that runs without authentication).
// It returns nil and an error when the upgrade fails (the client has been
// answered) or the server is shutting down (closed with 1001).
func (s *Server) Accept(w http.ResponseWriter, r *http.Request, sess *auth.Session, opts AcceptOptions) (*Conn, error) {
	own := opts.Protocol == nil
	if own {
		opts.Protocol = s.cfg.Protocol
	}
	if opts.ReadLimit <= 0 {
		opts.ReadLimit = s.cfg.ReadLimit
	}
	if opts.Door == "" {
		opts.Door = s.cfg.Door
	}
	c, err := s.upgrade(w, r, sess, opts)
	if c != nil {
		c.own = own
	}
	if err != nil {
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "handshake refused",
			slog.String("step", auth.StepRequest), slog.String("code", auth.CodeBadRequest),
			slog.String("reason", err.Error()), slog.String("remote", s.remote(r)))
		return nil, err // the upgrader has answered the client
	}
	if !s.register(c) {
		c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, auth.CodeShuttingDown),
			time.Now().Add(closeGrace))
		c.ws.Close()
		return nil, ErrShuttingDown
	}
	if s.log.Enabled(r.Context(), slog.LevelDebug) { // Redact allocates
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "connection accepted",
			slog.String("sid", connectsid.Redact(sess.ID)), slog.String("remote", s.remote(r)))
	}
	c.start()
	return c, nil
}

// Gate returns the gate the server checks handshakes with.
func (s *Server) Gate() *auth.Gate { return s.gate }

// Closed reports whether Shutdown has begun: doors refuse new handshakes.
func (s *Server) Closed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// authenticate checks that the request is a WebSocket handshake the server
// can take, then hands it to the gate.
func (s *Server) authenticate(r *http.Request) (*auth.Session, *auth.Refusal) {
	// 1. A WebSocket handshake at all.
	if r.Method != http.MethodGet {
		return nil, &auth.Refusal{Status: http.StatusMethodNotAllowed, Code: auth.CodeBadRequest, Step: auth.StepRequest, Message: "a WebSocket handshake is a GET"}
	}
	if !websocket.IsWebSocketUpgrade(r) || r.Header.Get("Sec-Websocket-Key") == "" {
		return nil, &auth.Refusal{Status: http.StatusBadRequest, Code: auth.CodeBadRequest, Step: auth.StepRequest, Message: "not a WebSocket handshake"}
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, auth.ShuttingDown()
	}
	// 2. The gate: origin, cookie, signature, store, record, login.
	ctx, cancel := context.WithTimeout(auth.WithDoor(r.Context(), s.cfg.Door), s.cfg.HandshakeTimeout)
	defer cancel()
	sess, err := s.gate.Check(ctx, r)
	if err != nil {
		return nil, auth.AsRefusal(err)
	}
	return sess, nil
}

// explain upgrades a refused handshake only to tell the page why.
func (s *Server) explain(w http.ResponseWriter, r *http.Request, ref *auth.Refusal) {
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer ws.Close()
	msg, _ := json.Marshal(struct {
		Type    string `json:"type"`
		Error   string `json:"error"`
		Step    string `json:"step"`
		Message string `json:"message"`
	}{"error", ref.Code, ref.Step, ref.Message})
	deadline := time.Now().Add(s.cfg.WriteTimeout)
	ws.SetWriteDeadline(deadline)
	if ws.WriteMessage(websocket.TextMessage, msg) == nil {
		ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(CloseCode(ref), ref.Code), deadline)
	}
}

// Healthz returns a handler that answers 200 when the store answers and 503
// otherwise. A store that cannot be pinged always counts as healthy.
func (s *Server) Healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if p, ok := s.store.(Pinger); ok {
			ctx, cancel := context.WithTimeout(r.Context(), s.cfg.HandshakeTimeout)
			defer cancel()
			if err := p.Ping(ctx); err != nil {
				w.Header().Set("Retry-After", "2")
				w.WriteHeader(http.StatusServiceUnavailable)
				json.NewEncoder(w).Encode(map[string]string{"status": "unavailable", "error": connectsid.CodeStoreUnavailable})
				return
			}
		}
		json.NewEncoder(w).Encode(map[string]any{"status": "ok", "connections": s.Len()})
	})
}

// Len returns the number of open connections.
func (s *Server) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Broadcast sends msg as a text message to every open connection of the
// server's own protocol on this instance (BroadcastLocal), and hands it to
// Config.Fanout for the other instances. A connection whose queue is full
// is closed with 1008 instead of slowing the others.
func (s *Server) Broadcast(msg []byte) {
	s.BroadcastLocal(msg)
	if s.cfg.Fanout != nil {
		s.cfg.Fanout.Publish(msg)
	}
}

// textFrame frames msg as a server's final, unmasked, uncompressed text
// frame (RFC 6455 §5.2), as gorilla writes it.
func textFrame(msg []byte) []byte {
	n := len(msg)
	var f []byte
	switch {
	case n < 126:
		f = append(make([]byte, 0, 2+n), 0x81, byte(n))
	case n < 1<<16:
		f = append(make([]byte, 0, 4+n), 0x81, 126, byte(n>>8), byte(n))
	default:
		f = append(make([]byte, 0, 10+n), 0x81, 127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	return append(f, msg...)
}

// snapshot returns the open connections.
func (s *Server) snapshot() []*Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	all := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		all = append(all, c)
	}
	return all
}

// each calls f for every open connection, outside the server's lock (f
// may close connections), and returns how many there were.
func (s *Server) each(f func(*Conn)) int {
	all := s.snapshot()
	for _, c := range all {
		f(c)
	}
	return len(all)
}

// endConns ends every connection of the server for the Tracker's reason,
// and returns how many there were.
func (s *Server) endConns(r liveness.Reason) int {
	n := 0
	for _, c := range s.snapshot() {
		if c.end(r) {
			n++
		}
	}
	return n
}

// Shutdown refuses new handshakes, closes every connection with 1001 and
// waits until their goroutines have ended or ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true // from here on no connection registers
	s.mu.Unlock()
	s.endConns(liveness.ShuttingDown)
	var err error
	if s.ownLive {
		err = s.live.Shutdown(ctx) // the holds of other doors too
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.mu.Lock()
	s.startOnce.Do(func() {}) // nothing to stop if nothing started
	s.mu.Unlock()
	if s.stop != nil {
		s.stopKeeper.Do(func() { close(s.stop); <-s.kept })
		if err == nil { // no connection left to read for
			s.closePoller.Do(s.poller.close)
		}
	}
	return err
}

// startLocked starts what connections need: the poller and the keeper.
// Called with s.mu held, once.
func (s *Server) startLocked() {
	p, err := newPoller()
	if err != nil {
		s.log.Warn("cannot poll connections; each gets a reader goroutine", "err", err)
		p = blockingPoller{}
	}
	s.poller = p
	s.stop, s.kept = make(chan struct{}), make(chan struct{})
	go s.keep()
}

// keep pings every connection each PingInterval and ends those whose
// client has gone silent.
func (s *Server) keep() {
	defer close(s.kept)
	t := time.NewTicker(s.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.each(func(c *Conn) { c.ping(now) })
		}
	}
}

func (s *Server) register(c *Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.startOnce.Do(s.startLocked)
	c.poll = s.poller
	h, err := s.live.Follow(c.sid, c.sess, c.since, func(r liveness.Reason) { c.end(r) })
	if err != nil {
		return false // the Tracker is shutting down
	}
	c.hold = h
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	if s.cfg.Observer != nil && !c.uncounted {
		s.cfg.Observer.ConnectionOpened(c.door)
	}
	return true
}

// Count reports to Config.Observer a connection of door that the server
// does not hold itself (a Socket.IO session on long-polling) as opened,
// and returns the function that reports it closed with its reason (a
// Reason… constant, or the refusal or shutdown that closed it); only the
// first call of that function counts. Without an Observer both do nothing.
func (s *Server) Count(door string) (closed func(reason string)) {
	o := s.cfg.Observer
	if o == nil {
		return func(string) {}
	}
	o.ConnectionOpened(door)
	var once sync.Once
	return func(reason string) { once.Do(func() { o.ConnectionClosed(door, reason) }) }
}

func (s *Server) unregister(c *Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	c.hold.Release()
	s.wg.Done()
}
