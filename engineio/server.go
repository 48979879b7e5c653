// Package engineio is the Engine.IO 4 (EIO=4) server: sessions, their two
// transports (HTTP long-polling and WebSocket), the upgrade from one to
// the other, and the heartbeat, for the clients of an Express app's pages.
// Every handshake and upgrade goes through the auth gate, and a session
// ends when its Express session does. What travels inside MESSAGE packets
// is the Handler's: package socketio is one, an echo is another.
//
// The packet codec is package engineio/parser.
package engineio

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/engineio/parser"
	"github.com/expressbridge/expressbridge/internal/defaults"
	"github.com/expressbridge/expressbridge/internal/ratelog"
	"github.com/expressbridge/expressbridge/liveness"
	"github.com/expressbridge/expressbridge/wsconn"
)

// Defaults for Config's zero fields: engine.io's own, and the queue and
// handshake bounds of the other doors.
const (
	// DefaultPingInterval is how often the server pings a client.
	DefaultPingInterval = 25 * time.Second
	// DefaultPingTimeout is how long a client has to answer a ping
	// before its session is closed.
	DefaultPingTimeout = 20 * time.Second
	// DefaultMaxHTTPBufferSize bounds one polling payload or WebSocket
	// message (engine.io's maxHttpBufferSize).
	DefaultMaxHTTPBufferSize = 1_000_000
	// DefaultSendQueue is how many packets may wait for a long-polling
	// client before it is closed as too slow.
	DefaultSendQueue = 64
	// SendQueuePayloads is how many full payloads (MaxHTTPBufferSize
	// each) may wait for a client, on either transport, before it is
	// closed as too slow: the default of Config.SendQueueBytes. A client
	// that polls takes one payload per GET; four waiting mean it has
	// stopped reading, while a burst of a few large messages still gets
	// through to a client that reads.
	SendQueuePayloads = 4
	// DefaultHandshakeTimeout bounds the gate's session lookup at a
	// handshake: a stalled store does not hold the request forever.
	DefaultHandshakeTimeout = 5 * time.Second
	// DefaultReadTimeout bounds reading a long-polling POST's body, from
	// its headers to its last byte. engine.io-client posts what it has
	// queued at once, a few kilobytes that arrive within a round trip: a
	// body that takes longer, whatever its Content-Length or chunking,
	// is a slowloris holding a goroutine and a buffer.
	DefaultReadTimeout = 10 * time.Second
	// DefaultWriteTimeout bounds writing a long-polling response (a GET's
	// payload, the handshake's): a payload of maxHttpBufferSize (1 MB)
	// then needs 100 KB/s, and a client that reads slower, or never
	// reads, no longer holds its response and the payload in memory.
	DefaultWriteTimeout = 10 * time.Second
	// refusedMaxPayload bounds a POST of a session the gate refused: it
	// exists only to tell its refusal, and needs nothing from its client
	// but its CONNECTs (a namespace and a small auth each), pongs and a
	// CLOSE.
	refusedMaxPayload = 8 << 10
	// DefaultMaxSessionsPerLogin bounds the sessions one Express session
	// (one login, one cookie) may hold open here: generous for a user with
	// a hundred tabs, and a bound on what one login can make the server
	// keep (each session holds its queue, its CONNECT's auth, a hold).
	DefaultMaxSessionsPerLogin = 100
	// closeGrace is how long a session closed by the server waits on
	// long-polling for the GET that carries its last packets.
	closeGrace = 10 * time.Second
)

// Errors of Session's sends.
var (
	// ErrClosed: the session is closed, or has said its goodbye.
	ErrClosed = errors.New("engineio: session closed")
	// ErrSlowClient: the long-polling client let more than
	// Config.SendQueue packets, or Config.SendQueueBytes bytes, wait; the
	// session is closed.
	ErrSlowClient = errors.New("engineio: client cannot keep up")
)

// Config configures a Server. Zero fields take the default named beside
// them.
type Config struct {
	// Handler makes the layer above each new session (required). It runs
	// before the handshake is answered, and must not block.
	Handler func(*Session) Handler
	// Live follows every session's Express session: a logout, an expiry
	// or a change to the login ends it (Handler.End). Required unless
	// Insecure; an Insecure server without one follows nothing.
	Live *liveness.Tracker
	// Gate checks every handshake and upgrade: the origin, the cookie,
	// the Express session and its login (Live.Gate() when nil).
	Gate *auth.Gate
	// Door names the sessions to the gate's Observer and to Observer
	// (auth.DoorSocketIO when empty).
	Door string
	// Observer, when set, hears each session open and close, once
	// whatever its transports, with the reason (wsconn.Observer;
	// metrics.Metrics is one).
	Observer wsconn.Observer
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client in logs (auth.RemoteAddr).
	TrustedProxies []netip.Prefix
	// Insecure skips the gate: every client is accepted, without a
	// session or a user, from any origin. Only for tests (the protocol
	// suites connect without a cookie); never set it in production.
	Insecure bool
	// PingInterval is how often the server pings (DefaultPingInterval).
	PingInterval time.Duration
	// PingTimeout is how long a ping may go unanswered (DefaultPingTimeout).
	PingTimeout time.Duration
	// MaxHTTPBufferSize bounds one payload or message in bytes
	// (DefaultMaxHTTPBufferSize), the client's and the server's: a GET
	// carries at most that much (always one packet, however large), and
	// leaves the rest for the next GET.
	MaxHTTPBufferSize int64
	// SendQueue is how many packets may wait for a long-polling client
	// before it is closed as too slow (DefaultSendQueue); on WebSocket the
	// connection's queue applies, in messages.
	SendQueue int
	// SendQueueBytes bounds the bytes waiting for a client in the same
	// way, on long-polling (the payload they make) and on WebSocket (the
	// messages): SendQueuePayloads × MaxHTTPBufferSize when zero. A
	// packet larger than it still goes when nothing else waits.
	SendQueueBytes int
	// HandshakeTimeout bounds the session lookup of a handshake
	// (DefaultHandshakeTimeout).
	HandshakeTimeout time.Duration
	// MaxSessions bounds the session table: a handshake beyond it gets 503
	// server-full (DefaultMaxSessions).
	MaxSessions int
	// MaxRefusedPerAddress bounds the open sessions of one client address
	// whose handshake the gate refused: one beyond it gets 429
	// too-many-refused instead of a session (DefaultMaxRefusedPerAddress).
	MaxRefusedPerAddress int
	// ReadTimeout bounds reading the body of one long-polling POST
	// (DefaultReadTimeout); a POST cut by it closes its session
	// ("transport error"). It is a deadline on that request's connection
	// only (http.ResponseController), not http.Server.ReadTimeout, which
	// would also cut the pending GETs of long-polling and be left on the
	// connections WebSocket upgrades hijack.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing one long-polling response: the
	// handshake's, or a GET's payload (DefaultWriteTimeout). A response
	// cut by it closes its session ("transport error"): its packets are
	// lost.
	WriteTimeout time.Duration
	// MaxSessionsPerLogin is how many sessions one Express session may
	// have open on this server (DefaultMaxSessionsPerLogin); a handshake
	// beyond is refused with CodeTooManySessions, as the gate's refusals
	// are (Session.Refusal). Negative: no cap.
	MaxSessionsPerLogin int
	// MaxPostBytesPerLogin bounds the bytes of POST bodies one Express
	// session's sessions may be receiving at once here
	// (PostBudgetPayloads × MaxHTTPBufferSize): each POST reserves its
	// Content-Length (MaxHTTPBufferSize at most; that much when chunked)
	// until its body is read or cut, and one that would pass the budget
	// is refused with CodeTooManyPostBytes and its session closed.
	// Negative: no budget.
	MaxPostBytesPerLogin int64
	// PerMessageDeflate, when set, negotiates permessage-deflate (RFC
	// 7692) on the WebSocket transport with a client that offers it
	// (engine.io's perMessageDeflate, off when nil as in socket.io 4).
	// It is always without context takeover, so a connection keeps no
	// window between messages; a message is compressed from the
	// threshold on (1024 bytes when zero) unless sent with compress
	// false, and a client's inflates up to MaxHTTPBufferSize, past which
	// its connection closes with 1009.
	PerMessageDeflate *wsconn.Deflate
	// LogName names the sessions in the logs ("engine.io" when empty).
	LogName string
	// Logger receives the server's logs (slog.Default when nil). Logs
	// never hold a secret, a whole cookie or a whole session ID.
	Logger *slog.Logger
}

// Server is the Engine.IO door: an http.Handler for the path the client
// uses (/engine.io/, or /socket.io/ under Socket.IO). It is safe for
// concurrent use.
type Server struct {
	cfg        Config
	live       *liveness.Tracker // nil: sessions follow nothing (Insecure)
	hub        *wsconn.Hub       // the WebSocket connections
	gate       *auth.Gate
	cookieName string
	log        *slog.Logger
	// The log messages, named after Config.LogName.
	msgOpened, msgClosed, msgRefused string

	// noDeadlines warns once that the ResponseWriter cannot set the
	// read and write deadlines (deadline.go).
	noDeadlines sync.Once

	mu       sync.Mutex
	sessions map[string]*Session // by sid
	// admitted counts the table's reservations (admit), refusedBy those
	// of refused sessions by client address.
	admitted  int
	refusedBy map[string]int
	limits    ratelog.Limits // LimitHit's, the hub's too
	// refusedLife is refusedLife but in tests.
	refusedLife time.Duration
	perLogin    map[string]int   // sessions admitted and not yet forgotten, by Express session ID (admit)
	postBytes   map[string]int64 // POST body bytes reserved, by Express session ID (budget.go)
	closed      bool
}

// New returns a server for cfg. It fails when Handler is missing, when
// neither Insecure nor Live is set, or when a limit is negative.
func New(cfg Config) (*Server, error) {
	if cfg.Handler == nil {
		return nil, errors.New("engineio: Config.Handler is required")
	}
	if !cfg.Insecure && cfg.Live == nil {
		return nil, errors.New("engineio: Config.Live is required unless Insecure: it follows the Express sessions")
	}
	if cfg.PingInterval < 0 || cfg.PingTimeout < 0 || cfg.MaxHTTPBufferSize < 0 || cfg.SendQueue < 0 || cfg.SendQueueBytes < 0 ||
		cfg.HandshakeTimeout < 0 || cfg.MaxSessions < 0 || cfg.MaxRefusedPerAddress < 0 || cfg.ReadTimeout < 0 || cfg.WriteTimeout < 0 {
		return nil, errors.New("engineio: Config limits and timeouts must not be negative")
	}
	defaults.Set(&cfg.PingInterval, DefaultPingInterval)
	defaults.Set(&cfg.PingTimeout, DefaultPingTimeout)
	defaults.Set(&cfg.MaxHTTPBufferSize, DefaultMaxHTTPBufferSize)
	defaults.Set(&cfg.SendQueue, DefaultSendQueue)
	defaults.Set(&cfg.SendQueueBytes, SendQueuePayloads*int(min(cfg.MaxHTTPBufferSize, math.MaxInt/SendQueuePayloads)))
	defaults.Set(&cfg.HandshakeTimeout, DefaultHandshakeTimeout)
	defaults.Set(&cfg.ReadTimeout, DefaultReadTimeout)
	defaults.Set(&cfg.WriteTimeout, DefaultWriteTimeout)
	defaults.Set(&cfg.MaxSessionsPerLogin, DefaultMaxSessionsPerLogin)
	defaults.Set(&cfg.MaxPostBytesPerLogin, PostBudgetPayloads*min(cfg.MaxHTTPBufferSize, math.MaxInt64/PostBudgetPayloads))
	defaults.Set(&cfg.LogName, "engine.io")
	defaults.Set(&cfg.Door, auth.DoorSocketIO)
	defaults.Set(&cfg.MaxSessions, DefaultMaxSessions)
	defaults.Set(&cfg.MaxRefusedPerAddress, DefaultMaxRefusedPerAddress)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	// The hub's connections are uncounted (a session counts once): the
	// Observer hears only the limits they hit.
	var s *Server // set below, before any connection
	hub, err := wsconn.NewHub(wsconn.Config{Live: cfg.Live, SendQueue: cfg.SendQueue, SendQueueBytes: cfg.SendQueueBytes,
		HandshakeTimeout: cfg.HandshakeTimeout, Logger: cfg.Logger, Observer: cfg.Observer,
		LimitHit: func(door, limit string) { s.limits.Hit(door, limit, nil) }})
	if err != nil {
		return nil, err
	}
	s = &Server{
		cfg:         cfg,
		live:        cfg.Live,
		hub:         hub,
		log:         cfg.Logger,
		msgOpened:   cfg.LogName + " session opened",
		msgClosed:   cfg.LogName + " session closed",
		msgRefused:  cfg.LogName + " handshake refused",
		sessions:    make(map[string]*Session),
		refusedBy:   make(map[string]int),
		refusedLife: refusedLife,
		perLogin:    make(map[string]int),
		postBytes:   make(map[string]int64),
	}
	s.limits.Log = cfg.Logger
	if o, ok := cfg.Observer.(LimitObserver); ok {
		s.limits.Observer = o
	}
	if cfg.Insecure {
		cfg.Logger.Warn(cfg.LogName + " door without authentication (Config.Insecure): every client is accepted; for tests only")
	} else {
		s.gate = cfg.Gate
		if s.gate == nil {
			s.gate = s.live.Gate()
		}
		s.cookieName = s.gate.Config().CookieName
	}
	return s, nil
}

// ServeHTTP serves one Engine.IO request: a polling handshake, poll or
// post, or a WebSocket handshake or upgrade.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	transport := q.Get("transport")
	sid := q.Get("sid")
	// A request without a session is a handshake: its refusals before
	// the gate's steps are counted as the gate counts its own.
	handshake := sid == ""
	// 1. CORS, for the pages of the allowed origins.
	if transport == "polling" || r.Method == http.MethodOptions {
		if !s.cors(w, r, handshake && r.Method != http.MethodOptions) {
			return
		}
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	// 2. The protocol version and the transport.
	if v := q.Get("EIO"); v == "" {
		s.badRequest(w, r, handshake, "the EIO query parameter is missing (socket.io-client 3 or later sends EIO=4)")
		return
	} else if _, ok := parser.ParseVersion(v); !ok {
		s.badRequest(w, r, handshake, "unsupported Engine.IO protocol version EIO="+v+": this server speaks EIO=4 (socket.io-client 3 or later)")
		return
	}
	if transport != "polling" && transport != "websocket" {
		s.badRequest(w, r, handshake, "unknown transport "+strconv.Quote(transport)+": use polling or websocket")
		return
	}
	if s.isClosed() {
		ref := auth.ShuttingDown()
		if handshake {
			s.report(r, ref.Code)
		}
		auth.WriteRefusal(w, ref)
		return
	}
	switch {
	case transport == "websocket":
		s.serveWebSocket(w, r, sid)
	case sid == "":
		s.handshakePolling(w, r)
	default:
		s.servePolling(w, r, sid)
	}
}

// badRequest refuses a request that breaks the protocol; a handshake's
// refusal is counted (bad-request).
func (s *Server) badRequest(w http.ResponseWriter, r *http.Request, handshake bool, msg string) {
	if handshake {
		s.report(r, auth.CodeBadRequest)
	}
	badRequest(w, msg)
}

// report counts a handshake's result that the gate did not reach itself.
func (s *Server) report(r *http.Request, result string) {
	if s.gate != nil {
		s.gate.Report(auth.WithDoor(r.Context(), s.cfg.Door), result)
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	return closed || (s.live != nil && s.live.Closed())
}

// Shutdown refuses new sessions and ends every open one as the server
// does (Handler.End with liveness.ShuttingDown): a pending poll is
// answered at once, so that http.Server.Shutdown need not wait for it.
// Then it waits for the WebSocket connections to close, or ctx. Call it
// from http.Server.RegisterOnShutdown, or before http.Server.Shutdown.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	all := make([]*Session, 0, len(s.sessions))
	for _, e := range s.sessions {
		all = append(all, e)
	}
	s.mu.Unlock()
	for _, e := range all {
		e.end(liveness.ShuttingDown)
	}
	return s.hub.Shutdown(ctx)
}

// Len returns the number of open sessions.
func (s *Server) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// cors answers the CORS headers of a polling request, and refuses (403)
// requests from pages of origins that are not allowed, counting the
// refusal of a handshake. It reports whether to go on.
func (s *Server) cors(w http.ResponseWriter, r *http.Request, handshake bool) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if s.gate != nil {
		if ref := s.gate.CheckOrigin(r); ref != nil {
			s.refused(r, ref)
			if handshake {
				s.report(r, ref.Code)
			}
			auth.WriteRefusal(w, ref)
			return false
		}
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Add("Vary", "Origin")
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "GET, POST")
		if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" {
			h.Set("Access-Control-Allow-Headers", rh)
		}
	}
	return true
}

func badRequest(w http.ResponseWriter, msg string) {
	auth.WriteRefusal(w, &auth.Refusal{Status: http.StatusBadRequest, Code: auth.CodeBadRequest, Step: auth.StepRequest, Message: msg})
}

// authenticate walks the gate for a handshake or upgrade. An origin
// refusal is final (403 before anything); the others are the Handler's
// to tell (Session.Refusal), since socket.io-client cannot read an HTTP
// refusal. The mark, taken before the store is read, goes with the
// session to what follows it (a logout racing the handshake).
func (s *Server) authenticate(r *http.Request) (*auth.Session, *auth.Refusal, liveness.Mark) {
	var since liveness.Mark
	if s.live != nil {
		since = s.live.Mark()
	}
	if s.gate == nil {
		return &auth.Session{SecretIndex: -1}, nil, since
	}
	ctx, cancel := context.WithTimeout(auth.WithDoor(r.Context(), s.cfg.Door), s.cfg.HandshakeTimeout)
	defer cancel()
	sess, err := s.gate.Check(ctx, r)
	if err != nil {
		ref := auth.AsRefusal(err)
		s.refused(r, ref)
		return nil, ref, since
	}
	return sess, nil, since
}

func (s *Server) refused(r *http.Request, ref *auth.Refusal) {
	s.log.LogAttrs(r.Context(), ref.LogLevel(), s.msgRefused,
		slog.String("step", ref.Step), slog.String("code", ref.Code),
		slog.String("reason", ref.LogReason()), slog.String("remote", auth.RemoteAddr(r, s.cfg.TrustedProxies)))
}

// cookieSum is what a session remembers of the cookie it was opened with:
// later polls must carry the same one, so that a sid alone (a bearer
// token) does not let anyone else read the user's packets.
func (s *Server) cookieSum(r *http.Request) [sha256.Size]byte {
	if s.gate == nil {
		return [sha256.Size]byte{}
	}
	value, _ := connectsid.Lookup(auth.CookieHeader(r), s.cookieName)
	return sha256.Sum256([]byte(value))
}

// sameCookie reports whether r carries the cookie e was opened with. No
// cookie is a binding only on an Insecure server (nothing is bound) and
// for a session the gate refused, opened without one: such a session
// can only tell its refusal, its POSTs bounded to what that needs
// (Session.readLimit), so that a client without a cookie cannot use it to
// push a megabyte at the server.
func (s *Server) sameCookie(e *Session, r *http.Request) bool {
	if s.gate == nil {
		return true
	}
	value, _ := connectsid.Lookup(auth.CookieHeader(r), s.cookieName)
	if value == "" && e.refusal == nil {
		return false
	}
	sum := sha256.Sum256([]byte(value))
	return subtle.ConstantTimeCompare(sum[:], e.cookie[:]) == 1
}

func (s *Server) session(sid string) *Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[sid]
}

// forget makes a closed session unreachable and uncounts it from its
// Express session's (admit). It runs once per session.
func (s *Server) forget(e *Session) {
	s.mu.Lock()
	if s.sessions[e.id] == e {
		delete(s.sessions, e.id)
	}
	s.mu.Unlock()
	e.release()
}

// Sessions per login -----------------------------------------------------------

// CodeTooManySessions is the refusal of a handshake whose Express session
// has Config.MaxSessionsPerLogin sessions open on this server already.
const CodeTooManySessions = "too-many-sessions"

func (s *Server) handshake(upgrades []string) parser.Handshake {
	return parser.Handshake{
		Upgrades:     upgrades,
		PingInterval: s.cfg.PingInterval.Milliseconds(),
		PingTimeout:  s.cfg.PingTimeout.Milliseconds(),
		MaxPayload:   s.cfg.MaxHTTPBufferSize,
	}
}

func redactAuth(a *auth.Session) string {
	if a == nil || a.ID == "" {
		return ""
	}
	return connectsid.Redact(a.ID)
}

// observerReason is the Observer's reason for an Engine.IO close reason,
// so that every door counts alike: the Tracker's reasons pass as they are
// (logged-out, …, shutting-down), and server-disconnect.
func observerReason(reason string) string {
	switch reason {
	case "ping timeout":
		return wsconn.ReasonPingTimeout
	case "slow client":
		return wsconn.ReasonSlowClient
	case "transport close", "transport error", "parse error", "connect timeout", "":
		return wsconn.ReasonClientClosed
	}
	return reason
}

// count reports a session opened to the Observer, and returns what
// reports it closed (only its first call counts).
func (s *Server) count() (closed func(reason string)) {
	o := s.cfg.Observer
	if o == nil {
		return func(string) {}
	}
	o.ConnectionOpened(s.cfg.Door)
	var once sync.Once
	return func(reason string) { once.Do(func() { o.ConnectionClosed(s.cfg.Door, reason) }) }
}
