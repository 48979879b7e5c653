// Package bridge is the plain WebSocket door: a WebSocket server that
// accepts only users logged in through an Express app and serves them the
// program's own Protocol. Each handshake goes through the auth gate (the
// app's signed session cookie, its session store, the login) before the
// upgrade; refusals carry an HTTP status and a JSON body
// {"error":CODE,"step":STEP,"message":…}, or one frame and a 44xx close in
// explain mode. The connections are package wsconn's and follow their
// session through a liveness.Tracker: they carry it to every message and
// end when it does. Broadcasts reach every connection of the door, and
// the other instances through a Fanout.
package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/internal/defaults"
	"github.com/expressbridge/expressbridge/liveness"
	"github.com/expressbridge/expressbridge/wsconn"
)

// Defaults for Config's zero fields: the connection model's
// (package wsconn).
const (
	DefaultReadLimit        = wsconn.DefaultReadLimit
	DefaultPingInterval     = wsconn.DefaultPingInterval
	DefaultWriteTimeout     = wsconn.DefaultWriteTimeout
	DefaultSendQueue        = wsconn.DefaultSendQueue
	DefaultHandshakeTimeout = wsconn.DefaultHandshakeTimeout
	// MaxHeaderBytes is the request-header limit for the http.Server in
	// front of the bridge (serve sets it): twice Node's 16 KiB, so every
	// handshake Express would take fits, far below net/http's 1 MiB
	// default. net/http answers 431 to larger headers (it allows 4 KiB of
	// slack over the limit).
	MaxHeaderBytes = 32 << 10
)

// Pinger is liveness.Pinger: a store that can say whether it answers.
type Pinger = liveness.Pinger

// The connection model's types, named as the bridge's protocols use them.
type (
	// Conn is one accepted connection (wsconn.Conn).
	Conn = wsconn.Conn
	// Protocol handles accepted connections (wsconn.Handler).
	Protocol = wsconn.Handler
	// BinaryProtocol is a Protocol that takes binary messages too
	// (wsconn.BinaryHandler).
	BinaryProtocol = wsconn.BinaryHandler
	// Ender is a Protocol that ends its connections itself when their
	// session ends (wsconn.Ender).
	Ender = wsconn.Ender
)

// Errors of Conn.Send and Accept (the connection model's).
var (
	ErrClosed       = wsconn.ErrClosed
	ErrSlowConsumer = wsconn.ErrSlowConsumer
	ErrShuttingDown = wsconn.ErrShuttingDown
)

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

// Config configures a Server. Gate and Protocol are required; every other
// zero field takes the safe default named beside it.
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
	// Protocol handles accepted connections; required (no default relays
	// what clients send).
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
	cfg       Config
	log       *slog.Logger
	gate      *auth.Gate
	explainer websocket.Upgrader // for explain mode's one frame
	live      *liveness.Tracker
	ownLive   bool // live is the server's own: Run runs it, Shutdown shuts it down
	hub       *wsconn.Hub
}

// queueBytes is the bytes that may wait for a client of the door: a full
// queue of messages as large as a client may send, so that the byte bound
// of the connections (wsconn.Config.SendQueueBytes) closes no relaying
// client much earlier than the count does, whatever the read limit.
func queueBytes(queue int, readLimit int64) int {
	if queue == 0 {
		queue = wsconn.DefaultSendQueue
	}
	if readLimit > int64(math.MaxInt/queue) {
		return math.MaxInt
	}
	return queue * int(readLimit)
}

// New returns a server for cfg, with defaults for zero fields. It fails
// when Gate or Protocol is missing or a limit or timeout is negative.
func New(cfg Config) (*Server, error) {
	if cfg.Gate == nil {
		return nil, errors.New("bridge: Config.Gate is required")
	}
	if cfg.Protocol == nil {
		// No default: a default protocol would relay what clients send.
		return nil, errors.New("bridge: Config.Protocol is required: the protocol your connections speak " +
			"(examples/chat has the demo chat)")
	}
	if cfg.ReadLimit < 0 || cfg.PingInterval < 0 || cfg.WriteTimeout < 0 || cfg.SendQueue < 0 ||
		cfg.HandshakeTimeout < 0 || cfg.RevalidateInterval < 0 {
		// Zero means the default; a negative value would panic (NewTicker,
		// make) or silently disable a limit.
		return nil, errors.New("bridge: Config limits and timeouts must not be negative")
	}
	defaults.Set(&cfg.ReadLimit, DefaultReadLimit)
	defaults.Set(&cfg.WriteTimeout, DefaultWriteTimeout)
	defaults.Set(&cfg.HandshakeTimeout, DefaultHandshakeTimeout)
	defaults.Set(&cfg.Door, auth.DoorWS)
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
			Timeout: cfg.HandshakeTimeout, Observer: cfg.Observer, Logger: cfg.Logger}
		var err error
		if live, err = liveness.New(lc); err != nil {
			return nil, err
		}
	}
	hcfg := wsconn.Config{Live: live, PingInterval: cfg.PingInterval, WriteTimeout: cfg.WriteTimeout,
		SendQueue: cfg.SendQueue, SendQueueBytes: queueBytes(cfg.SendQueue, cfg.ReadLimit),
		HandshakeTimeout: cfg.HandshakeTimeout, Observer: cfg.Observer, Logger: cfg.Logger}
	hub, err := wsconn.NewHub(hcfg)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		gate:    cfg.Gate,
		live:    live,
		ownLive: own,
		hub:     hub,
	}
	s.explainer = websocket.Upgrader{
		HandshakeTimeout: cfg.HandshakeTimeout,
		CheckOrigin:      func(*http.Request) bool { return true }, // the refusal is what it says
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
	since := s.live.Mark() // before the store is read: see liveness.Mark
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
// connection model, revocation included. A session with an empty ID is
// not followed in the store (a door that runs without authentication).
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
	c, err := s.hub.Accept(w, r, sess, wsconn.Options{Handler: opts.Protocol, ReadLimit: opts.ReadLimit, Door: opts.Door,
		Since: opts.Since, Broadcast: own, Uncounted: opts.Uncounted, Value: s})
	if err != nil {
		if !errors.Is(err, wsconn.ErrShuttingDown) {
			s.log.LogAttrs(r.Context(), slog.LevelDebug, "handshake refused",
				slog.String("step", auth.StepRequest), slog.String("code", auth.CodeBadRequest),
				slog.String("reason", err.Error()), slog.String("remote", s.remote(r)))
		}
		return nil, err
	}
	if s.log.Enabled(r.Context(), slog.LevelDebug) { // Redact allocates
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "connection accepted",
			slog.String("sid", connectsid.Redact(sess.ID)), slog.String("remote", s.remote(r)))
	}
	return c, nil
}

// ServerOf returns the server that accepted c (through ServeHTTP or
// Accept), or nil for a connection of another hub.
func ServerOf(c *Conn) *Server {
	s, _ := c.Value().(*Server)
	return s
}

// Gate returns the gate the server checks handshakes with.
func (s *Server) Gate() *auth.Gate { return s.gate }

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
	if s.hub.Closed() {
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
	ws, err := s.explainer.Upgrade(w, r, nil)
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

// Healthz returns the liveness probe (liveness.Tracker.Healthz): 200
// while the store answers, 503 otherwise; its body counts the server's
// connections.
func (s *Server) Healthz() http.Handler { return s.live.Healthz(s.Len) }

// Readyz returns the readiness probe (liveness.Tracker.Readyz): 200 while
// the store answers and the Tracker watches session changes.
func (s *Server) Readyz() http.Handler { return s.live.Readyz(s.Len) }

// Len returns the number of open connections.
func (s *Server) Len() int { return s.hub.Len() }

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

// Shutdown refuses new handshakes, closes every connection with 1001 and
// waits until their goroutines have ended or ctx is done. A server with
// its own Tracker (no Config.Live) shuts it down too.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.hub.Shutdown(ctx)
	if s.ownLive {
		err = errors.Join(err, s.live.Shutdown(ctx)) // the holds of other doors too
	}
	return err
}

// remote is the client's address as the server logs it.
func (s *Server) remote(r *http.Request) string { return auth.RemoteAddr(r, s.cfg.TrustedProxies) }
