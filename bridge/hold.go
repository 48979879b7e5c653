package bridge

import (
	"sync"

	"github.com/expressbridge/expressbridge/connectsid"
)

// member is what follows a session: a Conn, or a Hold of another door.
type member interface {
	// end ends the member for the server (the session ended, the store
	// is down, shutdown) and reports whether it was still open.
	end(code int, reason string) bool
}

// Hold follows an Express session for something that is not one of the
// server's WebSocket connections, such as a Socket.IO session on HTTP
// long-polling: the live machinery (keyspace events, the expiry timer,
// revalidation, CloseOnStoreUnavailable, Shutdown) ends it exactly as it
// ends a connection. Its methods are safe for concurrent use.
type Hold struct {
	s    *Server
	sid  string
	sess *connectsid.Session
	fn   func(code int, reason string)

	mu       sync.Mutex
	ended    bool
	released bool
}

// Hold starts following sess (the session ID and record a door's gate
// check returned; an empty ID follows nothing but still ends at Shutdown)
// until Release. When the server ends the session it calls end once, with
// the close code and reason a connection would get (CloseUnauthorized and
// ReasonLoggedOut, ReasonSessionExpired or ReasonSessionChanged;
// CloseUnavailable; 1001 at shutdown); end must release the hold, now or
// later. since is the Mark the door took before its gate check (see
// EventMark). Hold fails with ErrShuttingDown once Shutdown has begun.
func (s *Server) Hold(sid string, sess *connectsid.Session, since EventMark, end func(code int, reason string)) (*Hold, error) {
	h := &Hold{s: s, sid: sid, sess: sess, fn: end}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrShuttingDown
	}
	s.holds[h] = struct{}{}
	s.addMemberLocked(sid, sess, h)
	s.recheckIfChangedLocked(sid, since)
	return h, nil
}

// Release stops following the session. Only the first call counts.
func (h *Hold) Release() {
	h.mu.Lock()
	done := h.released
	h.released, h.ended = true, true
	h.mu.Unlock()
	if done {
		return
	}
	h.s.mu.Lock()
	delete(h.s.holds, h)
	h.s.removeMemberLocked(h.sid, h)
	h.s.mu.Unlock()
}

// Active says the holder's client was active: the session's TTL is renewed
// as for a connection's message (Config.TouchInterval).
func (h *Hold) Active() {
	if h.sid != "" {
		h.s.touchIfDue(h.sid, h.sess)
	}
}

func (h *Hold) end(code int, reason string) bool {
	h.mu.Lock()
	was := !h.ended
	h.ended = true
	h.mu.Unlock()
	if was {
		h.fn(code, reason)
	}
	return was
}
