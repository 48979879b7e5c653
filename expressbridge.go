// Package expressbridge is the one constructor a Go service needs to accept
// the users of an unmodified Express app: Config names the app's session
// store, secrets, cookie and login fields; New opens the store, builds the
// auth gate, the doors (Socket.IO, and a plain WebSocket door when given a
// protocol), the fan-out between instances and the session watch, and
// starts what follows sessions, so that none of it can be forgotten. Serve
// runs a hardened http.Server until its context ends, then shuts down in
// the right order. `expressbridge serve` is this package's thinnest user.
package expressbridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/expressbridge/expressbridge/adapter/redisadapter"
	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/bridge"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/cookiesession"
	"github.com/expressbridge/expressbridge/connectsid/redisstore"
	"github.com/expressbridge/expressbridge/connectsid/storeurl"
	"github.com/expressbridge/expressbridge/internal/defaults"
	"github.com/expressbridge/expressbridge/internal/ratelog"
	"github.com/expressbridge/expressbridge/liveness"
	"github.com/expressbridge/expressbridge/metrics"
	"github.com/expressbridge/expressbridge/socketio"
)

// Defaults for Config's zero fields, each the one `expressbridge serve` has.
const (
	DefaultSocketIOPath = "/socket.io/"
	// DefaultRevalidateInterval reloads open sessions where the store's
	// watch cannot work (Redis without CONFIG).
	DefaultRevalidateInterval = bridge.DefaultRevalidateInterval
	// DefaultPostgresRevalidateInterval is the revalidation on PostgreSQL
	// without the notify trigger, and on MariaDB/MySQL always: one query
	// for every open session each second is then how a logout is seen.
	DefaultPostgresRevalidateInterval = time.Second
	// DefaultTouchInterval renews an active session's TTL at most this
	// often, as Express does on each request.
	DefaultTouchInterval = time.Minute
	// DefaultShutdownTimeout bounds Serve's graceful shutdown.
	DefaultShutdownTimeout = 10 * time.Second
	// DefaultIdleTimeout closes a kept-alive connection that has carried
	// no request for this long. Longer than Socket.IO's ping interval
	// (25 s), so that a long-polling client's connections, which carry
	// at least a pong each interval, are kept between two; short enough
	// that connections opened and left idle are released within half a
	// minute, not held until the file limit (Node's keepAliveTimeout is
	// 5 s; docs/deploy/nginx.conf keeps its own upstream connections 20 s,
	// below this, so that nginx never sends on one the bridge is closing).
	DefaultIdleTimeout = 30 * time.Second
	// DefaultWriteTimeout bounds writing a response (Config.WriteTimeout):
	// an answer of a few KiB takes milliseconds to a client that reads,
	// and a client that does not read must not hold the connection and
	// its goroutine longer than a slow network would excuse.
	DefaultWriteTimeout = 10 * time.Second
	// fanoutStartTimeout bounds how long New waits for Redis to confirm the
	// fan-out's subscriptions; past it, serving begins and they are made
	// as soon as Redis answers.
	fanoutStartTimeout = 5 * time.Second
)

// Errors of New and Serve. Check them with errors.Is.
var (
	// ErrConfig means the Config cannot work; the message names the field.
	ErrConfig = errors.New("expressbridge: bad config")
	// ErrShutdownTimeout means Serve's shutdown did not finish within
	// Config.ShutdownTimeout.
	ErrShutdownTimeout = errors.New("expressbridge: shutdown did not finish in time")
)

// Config configures a Server. StoreURL and Secrets (or Verifier) are
// required; every other zero field takes the default named beside it.
type Config struct {
	// StoreURL names the app's session store (storeurl.Open's forms:
	// redis://, rediss://, redis+cluster://, Sentinel, postgres://, mysql://
	// for express-mysql-session, connect-session-knex's knex+postgres://,
	// knex+mysql://, knex+sqlite:///path), or cookie-session: for an app whose
	// sessions are its cookies (cookie-session; ?algorithm= for new
	// Keygrip(keys, algorithm)).
	StoreURL string
	// StoreOptions are connect-redis's or connect-pg-simple's options.
	// Timing is set by New. Expiry by cookie.expires is the gate's
	// (AcceptExpired below), not the store's.
	StoreOptions storeurl.Options

	// Secrets are express-session's secret option, in its order; or
	// Verifier, built from them elsewhere. For cookie-session they are its
	// keys option (Verifier does not apply).
	Secrets  []string
	Verifier *connectsid.Verifier
	// CookieName is express-session's name option (connect.sid), or
	// cookie-session's (session).
	CookieName string
	// LoginField and UserField are dotted paths in the session record
	// (auth.DefaultLoginField, auth.DefaultUserField).
	LoginField, UserField string
	// AcceptExpired accepts records whose cookie.expires has passed while
	// the store still holds them, as Express does (rolling sessions).
	AcceptExpired bool
	// AllowedOrigins are the origins whose pages may connect; none: only
	// pages of the server's own host.
	AllowedOrigins []string

	// WebSocket, when set, serves the plain WebSocket door at WebSocketPath
	// with this protocol. Nil: no such door (nothing relays by default).
	WebSocket     bridge.Protocol
	WebSocketPath string // "/ws" when empty
	// DisableSocketIO turns the Socket.IO door off; it is on by default at
	// SocketIOPath (DefaultSocketIOPath).
	DisableSocketIO bool
	SocketIOPath    string
	// Socket.IO's pingInterval, pingTimeout and maxHttpBufferSize
	// (socketio's defaults).
	SocketIOPingInterval, SocketIOPingTimeout time.Duration
	SocketIOMaxBuffer                         int64
	// SocketIOMaxSessions bounds the Engine.IO session table, and
	// SocketIOMaxRefusedPerAddress the sessions one client address may
	// hold after the gate refused it (engineio's defaults).
	SocketIOMaxSessions, SocketIOMaxRefusedPerAddress int
	// SocketIOSendQueueBytes bounds the bytes waiting for a Socket.IO
	// client, beside SendQueue's count (socketio.Config.SendQueueBytes:
	// 4 × SocketIOMaxBuffer when zero).
	SocketIOSendQueueBytes int
	// SocketIOReadTimeout bounds reading a long-polling POST's body,
	// SocketIOWriteTimeout writing a long-polling response
	// (socketio.DefaultReadTimeout, socketio.DefaultWriteTimeout).
	SocketIOReadTimeout, SocketIOWriteTimeout time.Duration
	// What one user may make the Socket.IO door do (socketio.Config's
	// fields of the same names, their defaults when zero; negative: no
	// limit): the token buckets of each socket's events and of each
	// user's sockets together, the drops after which a socket is
	// disconnected (rate-limited), and the Engine.IO sessions one Express
	// session may open (too-many-sessions beyond).
	SocketIOMaxEventsPerSecond, SocketIOMaxUserEventsPerSecond float64
	SocketIOEventBurst, SocketIOUserEventBurst                 int
	SocketIOMaxDroppedEvents                                   int
	SocketIOMaxSessionsPerLogin                                int
	// SocketIOMaxPostBytesPerLogin bounds the long-polling POST bytes one
	// Express session may be sending at once (socketio.Config's
	// MaxPostBytesPerLogin: 4 × SocketIOMaxBuffer when zero; negative:
	// no budget).
	SocketIOMaxPostBytesPerLogin int64
	// SocketIORecovery turns Socket.IO's connection state recovery on
	// with this maxDisconnectionDuration (socketio.Config.Recovery, its
	// other bounds at their defaults); 0 is off, as in Node. The Express
	// session is checked again at every recovery. One instance only: it
	// needs SingleInstance (socketio.ErrRecoveryFleet otherwise), since a
	// kept socket is sent this instance's broadcasts only.
	SocketIORecovery time.Duration

	// SingleInstance turns the fan-out between instances off. By default
	// broadcasts, rooms and the emitter's pushes cross instances through
	// Redis Pub/Sub in @socket.io/redis-adapter's protocol, on PubSubURL or
	// else the store's Redis; a PostgreSQL or MySQL store without
	// PubSubURL is refused unless SingleInstance is set.
	SingleInstance bool
	PubSubURL      string
	PubSubSharded  bool   // Redis 7 sharded Pub/Sub (createShardedAdapter)
	PubSubKey      string // redisadapter.DefaultKey when empty

	// Limits of the WebSocket door (bridge's defaults).
	ReadLimit        int64
	PingInterval     time.Duration
	SendQueue        int
	HandshakeTimeout time.Duration
	// RevalidateInterval (DefaultRevalidateInterval; on PostgreSQL and
	// MySQL DefaultPostgresRevalidateInterval).
	RevalidateInterval time.Duration
	// TouchInterval (DefaultTouchInterval); negative: never touch.
	TouchInterval time.Duration
	// MaxConnectionAge, when positive, ends every connection (WebSocket
	// and Socket.IO, either transport) after at most this long, with the
	// reason max-connection-age, so that its client reconnects and is
	// judged again (liveness.Config.MaxConnectionAge). Zero: never. With
	// cookie-session it bounds how long a socket outlives a logout.
	MaxConnectionAge time.Duration
	// CloseOnStoreUnavailable closes every connection when a store ping
	// fails (see bridge.Config).
	CloseOnStoreUnavailable bool
	// TrustedProxies are reverse proxies whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// MaxHTTPConnections caps the connections HTTPServer keeps open
	// that are not upgraded WebSockets (DefaultMaxHTTPConnections). A new
	// connection past it closes the one idle longest between requests, or
	// itself when every one is busy; a long-polling GET waiting is busy,
	// never shed. Negative: no cap.
	MaxHTTPConnections int
	// ShutdownTimeout bounds Serve's shutdown (DefaultShutdownTimeout).
	ShutdownTimeout time.Duration
	// IdleTimeout closes HTTPServer's kept-alive connections idle for
	// this long (DefaultIdleTimeout).
	IdleTimeout time.Duration
	// WriteTimeout bounds writing the response to every request Handler
	// serves, from the request's start (DefaultWriteTimeout): /healthz,
	// /readyz, refusals, handshake answers, the Handle'd routes. A client
	// that does not read loses its connection within it. Long-polling
	// responses have their own (SocketIOWriteTimeout, from when they
	// write); WebSocket connections theirs once upgraded.
	WriteTimeout time.Duration

	// Metrics, when set, counts handshakes, connections, store requests
	// and the fan-out; serve it with Metrics.Handler on a listener of its own.
	Metrics *metrics.Metrics
	// Logger receives the logs (slog.Default when nil).
	Logger *slog.Logger
}

// Server is a running bridge: its doors, the session watch and the fan-out.
type Server struct {
	cfg     Config
	log     *slog.Logger
	store   *storeurl.Store
	gate    *auth.Gate
	br      *bridge.Server
	live    *liveness.Tracker
	sio     *socketio.Server // nil when off
	bus     *redisadapter.Bus
	fanout  string
	mux     *http.ServeMux
	handler http.Handler // mux, under the write deadline

	secrets     int
	closeFanout func()
	cancel      context.CancelFunc
	ran         chan struct{} // closed when the session watch has returned
	closeMu     sync.Once
}

// New opens the store cfg names and builds and starts the server: the
// session watch (or revalidation), and the fan-out's subscriptions. The
// server's background work lasts until Close or Shutdown; ctx bounds only
// New's own waiting. A store that does not answer yet is logged, not
// refused: handshakes get 503 store-unavailable until it does.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	log := cfg.Logger
	if err := cfg.check(); err != nil {
		return nil, err
	}
	kind, err := storeurl.KindOf(cfg.StoreURL)
	if err != nil {
		return nil, fmt.Errorf("%w: StoreURL: %w", ErrConfig, err)
	}
	ver := cfg.Verifier
	if ver == nil && kind != storeurl.CookieSession {
		v, err := connectsid.NewVerifier(cfg.Secrets...)
		if err != nil {
			return nil, fmt.Errorf("%w: Secrets: %v", ErrConfig, err)
		}
		ver = v
	}
	sopts := cfg.StoreOptions
	if cfg.Metrics != nil {
		sopts.Timing = cfg.Metrics.StoreRequest
	}
	store, err := storeurl.Open(ctx, cfg.StoreURL, sopts)
	if err != nil {
		return nil, fmt.Errorf("%w: StoreURL: %w", ErrConfig, err)
	}
	s := &Server{cfg: cfg, log: log, store: store, mux: http.NewServeMux(), ran: make(chan struct{})}
	s.handler = withWriteDeadline(s.mux, cfg.WriteTimeout)
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	if cfg.Metrics != nil && store.Redis != nil {
		store.Redis.Client().AddHook(cfg.Metrics.RedisHook())
	}
	if err := s.openFanout(); err != nil {
		return nil, err
	}

	var gateObs auth.Observer
	var brObs bridge.Observer
	if cfg.Metrics != nil {
		gateObs, brObs = cfg.Metrics, cfg.Metrics
	}
	// The store itself, not a wrapper: the bridge looks for what else it
	// can do (GetMany for PostgreSQL's polls, Touch, Ping).
	var sessions auth.Store
	var cookies auth.CookieSessions
	var watch liveness.WatchFunc
	revalidate := cfg.RevalidateInterval
	switch {
	case store.Kind == storeurl.CookieSession:
		if cfg.Verifier != nil {
			return nil, fmt.Errorf("%w: Verifier is express-session's: cookie-session's keys are Secrets", ErrConfig)
		}
		codec, err := cookiesession.New(cookiesession.Config{Name: cfg.CookieName, Keys: cfg.Secrets, Algorithm: store.CookieAlgorithm})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
		cookies, ver = codec, nil
		s.secrets = codec.Keys()
	case store.PG != nil:
		sessions, watch = store.PG, store.PG.Watch
		if revalidate == 0 {
			revalidate = DefaultPostgresRevalidateInterval
		}
	case store.MySQL != nil, store.Knex != nil:
		// Their tables report no changes: poll the open sessions from the
		// start, one GetMany a round, as PostgreSQL does without its
		// trigger.
		sessions = store.Sessions()
		if revalidate == 0 {
			revalidate = DefaultPostgresRevalidateInterval
		}
	default:
		sessions, watch = store.Redis, store.Redis.Watch
	}
	if ver != nil {
		s.secrets = ver.Secrets()
	}
	gcfg := auth.Config{
		Observer:       gateObs,
		Cookies:        cookies,
		CookieName:     cfg.CookieName,
		LoginField:     cfg.LoginField,
		UserField:      cfg.UserField,
		AcceptExpired:  cfg.AcceptExpired,
		AllowedOrigins: cfg.AllowedOrigins,
	}
	if cookies == nil {
		gcfg.Verifier, gcfg.Store = ver, sessions
	}
	if s.gate, err = auth.New(gcfg); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	touch := cfg.TouchInterval
	switch {
	case touch == 0:
		touch = DefaultTouchInterval
	case touch < 0:
		touch = 0
	}
	lcfg := liveness.Config{Gate: s.gate, Watch: watch, RevalidateInterval: revalidate, TouchInterval: touch,
		CloseOnStoreUnavailable: cfg.CloseOnStoreUnavailable, Timeout: cfg.HandshakeTimeout, Logger: log,
		MaxConnectionAge: cfg.MaxConnectionAge}
	if cfg.Metrics != nil {
		lcfg.Observer = cfg.Metrics
	}
	if s.live, err = liveness.New(lcfg); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if cfg.WebSocket != nil {
		if err := s.openWebSocket(ctx, brObs); err != nil {
			return nil, err
		}
	}
	s.mux.Handle("/healthz", s.live.Healthz(s.connections))
	s.mux.Handle("/readyz", s.live.Readyz(s.connections))
	if !cfg.DisableSocketIO {
		sioCfg := socketio.Config{Live: s.live, HandshakeTimeout: cfg.HandshakeTimeout, SendQueue: cfg.SendQueue, Logger: log,
			PingInterval: cfg.SocketIOPingInterval, PingTimeout: cfg.SocketIOPingTimeout, MaxHTTPBufferSize: cfg.SocketIOMaxBuffer,
			MaxSessions: cfg.SocketIOMaxSessions, MaxRefusedPerAddress: cfg.SocketIOMaxRefusedPerAddress,
			SendQueueBytes: cfg.SocketIOSendQueueBytes, ReadTimeout: cfg.SocketIOReadTimeout, WriteTimeout: cfg.SocketIOWriteTimeout,
			TrustedProxies:     cfg.TrustedProxies,
			MaxEventsPerSecond: cfg.SocketIOMaxEventsPerSecond, EventBurst: cfg.SocketIOEventBurst,
			MaxUserEventsPerSecond: cfg.SocketIOMaxUserEventsPerSecond, UserEventBurst: cfg.SocketIOUserEventBurst,
			MaxDroppedEvents: cfg.SocketIOMaxDroppedEvents, MaxSessionsPerLogin: cfg.SocketIOMaxSessionsPerLogin,
			MaxPostBytesPerLogin: cfg.SocketIOMaxPostBytesPerLogin, Observer: brObs}
		if cfg.SocketIORecovery < 0 {
			return nil, fmt.Errorf("%w: SocketIORecovery must not be negative (0: off)", ErrConfig)
		}
		if cfg.SocketIORecovery > 0 {
			sioCfg.Recovery = &socketio.RecoveryConfig{MaxDisconnectionDuration: cfg.SocketIORecovery}
		}
		if s.bus != nil {
			sioCfg.NewAdapter = s.bus.NewAdapter
		}
		if s.sio, err = socketio.New(sioCfg); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
		s.mux.Handle(cfg.SocketIOPath, s.sio)
		if !strings.HasSuffix(cfg.SocketIOPath, "/") {
			s.mux.Handle(cfg.SocketIOPath+"/", s.sio) // socket.io-client adds the slash
		}
	}
	if err := s.store.Ping(ctx); err != nil {
		log.Warn("the session store does not answer yet; handshakes get 503 store-unavailable until it does",
			"store", store.URL, "err", err)
	}
	// The watch starts here, so that no server follows sessions without it.
	rctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() {
		defer close(s.ran)
		s.live.Run(rctx)
	}()
	ok = true
	return s, nil
}

// openWebSocket builds the WebSocket door for Config.WebSocket, its
// broadcasts carried to the other instances when there is a fan-out.
func (s *Server) openWebSocket(ctx context.Context, obs bridge.Observer) error {
	cfg := &s.cfg
	var relay *redisadapter.Relay
	var fan bridge.Fanout
	if s.bus != nil {
		relay = s.bus.NewRelay()
		fan = relay
	}
	br, err := bridge.New(bridge.Config{
		Gate:             s.gate,
		TrustedProxies:   cfg.TrustedProxies,
		Observer:         obs,
		ReadLimit:        cfg.ReadLimit,
		PingInterval:     cfg.PingInterval,
		SendQueue:        cfg.SendQueue,
		HandshakeTimeout: cfg.HandshakeTimeout,
		Live:             s.live,
		Fanout:           fan,
		Protocol:         cfg.WebSocket,
		Logger:           s.log,
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	s.br = br
	if relay != nil {
		rctx, cancel := context.WithTimeout(ctx, fanoutStartTimeout)
		err := relay.Start(rctx, br.BroadcastLocal)
		cancel()
		if err != nil {
			s.log.Warn("the fan-out's Redis has not confirmed the subscriptions yet; broadcasts stay on this instance until it does",
				"err", err)
		}
	}
	s.mux.Handle(cfg.WebSocketPath, br)
	return nil
}

// connections counts the open connections for the probes' bodies.
func (s *Server) connections() int {
	conns, sessions := s.Len()
	return conns + sessions
}

// check refuses what cannot work and fills in the defaults.
func (c *Config) check() error {
	if c.StoreURL == "" {
		return fmt.Errorf("%w: StoreURL is required (the app's session store)", ErrConfig)
	}
	if c.Verifier == nil && len(c.Secrets) == 0 {
		return fmt.Errorf("%w: Secrets (or Verifier) is required: express-session's secret list", ErrConfig)
	}
	defaults.Set(&c.WebSocketPath, "/ws")
	defaults.Set(&c.SocketIOPath, DefaultSocketIOPath)
	defaults.Set(&c.SocketIOPingInterval, socketio.DefaultPingInterval)
	defaults.Set(&c.SocketIOPingTimeout, socketio.DefaultPingTimeout)
	defaults.Set(&c.SocketIOMaxBuffer, socketio.DefaultMaxHTTPBufferSize)
	defaults.Set(&c.ShutdownTimeout, DefaultShutdownTimeout)
	defaults.Set(&c.IdleTimeout, DefaultIdleTimeout)
	defaults.Set(&c.WriteTimeout, DefaultWriteTimeout)
	defaults.Set(&c.MaxHTTPConnections, DefaultMaxHTTPConnections)
	defaults.Set(&c.PubSubKey, redisadapter.DefaultKey)
	if c.IdleTimeout < 0 || c.WriteTimeout < 0 {
		return fmt.Errorf("%w: IdleTimeout and WriteTimeout must be positive", ErrConfig)
	}
	if c.MaxConnectionAge < 0 {
		return fmt.Errorf("%w: MaxConnectionAge must not be negative", ErrConfig)
	}
	if !strings.HasPrefix(c.WebSocketPath, "/") {
		return fmt.Errorf("%w: WebSocketPath must start with /, not %q", ErrConfig, c.WebSocketPath)
	}
	if !c.DisableSocketIO {
		if !strings.HasPrefix(c.SocketIOPath, "/") {
			return fmt.Errorf("%w: SocketIOPath must start with /, not %q", ErrConfig, c.SocketIOPath)
		}
		if c.WebSocket != nil && c.SocketIOPath == c.WebSocketPath {
			return fmt.Errorf("%w: SocketIOPath and WebSocketPath must differ (both %q)", ErrConfig, c.SocketIOPath)
		}
		if c.SocketIOPingInterval < 0 || c.SocketIOPingTimeout < 0 || c.SocketIOMaxBuffer < 0 ||
			c.SocketIOReadTimeout < 0 || c.SocketIOWriteTimeout < 0 {
			return fmt.Errorf("%w: SocketIOPingInterval, SocketIOPingTimeout, SocketIOMaxBuffer, SocketIOReadTimeout "+
				"and SocketIOWriteTimeout must be positive", ErrConfig)
		}
	}
	return nil
}

// openFanout opens the bus the config asks for.
func (s *Server) openFanout() error {
	cfg := &s.cfg
	if cfg.SingleInstance {
		s.fanout = "off (single instance)"
		return nil
	}
	var obs interface{ Resubscribed() }
	if cfg.Metrics != nil {
		obs = cfg.Metrics.AdapterObserver()
	}
	busCfg := redisadapter.BusConfig{Key: cfg.PubSubKey, Sharded: cfg.PubSubSharded, Observer: obs, Logger: s.log}
	switch {
	case cfg.PubSubURL != "":
		client, err := redisstore.OpenURL(cfg.PubSubURL)
		if err != nil {
			return fmt.Errorf("%w: PubSubURL %s: %v", ErrConfig, storeurl.Redact(cfg.PubSubURL), err)
		}
		bus := redisadapter.NewBus(client, busCfg)
		s.bus, s.fanout = bus, storeurl.Redact(cfg.PubSubURL)
		s.closeFanout = func() { _ = bus.Close(); _ = client.Close() }
	case s.store.Redis != nil:
		s.bus, s.fanout = redisadapter.NewBus(s.store.Redis.Client(), busCfg), "the session store's Redis"
		bus := s.bus
		s.closeFanout = func() { _ = bus.Close() }
	default:
		return fmt.Errorf("%w: the store is %s and PubSubURL is not set: name the Redis that carries "+
			"the fan-out between instances, or set SingleInstance", ErrConfig, s.store.Kind.Name())
	}
	if cfg.PubSubSharded {
		s.fanout += " (sharded)"
	}
	return nil
}

// Handler serves the doors (Socket.IO, the WebSocket door when asked
// for), /healthz and /readyz.
func (s *Server) Handler() http.Handler { return s.handler }

// Gate is the auth gate every door walks; its Require puts Go routes
// behind the Express login.
func (s *Server) Gate() *auth.Gate { return s.gate }

// Require serves next only to requests logged in to the Express app
// (auth.Gate.Require).
func (s *Server) Require(next http.Handler) http.Handler { return s.gate.Require(next) }

// Of returns the Socket.IO namespace name, for its handlers. It panics
// when Config.DisableSocketIO is set: a namespace would never be served.
func (s *Server) Of(name string) *socketio.Namespace {
	if s.sio == nil {
		panic("expressbridge: Of: the Socket.IO door is off (Config.DisableSocketIO)")
	}
	return s.sio.Of(name)
}

// Bridge is the WebSocket door's server (Broadcast, Len), or nil when
// Config.WebSocket is not set.
func (s *Server) Bridge() *bridge.Server { return s.br }

// SocketIO is the Socket.IO server, or nil when it is off.
func (s *Server) SocketIO() *socketio.Server { return s.sio }

// Info says what the server runs on, for a start-up log.
type Info struct {
	Store    string // the store's URL without its password
	Sessions string // where it keeps sessions: a prefix or a table
	FanOut   string // where broadcasts cross instances, or "off …"
	Secrets  int
}

// Info says what the server runs on.
func (s *Server) Info() Info {
	return Info{Store: s.store.URL, Sessions: s.store.Where(), FanOut: s.fanout, Secrets: s.secrets}
}

// Len counts open connections: the WebSocket door's, then Socket.IO
// sessions on either transport.
func (s *Server) Len() (connections, socketIOSessions int) {
	if s.sio != nil {
		socketIOSessions = s.sio.Len()
	}
	if s.br != nil {
		connections = s.br.Len()
	}
	return connections, socketIOSessions
}

// HTTPServer returns an http.Server for Handler with the limits a bridge
// needs (header size and read time of a handshake, Config.IdleTimeout on
// kept-alive connections) and Socket.IO's pending polls released at its
// Shutdown. It sets no ReadTimeout: that would cut long-polling's
// pending GETs; the Socket.IO door bounds each body itself
// (Config.SocketIOReadTimeout). Responses are bounded by Handler itself
// (Config.WriteTimeout), so that they are under any http.Server.
func (s *Server) HTTPServer() *http.Server {
	hto := s.cfg.HandshakeTimeout
	if hto <= 0 {
		hto = bridge.DefaultHandshakeTimeout
	}
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: hto, // a handshake that trickles in is cut
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    bridge.MaxHeaderBytes,
		ErrorLog:          newHTTPErrorLog(s.log),
	}
	if s.cfg.MaxHTTPConnections > 0 { // idle connections shed first (connCap)
		var obs ratelog.Observer
		if s.cfg.Metrics != nil {
			obs = s.cfg.Metrics
		}
		hs.ConnState = newConnCap(s.cfg.MaxHTTPConnections, s.log, obs).connState
	}
	if s.sio != nil { // pending polls would hold http.Server.Shutdown
		hs.RegisterOnShutdown(func() {
			ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
			defer cancel()
			_ = s.sio.Shutdown(ctx) // Shutdown waits for it again, and says when it did not finish
		})
	}
	return hs
}

// Serve serves HTTPServer on ln until ctx ends, then shuts down within
// Config.ShutdownTimeout: stop accepting, release pending polls, close
// every connection with 1001, stop the watch and the fan-out. It returns
// nil after a clean shutdown, ErrShutdownTimeout when it took too long,
// and the http.Server's error when serving failed.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := s.HTTPServer()
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err := <-served:
		s.Close()
		return fmt.Errorf("expressbridge: serve: %w", err)
	case <-ctx.Done():
	}
	conns, sessions := s.Len()
	s.log.Info("shutting down", "connections", conns, "socketio_sessions", sessions, "timeout", s.cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	herr := hs.Shutdown(sctx) // stops accepting; hijacked WebSockets are the bridge's
	serr := s.Shutdown(sctx)
	if err := errors.Join(herr, serr); err != nil {
		s.log.Warn("shutdown did not finish in time", "err", err)
		return fmt.Errorf("%w: %w", ErrShutdownTimeout, err)
	}
	s.log.Info("stopped")
	return nil
}

// Shutdown closes every connection with 1001 (Socket.IO sessions get
// their goodbye), then stops the watch and the fan-out and closes the
// store. The http.Server in front must be shut down first.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	if s.sio != nil {
		err = s.sio.Shutdown(ctx)
	}
	if s.br != nil {
		err = errors.Join(err, s.br.Shutdown(ctx))
	}
	if s.live != nil { // the polling sessions' holds, and background reloads
		err = errors.Join(err, s.live.Shutdown(ctx))
	}
	s.Close()
	return err
}

// Close stops the background work and releases the store and the fan-out
// without waiting for connections. Only the first call counts.
func (s *Server) Close() {
	s.closeMu.Do(func() {
		if s.cancel != nil {
			s.cancel()
			<-s.ran
		}
		if s.closeFanout != nil {
			s.closeFanout()
		}
		if s.store != nil {
			s.store.Close()
		}
	})
}

// Handle serves h at pattern beside the doors, on Handler's mux: a Go
// route, usually wrapped in Require.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }
