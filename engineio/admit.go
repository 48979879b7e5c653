package engineio

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/expressbridge/expressbridge/auth"
)

// The session table's bounds: a handshake is answered before any session
// exists when the table is full, or when the client's address already
// holds its share of refused sessions (a refused session exists only to
// tell its connect_error, so a flood of them without a cookie costs one
// small answer each, not a session each).
const (
	// DefaultMaxSessions bounds the session table (Config.MaxSessions): far
	// above what one instance serves, far below what exhausts its memory.
	DefaultMaxSessions = 100_000
	// DefaultMaxRefusedPerAddress bounds the open refused sessions of one
	// client address (Config.MaxRefusedPerAddress): a browser has a
	// handful of tabs, each with one.
	DefaultMaxRefusedPerAddress = 16
	// refusedLife is how long a session the gate refused may live: time to
	// read its refusal (socket.io-client closes such a session itself as
	// soon as it has its connect_error), not a client's whole connect
	// timeout.
	refusedLife = 10 * time.Second
	// CodeServerFull is the 503 refusal of a handshake while the table is
	// full.
	CodeServerFull = "server-full"
	// CodeTooManyRefused is the 429 refusal of a handshake the gate
	// refused, from an address that holds its share of refused sessions.
	CodeTooManyRefused = "too-many-refused"
)

// admit reserves a place in the session table for a handshake from r
// that the gate accepted (ref nil) or refused, or says why there is none.
// The reservation is released once by the returned func, which the
// session calls when it leaves the table (forget), or the caller when no
// session comes of it.
func (s *Server) admit(r *http.Request, ref *auth.Refusal) (release func(), refusal *auth.Refusal) {
	addr := ""
	if ref != nil {
		addr = clientIP(auth.RemoteAddr(r, s.cfg.TrustedProxies))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.admitted >= s.cfg.MaxSessions {
		return nil, &auth.Refusal{Status: http.StatusServiceUnavailable, Code: CodeServerFull, Step: auth.StepRequest,
			Message: "the server holds as many sessions as it may; try again shortly"}
	}
	if ref != nil {
		if s.refusedBy[addr] >= s.cfg.MaxRefusedPerAddress {
			return nil, &auth.Refusal{Status: http.StatusTooManyRequests, Code: CodeTooManyRefused, Step: auth.StepRequest,
				Message: "too many refused sessions from this address: " + ref.Code}
		}
		s.refusedBy[addr]++
	}
	s.admitted++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			s.admitted--
			if ref != nil {
				if s.refusedBy[addr]--; s.refusedBy[addr] <= 0 {
					delete(s.refusedBy, addr)
				}
			}
			s.mu.Unlock()
		})
	}, nil
}

// clientIP is the address of auth.RemoteAddr's answer without its port.
func clientIP(remote string) string {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap().String()
	}
	return remote
}

// refusedLimit logs a handshake refused by a bound of the table, at most
// once per second with the count since (a flood would log a line a
// request otherwise).
func (s *Server) refusedLimit(r *http.Request, ref *auth.Refusal) {
	s.report(r, ref.Code)
	s.limitLog.note(s.log, ref.Code, auth.RemoteAddr(r, s.cfg.TrustedProxies))
}

// limitLog logs the requests a bound refused: the first at once, then
// at most once per limitLogInterval per code, with how many there were
// (a flood must not become a flood of log lines). It never logs a cookie.
type limitLog struct {
	mu   sync.Mutex
	last map[string]time.Time
	n    map[string]int
}

const limitLogInterval = 10 * time.Second

func (l *limitLog) note(log *slog.Logger, code, remote string) {
	now := time.Now()
	l.mu.Lock()
	if l.last == nil {
		l.last, l.n = make(map[string]time.Time), make(map[string]int)
	}
	l.n[code]++
	n := l.n[code]
	due := now.Sub(l.last[code]) >= limitLogInterval
	if due {
		l.last[code], l.n[code] = now, 0
	}
	l.mu.Unlock()
	if due {
		log.LogAttrs(context.Background(), slog.LevelWarn, "requests refused by a limit",
			slog.String("code", code), slog.Int("refused", n), slog.String("last_remote", remote))
	}
}

// limitLife closes a refused session after refusedLife.
func (e *Session) limitLife() {
	if e.refusal != nil {
		time.AfterFunc(e.s.refusedLife, func() { e.Close("connect timeout") })
	}
}
