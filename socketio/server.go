// Package socketio serves the Socket.IO v5 protocol on Engine.IO v4
// (HTTP long-polling, WebSocket, and the upgrade from one to the other) to
// the unmodified socket.io-client of an Express app's pages, for the users
// logged in to that app: every handshake and upgrade goes through the auth
// gate, and a socket ends when its Express session does.
//
// WebSocket connections are bridge connections (bridge.Server.Accept): an
// idle one holds no goroutine and no buffer, and the bridge's live
// machinery (keyspace events, expiry, revalidation) revokes it. A session
// on long-polling is followed through a bridge.Hold; its pending GET holds
// its net/http goroutine.
//
// The packet codecs are packages engineio and socketio/parser.
package socketio

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/bridge"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/engineio"
	"github.com/expressbridge/expressbridge/internal/defaults"
)

// Defaults for Config's zero fields: Socket.IO's own.
const (
	// DefaultPingInterval is how often the server pings a client.
	DefaultPingInterval = 25 * time.Second
	// DefaultPingTimeout is how long a client has to answer a ping
	// before its session is closed.
	DefaultPingTimeout = 20 * time.Second
	// DefaultMaxHTTPBufferSize bounds one polling payload or WebSocket
	// message (socket.io's maxHttpBufferSize).
	DefaultMaxHTTPBufferSize = 1_000_000
	// DefaultConnectTimeout is how long an Engine.IO session may stay
	// without joining a namespace.
	DefaultConnectTimeout = 45 * time.Second
	// DefaultAckTimeout bounds EmitWithAck when ctx has no deadline.
	DefaultAckTimeout = 10 * time.Second
	// closeGrace is how long a session closed by the server waits on
	// long-polling for the GET that carries its last packets.
	closeGrace = 10 * time.Second
)

// Config configures a Server. Bridge is required; other zero fields take
// the default named beside them.
type Config struct {
	// Bridge serves the WebSocket connections, and follows every socket's
	// Express session; its gate checks every handshake and upgrade.
	Bridge *bridge.Server
	// Insecure skips the gate: every client is accepted, without a
	// session or a user, from any origin. Only for tests (the protocol
	// suites connect without a cookie); never set it in production.
	Insecure bool
	// PingInterval is how often the server pings (DefaultPingInterval).
	PingInterval time.Duration
	// PingTimeout is how long a ping may go unanswered (DefaultPingTimeout).
	PingTimeout time.Duration
	// MaxHTTPBufferSize bounds one payload or message in bytes
	// (DefaultMaxHTTPBufferSize).
	MaxHTTPBufferSize int64
	// ConnectTimeout closes sessions that join no namespace (DefaultConnectTimeout).
	ConnectTimeout time.Duration
	// SendQueue is how many packets may wait for a long-polling client
	// before it is closed as too slow (bridge.DefaultSendQueue); on
	// WebSocket the bridge's queue applies.
	SendQueue int
	// HandshakeTimeout bounds the session lookup of a handshake
	// (bridge.DefaultHandshakeTimeout).
	HandshakeTimeout time.Duration
	// NewAdapter makes each namespace's rooms (NewMemoryAdapter when nil).
	NewAdapter func(deliver func(SocketID, *Encoded)) Adapter
	// Logger receives the server's logs (slog.Default when nil).
	Logger *slog.Logger
}

// Server is the Socket.IO door: an http.Handler for the path socket.io-client
// uses (/socket.io/ by default). Register namespaces and their handlers with
// Of before serving. It is safe for concurrent use.
type Server struct {
	cfg        Config
	bridge     *bridge.Server
	gate       *auth.Gate
	cookieName string
	log        *slog.Logger

	// handler makes the layer above each Engine.IO session (Socket.IO;
	// the Engine.IO protocol suite swaps in an echo).
	handler func(*engineSession) engineHandler

	mu       sync.Mutex
	sessions map[string]*engineSession // by Engine.IO sid
	nsps     map[string]*Namespace
	closed   bool
}

// New returns a server for cfg. It fails when Bridge is missing or a limit
// is negative.
func New(cfg Config) (*Server, error) {
	if cfg.Bridge == nil {
		return nil, errors.New("socketio: Config.Bridge is required")
	}
	if cfg.PingInterval < 0 || cfg.PingTimeout < 0 || cfg.MaxHTTPBufferSize < 0 || cfg.ConnectTimeout < 0 ||
		cfg.SendQueue < 0 || cfg.HandshakeTimeout < 0 {
		return nil, errors.New("socketio: Config limits and timeouts must not be negative")
	}
	defaults.Set(&cfg.PingInterval, DefaultPingInterval)
	defaults.Set(&cfg.PingTimeout, DefaultPingTimeout)
	defaults.Set(&cfg.MaxHTTPBufferSize, DefaultMaxHTTPBufferSize)
	defaults.Set(&cfg.ConnectTimeout, DefaultConnectTimeout)
	defaults.Set(&cfg.SendQueue, bridge.DefaultSendQueue)
	defaults.Set(&cfg.HandshakeTimeout, bridge.DefaultHandshakeTimeout)
	if cfg.NewAdapter == nil {
		cfg.NewAdapter = func(deliver func(SocketID, *Encoded)) Adapter { return NewMemoryAdapter(deliver) }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{
		cfg:      cfg,
		bridge:   cfg.Bridge,
		log:      cfg.Logger,
		sessions: make(map[string]*engineSession),
		nsps:     make(map[string]*Namespace),
	}
	s.handler = s.newClient
	if cfg.Insecure {
		cfg.Logger.Warn("socket.io door without authentication (Config.Insecure): every client is accepted; for tests only")
	} else {
		s.gate = cfg.Bridge.Gate()
		s.cookieName = s.gate.Config().CookieName
	}
	s.Of("/")
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
	} else if _, ok := engineio.ParseVersion(v); !ok {
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
		s.gate.Report(auth.WithDoor(r.Context(), auth.DoorSocketIO), result)
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	return closed || s.bridge.Closed()
}

// Shutdown refuses new sessions and closes every open one as the server
// does (code 1001, "shutting-down"): a pending poll is answered at once,
// so that http.Server.Shutdown need not wait for it. Register it with
// http.Server.RegisterOnShutdown, or call it before. The bridge's own
// Shutdown closes the WebSocket connections too.
func (s *Server) Shutdown() {
	s.mu.Lock()
	s.closed = true
	all := make([]*engineSession, 0, len(s.sessions))
	for _, e := range s.sessions {
		all = append(all, e)
	}
	s.mu.Unlock()
	for _, e := range all {
		e.end(websocket.CloseGoingAway, auth.CodeShuttingDown)
	}
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
// refusal is final (403 before anything); the others are told to the
// client as CONNECT_ERROR, since socket.io-client cannot read an HTTP
// refusal. The mark, taken before the store is read, goes to the bridge
// with the session (bridge.EventMark: a logout racing the handshake).
func (s *Server) authenticate(r *http.Request) (*auth.Session, *auth.Refusal, bridge.EventMark) {
	since := s.bridge.Mark()
	if s.gate == nil {
		return &auth.Session{SecretIndex: -1}, nil, since
	}
	ctx, cancel := context.WithTimeout(auth.WithDoor(r.Context(), auth.DoorSocketIO), s.cfg.HandshakeTimeout)
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
	s.log.LogAttrs(r.Context(), ref.LogLevel(), "socket.io handshake refused",
		slog.String("step", ref.Step), slog.String("code", ref.Code),
		slog.String("reason", ref.LogReason()), slog.String("remote", s.bridge.RemoteAddr(r)))
}

// cookieSum is what a session remembers of the cookie it was opened with:
// later polls must carry the same one, so that an Engine.IO sid alone
// (a bearer token) does not let anyone else read the user's packets.
func (s *Server) cookieSum(r *http.Request) [sha256.Size]byte {
	if s.gate == nil {
		return [sha256.Size]byte{}
	}
	value, _ := connectsid.Lookup(auth.CookieHeader(r), s.cookieName)
	return sha256.Sum256([]byte(value))
}

// newID returns a random ID for an Engine.IO session or a socket: 15
// random bytes, 20 characters of base64url.
func newID() string {
	var b [15]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// sameCookie reports whether r carries the cookie e was opened with.
func (s *Server) sameCookie(e *engineSession, r *http.Request) bool {
	sum := s.cookieSum(r)
	return subtle.ConstantTimeCompare(sum[:], e.cookie[:]) == 1
}

func (s *Server) session(sid string) *engineSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[sid]
}

func (s *Server) forget(e *engineSession) {
	s.mu.Lock()
	if s.sessions[e.id] == e {
		delete(s.sessions, e.id)
	}
	s.mu.Unlock()
}

// Len returns the number of open Engine.IO sessions.
func (s *Server) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

func (s *Server) handshake(upgrades []string) engineio.Handshake {
	return engineio.Handshake{
		Upgrades:     upgrades,
		PingInterval: s.cfg.PingInterval.Milliseconds(),
		PingTimeout:  s.cfg.PingTimeout.Milliseconds(),
		MaxPayload:   s.cfg.MaxHTTPBufferSize,
	}
}

// redactSID shortens an Engine.IO sid for logs: it is a bearer token for
// its polling session.
func redactSID(sid string) string {
	if len(sid) <= 6 {
		return strings.Repeat("*", len(sid))
	}
	return sid[:6] + "…"
}
