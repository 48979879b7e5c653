package engineio

import (
	"errors"
	"net/http"
	"time"

	"github.com/expressbridge/expressbridge/auth"
)

// The POST bytes one login may have in flight -------------------------------

// PostBudgetPayloads is how many full payloads (MaxHTTPBufferSize each)
// one login's POSTs may be receiving at once: the default of
// Config.MaxPostBytesPerLogin. engine.io-client posts one payload at a
// time per tab, mostly small, so a few full ones at once is a user
// sending large messages from several tabs; a hundred tabs each stalling
// a megabyte (100 MB held for the read timeout) is not.
const PostBudgetPayloads = 4

// CodeTooManyPostBytes is the 429 refusal of a POST whose login has
// Config.MaxPostBytesPerLogin bytes of POST bodies in flight already. The
// body is not read and its session is closed: engine.io-client takes the
// failed POST as a transport error, and socket.io-client reconnects.
const CodeTooManyPostBytes = "too-many-post-bytes"

// errPostBudget: the login's POST bodies in flight are at its budget.
var errPostBudget = errors.New("engineio: the login's POST bodies in flight are over its budget")

// readPost reads a POST's body as readBody does, after reserving in the
// login's budget what the body may take: min(Content-Length, the read
// limit), the limit for a chunked body. The reservation is given back
// once the body is read or cut. A session without a login (refused: its
// POSTs are small; Insecure) has no budget.
func (e *Session) readPost(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	limit := e.readLimit()
	login := ""
	if e.auth != nil {
		login = e.auth.ID
	}
	n := limit
	if r.ContentLength >= 0 {
		n = min(r.ContentLength, limit)
	}
	if !e.s.reservePost(login, n) {
		// Its body is left unread, and the connection closed after the
		// answer: a deadline passed already makes net/http's draining of
		// the body (up to 256 KiB, which a trickle would take hours to
		// send) fail at once.
		w.Header().Set("Connection", "close")
		e.s.deadline(http.NewResponseController(w).SetReadDeadline, time.Now())
		return nil, errPostBudget
	}
	defer e.s.reservePost(login, -n)
	return e.s.readBody(w, r, limit)
}

// reservePost adds n (negative: gives back) to login's POST bytes in
// flight, and reports false, reserving nothing, when that would pass
// Config.MaxPostBytesPerLogin. A login whose only POST is larger than the
// budget still gets it through.
func (s *Server) reservePost(login string, n int64) bool {
	if login == "" || n == 0 || s.cfg.MaxPostBytesPerLogin < 0 {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	held := s.postBytes[login]
	if n > 0 && held > 0 && held+n > s.cfg.MaxPostBytesPerLogin {
		return false
	}
	if held += n; held <= 0 {
		delete(s.postBytes, login)
	} else {
		s.postBytes[login] = held
	}
	return true
}

// refusePost answers a POST over its login's budget (429), notes the
// limit (LimitHit: counted, logged once per interval), and names it as
// the session's end reason.
func (s *Server) refusePost(e *Session, w http.ResponseWriter, r *http.Request) {
	auth.WriteRefusal(w, &auth.Refusal{Status: http.StatusTooManyRequests, Code: CodeTooManyPostBytes, Step: auth.StepRequest,
		Message: "this login is sending as many bytes at once as one login may; send again later"})
	e.mu.Lock()
	if e.endReason == "" {
		e.endReason = CodeTooManyPostBytes
	}
	e.mu.Unlock()
	s.limitHitBy(CodeTooManyPostBytes, r)
}
