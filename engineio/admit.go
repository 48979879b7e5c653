package engineio

import (
	"net/http"
	"net/netip"
	"strconv"
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

// admit reserves a place in the session table for a new session of a
// handshake from r that the gate accepted (sess, ref nil) or refused
// (ref), or says why there is none (full: the table, or the address's
// share of refused sessions). A login that has MaxSessionsPerLogin
// sessions here already is refused too-many-sessions: the session is
// made, refused, to tell it (refused is then that refusal, else ref). The
// checks and the counts are one step, so that handshakes racing each
// other cannot pass a bound together. The reservation is given back once
// by release, which the session calls when it leaves the table (forget),
// or the caller when no session comes of it.
func (s *Server) admit(r *http.Request, sess *auth.Session, ref *auth.Refusal) (release func(), refused, full *auth.Refusal) {
	addr, login := "", ""
	s.mu.Lock()
	if s.admitted >= s.cfg.MaxSessions {
		s.mu.Unlock()
		return nil, ref, &auth.Refusal{Status: http.StatusServiceUnavailable, Code: CodeServerFull, Step: auth.StepRequest,
			Message: "the server holds as many sessions as it may; try again shortly"}
	}
	if ref == nil && s.cfg.MaxSessionsPerLogin >= 0 && sess != nil && sess.ID != "" {
		if s.perLogin[sess.ID] >= s.cfg.MaxSessionsPerLogin {
			ref = &auth.Refusal{Status: http.StatusTooManyRequests, Code: CodeTooManySessions, Step: auth.StepRequest,
				Message: "this login has as many sessions open on this server as one login may (" +
					strconv.Itoa(s.cfg.MaxSessionsPerLogin) + "): close a tab"}
			defer s.refused(r, ref)
			defer s.limitHitBy(CodeTooManySessions, r)
		} else {
			login = sess.ID
			s.perLogin[login]++
		}
	}
	if ref != nil {
		addr = clientIP(auth.RemoteAddr(r, s.cfg.TrustedProxies))
		if s.refusedBy[addr] >= s.cfg.MaxRefusedPerAddress {
			s.mu.Unlock()
			return nil, ref, &auth.Refusal{Status: http.StatusTooManyRequests, Code: CodeTooManyRefused, Step: auth.StepRequest,
				Message: "too many refused sessions from this address: " + ref.Code}
		}
		s.refusedBy[addr]++
	}
	s.admitted++
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.admitted--
			if login != "" {
				if s.perLogin[login]--; s.perLogin[login] <= 0 {
					delete(s.perLogin, login)
				}
			}
			if ref != nil {
				if s.refusedBy[addr]--; s.refusedBy[addr] <= 0 {
					delete(s.refusedBy, addr)
				}
			}
		})
	}, ref, nil
}

// clientIP is the address of auth.RemoteAddr's answer without its port.
func clientIP(remote string) string {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap().String()
	}
	return remote
}

// refusedLimit counts a handshake refused by a bound of the table, as a
// handshake result and as a limit hit (LimitHit).
func (s *Server) refusedLimit(r *http.Request, ref *auth.Refusal) {
	s.report(r, ref.Code)
	s.limitHitBy(ref.Code, r)
}

// limitLife closes a refused session after refusedLife.
func (e *Session) limitLife() {
	if e.refusal != nil {
		time.AfterFunc(e.s.refusedLife, func() { e.Close("connect timeout") })
	}
}
