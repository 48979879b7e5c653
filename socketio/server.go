// Package socketio is the Socket.IO 5 server on top of package engineio:
// namespaces, sockets, events and acknowledgements, rooms and broadcasts
// (through an Adapter, across instances with a fleet's), for the
// unmodified socket.io-client of an Express app's pages and the users
// logged in to that app. The Engine.IO sessions beneath (transports,
// upgrade, heartbeat, the auth gate at every handshake and upgrade, the
// end of a session with its Express session) are engineio's; this package
// is their Handler, and tells a socket why it ended (session-ended).
//
// The packet codecs are packages engineio/parser and socketio/parser.
package socketio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/engineio"
	"github.com/expressbridge/expressbridge/internal/defaults"
	"github.com/expressbridge/expressbridge/liveness"
	"github.com/expressbridge/expressbridge/wsconn"
)

// Defaults for Config's zero fields: Socket.IO's own.
const (
	// DefaultPingInterval is how often the server pings a client.
	DefaultPingInterval = engineio.DefaultPingInterval
	// DefaultPingTimeout is how long a client has to answer a ping
	// before its session is closed.
	DefaultPingTimeout = engineio.DefaultPingTimeout
	// DefaultMaxHTTPBufferSize bounds one polling payload or WebSocket
	// message (socket.io's maxHttpBufferSize).
	DefaultMaxHTTPBufferSize = engineio.DefaultMaxHTTPBufferSize
	// DefaultReadTimeout bounds receiving a long-polling POST's body,
	// DefaultWriteTimeout sending a long-polling response (see
	// engineio.DefaultReadTimeout, engineio.DefaultWriteTimeout for why).
	DefaultReadTimeout  = engineio.DefaultReadTimeout
	DefaultWriteTimeout = engineio.DefaultWriteTimeout
	// DefaultConnectTimeout is how long an Engine.IO session may stay
	// without joining a namespace.
	DefaultConnectTimeout = 45 * time.Second
	// DefaultAckTimeout bounds EmitWithAck when ctx has no deadline.
	DefaultAckTimeout = 10 * time.Second
	// DefaultMaxAuthBytes bounds a CONNECT's auth, which its socket keeps
	// for life (Socket.Auth): socket.io-client's auth option carries a
	// token or a few fields (a JWT is about 1 KB), and 8 KiB keeps 2,000
	// sockets of one login at 16 MB rather than 2 GB.
	DefaultMaxAuthBytes = 8 << 10
	// DefaultMaxSessionsPerLogin bounds the Engine.IO sessions of one
	// Express session (engineio.DefaultMaxSessionsPerLogin: 100 tabs).
	DefaultMaxSessionsPerLogin = engineio.DefaultMaxSessionsPerLogin
)

// Defaults of the rate limits on the events clients send: generous for a
// real page (a message per keystroke, a cursor at 30 Hz, the emits
// socket.io-client buffered while it was offline sent at once), far below
// a flood. The user's burst stays under a long-polling receiver's queue
// (engineio.DefaultSendQueue, 64 packets): one user's burst relayed to
// everyone cannot fill it alone.
const (
	// DefaultMaxEventsPerSecond is the rate one socket's events refill at.
	DefaultMaxEventsPerSecond = 30
	// DefaultEventBurst is how many events one socket may send at once.
	DefaultEventBurst = 30
	// DefaultMaxUserEventsPerSecond is the rate the events of all of one
	// user's sockets together refill at (two busy tabs).
	DefaultMaxUserEventsPerSecond = 50
	// DefaultUserEventBurst is how many events one user's sockets may
	// send at once together.
	DefaultUserEventBurst = 50
	// DefaultMaxDroppedEvents is how many events a socket may have dropped
	// over its limit within 10 s before it is disconnected
	// (ReasonRateLimited): a client sending at twice its rate goes within
	// about 3 s, a page that overflows its burst once never.
	DefaultMaxDroppedEvents = 100
)

// Config configures a Server. Live is required unless Insecure; other
// zero fields take the default named beside them. The Engine.IO fields
// go to engineio.Config as they are.
type Config struct {
	// Live follows every socket's Express session: a logout, an expiry or
	// a change to the login ends its sockets with session-ended
	// (engineio.Config.Live).
	Live *liveness.Tracker
	// Gate checks every handshake and upgrade (Live's gate when nil).
	Gate *auth.Gate
	// Insecure skips the gate: every client is accepted, without a
	// session or a user, from any origin; Live may then be nil. Only for
	// tests (the protocol suites connect without a cookie); never set it
	// in production.
	Insecure bool
	// Observer, when set, hears each Engine.IO session open and close
	// (metrics.Metrics is one).
	Observer wsconn.Observer
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client in logs (auth.RemoteAddr).
	TrustedProxies []netip.Prefix
	// PingInterval is how often the server pings (DefaultPingInterval).
	PingInterval time.Duration
	// PingTimeout is how long a ping may go unanswered (DefaultPingTimeout).
	PingTimeout time.Duration
	// MaxHTTPBufferSize bounds one payload or message in bytes, and the
	// attachments of one packet together (DefaultMaxHTTPBufferSize).
	MaxHTTPBufferSize int64
	// ConnectTimeout closes sessions that join no namespace (DefaultConnectTimeout).
	ConnectTimeout time.Duration
	// SendQueue is how many packets may wait for a long-polling client
	// before it is closed as too slow, and messages for a WebSocket client
	// (engineio.DefaultSendQueue).
	SendQueue int
	// SendQueueBytes bounds the bytes that may wait for a client in the
	// same way (engineio.SendQueuePayloads × MaxHTTPBufferSize when zero).
	SendQueueBytes int
	// MaxAuthBytes bounds a CONNECT's auth payload (DefaultMaxAuthBytes):
	// over it the CONNECT is refused with connect_error bad-request, as a
	// namespace middleware refuses.
	MaxAuthBytes int
	// HandshakeTimeout bounds the session lookup of a handshake
	// (engineio.DefaultHandshakeTimeout).
	HandshakeTimeout time.Duration
	// MaxSessions and MaxRefusedPerAddress bound the Engine.IO session
	// table (engineio.Config's, with its defaults).
	MaxSessions, MaxRefusedPerAddress int
	// ReadTimeout bounds reading a long-polling POST's body, WriteTimeout
	// writing a long-polling response (DefaultReadTimeout,
	// DefaultWriteTimeout); a request cut by either closes its session
	// (engineio.Config).
	ReadTimeout, WriteTimeout time.Duration
	// MaxSessionsPerLogin is how many Engine.IO sessions one Express
	// session may have open here (DefaultMaxSessionsPerLogin); the next
	// handshake's CONNECT gets connect_error too-many-sessions
	// (engineio.CodeTooManySessions). Negative: no cap.
	MaxSessionsPerLogin int
	// MaxPostBytesPerLogin bounds the bytes of long-polling POST bodies
	// one Express session may be sending at once here (4 ×
	// MaxHTTPBufferSize); a POST past it gets 429
	// engineio.CodeTooManyPostBytes and its session is closed (the client
	// reconnects). Negative: no budget (engineio.Config).
	MaxPostBytesPerLogin int64
	// MaxEventsPerSecond and EventBurst are the token bucket of each
	// socket's events (DefaultMaxEventsPerSecond, DefaultEventBurst): an
	// event without a token is dropped before any handler runs, and
	// counted (Server.DroppedEvents). Negative MaxEventsPerSecond: no
	// limit per socket.
	MaxEventsPerSecond float64
	EventBurst         int
	// MaxUserEventsPerSecond and UserEventBurst are the bucket the sockets
	// of one user (Socket.User) share on this server
	// (DefaultMaxUserEventsPerSecond, DefaultUserEventBurst): more tabs do
	// not make more room. Negative MaxUserEventsPerSecond: no limit per
	// user. Sockets without a user have none.
	MaxUserEventsPerSecond float64
	UserEventBurst         int
	// MaxDroppedEvents is how many events a socket may have dropped within
	// 10 s before its session is disconnected with ReasonRateLimited
	// (DefaultMaxDroppedEvents). Negative: drop only, never disconnect.
	MaxDroppedEvents int
	// PerMessageDeflate, when set, negotiates permessage-deflate on the
	// WebSocket transport (engineio.Config.PerMessageDeflate; off when
	// nil, as socket.io's default). Emits and broadcasts are compressed
	// from its threshold on unless sent with compress false
	// (Socket.Compress, BroadcastOptions.NoCompress).
	PerMessageDeflate *wsconn.Deflate
	// Recovery, when set, turns on connection state recovery
	// (socket.io's connectionStateRecovery; off when nil, as in Node): see
	// RecoveryConfig and Socket.Recovered. The Express session is checked
	// again at every recovery.
	Recovery *RecoveryConfig
	// NewAdapter makes each namespace's rooms (NewMemoryAdapter when nil).
	NewAdapter func(deliver func(SocketID, *Encoded)) Adapter
	// Logger receives the server's logs (slog.Default when nil).
	Logger *slog.Logger
}

// Server is the Socket.IO door: an http.Handler for the path socket.io-client
// uses (/socket.io/ by default). Register namespaces and their handlers with
// Of before serving. It is safe for concurrent use.
type Server struct {
	cfg Config
	eio *engineio.Server
	log *slog.Logger

	mu      sync.Mutex
	nsps    map[string]*Namespace
	parents []*Namespace // OfMatch's, in order

	recovery      *recovery     // nil: off (recovery.go)
	users         userLimits    // the users' event buckets (ratelimit.go)
	droppedEvents atomic.Uint64 // events dropped over a rate limit
}

// New returns a server for cfg. It fails when neither Insecure nor Live is
// set, or a limit is negative, or with ErrRecoveryFleet.
func New(cfg Config) (*Server, error) {
	if cfg.ConnectTimeout < 0 || cfg.MaxAuthBytes < 0 || cfg.EventBurst < 0 || cfg.UserEventBurst < 0 {
		return nil, errors.New("socketio: Config limits and timeouts must not be negative")
	}
	if cfg.Recovery != nil && cfg.NewAdapter != nil {
		return nil, ErrRecoveryFleet
	}
	defaults.Set(&cfg.MaxHTTPBufferSize, DefaultMaxHTTPBufferSize)
	defaults.Set(&cfg.ConnectTimeout, DefaultConnectTimeout)
	defaults.Set(&cfg.MaxAuthBytes, DefaultMaxAuthBytes)
	defaults.Set(&cfg.MaxEventsPerSecond, DefaultMaxEventsPerSecond)
	defaults.Set(&cfg.EventBurst, DefaultEventBurst)
	defaults.Set(&cfg.MaxUserEventsPerSecond, DefaultMaxUserEventsPerSecond)
	defaults.Set(&cfg.UserEventBurst, DefaultUserEventBurst)
	defaults.Set(&cfg.MaxDroppedEvents, DefaultMaxDroppedEvents)
	if cfg.NewAdapter == nil {
		cfg.NewAdapter = func(deliver func(SocketID, *Encoded)) Adapter { return NewMemoryAdapter(deliver) }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, log: cfg.Logger, nsps: make(map[string]*Namespace)}
	if cfg.Recovery != nil {
		if cfg.Recovery.MaxDisconnectionDuration < 0 || cfg.Recovery.MaxKeptSockets < 0 ||
			cfg.Recovery.MaxKeptPerSession < 0 || cfg.Recovery.MaxMissedPackets < 0 {
			return nil, errors.New("socketio: RecoveryConfig bounds must not be negative")
		}
		s.recovery = newRecovery(cfg.Recovery)
	}
	eio, err := engineio.New(engineio.Config{
		Handler:              s.newClient,
		Gate:                 cfg.Gate,
		Live:                 cfg.Live,
		Insecure:             cfg.Insecure,
		Door:                 auth.DoorSocketIO,
		Observer:             cfg.Observer,
		TrustedProxies:       cfg.TrustedProxies,
		PingInterval:         cfg.PingInterval,
		PingTimeout:          cfg.PingTimeout,
		MaxHTTPBufferSize:    cfg.MaxHTTPBufferSize,
		SendQueue:            cfg.SendQueue,
		HandshakeTimeout:     cfg.HandshakeTimeout,
		MaxSessions:          cfg.MaxSessions,
		MaxRefusedPerAddress: cfg.MaxRefusedPerAddress,
		LogName:              "socket.io",
		Logger:               cfg.Logger,
		SendQueueBytes:       cfg.SendQueueBytes,
		ReadTimeout:          cfg.ReadTimeout,
		WriteTimeout:         cfg.WriteTimeout,
		MaxSessionsPerLogin:  cfg.MaxSessionsPerLogin,
		MaxPostBytesPerLogin: cfg.MaxPostBytesPerLogin,
		PerMessageDeflate:    cfg.PerMessageDeflate,
	})
	if err != nil {
		return nil, fmt.Errorf("socketio: %w", err)
	}
	s.eio = eio
	s.Of("/")
	return s, nil
}

// The limits of Socket.IO's own, as engineio.Server.LimitHit logs them
// and the Observer (an engineio.LimitObserver) hears them.
const (
	LimitTooManyArgs  = "too-many-args"  // an EVENT or ACK of more than parser.MaxArgs arguments
	LimitAuthTooLarge = "auth-too-large" // a CONNECT's auth over Config.MaxAuthBytes
	LimitEventDropped = "event-dropped"  // an event over a rate limit, dropped
	LimitRateLimited  = ReasonRateLimited
)

// ServeHTTP serves one Engine.IO request: a polling handshake, poll or
// post, or a WebSocket handshake or upgrade.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.eio.ServeHTTP(w, r) }

// Shutdown refuses new sessions and closes every open one as the server
// does (each socket disconnected, the WebSocket with 1001
// "shutting-down"): a pending poll is answered at once, so that
// http.Server.Shutdown need not wait for it. Then it waits for the
// WebSocket connections to close, or ctx (engineio.Server.Shutdown).
func (s *Server) Shutdown(ctx context.Context) error { return s.eio.Shutdown(ctx) }

// Len returns the number of open Engine.IO sessions.
func (s *Server) Len() int { return s.eio.Len() }

// DroppedEvents returns how many events clients sent over their rate
// limits, dropped before any handler ran, since the server started.
func (s *Server) DroppedEvents() uint64 { return s.droppedEvents.Load() }
