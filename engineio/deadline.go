package engineio

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/engineio/parser"
)

// Time limits of long-polling requests: each body is read, and each
// response written, under a deadline on that request's connection
// (http.ResponseController), cleared once done so that the next request
// on a kept-alive connection does not inherit it. WebSocket connections
// keep their own (wsconn).

// errBodyTimeout: a POST's body did not arrive within Config.ReadTimeout.
var errBodyTimeout = errors.New("engineio: request body not received in time")

// readBody reads a POST's body, at most limit bytes, within
// Config.ReadTimeout. A body over limit fails with *http.MaxBytesError, one
// that stalls or trickles with errBodyTimeout; either way the connection
// is closed after the answer (its deadline is left passed, so that
// net/http's own draining of the rest fails at once rather than wait).
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	rc := http.NewResponseController(w)
	s.deadline(rc.SetReadDeadline, time.Now().Add(s.cfg.ReadTimeout))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		w.Header().Set("Connection", "close")
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, errBodyTimeout
		}
		return nil, err
	}
	s.deadline(rc.SetReadDeadline, time.Time{})
	return body, nil
}

// refusalWriteTimeout bounds the writing of a refused POST's answer.
const refusalWriteTimeout = 2 * time.Second

// refuseBody answers a POST whose body readBody refused: 413 over the
// limit, 408 too slow (nothing when the client has gone).
func refuseBody(w http.ResponseWriter, err error) {
	// The request's write deadline may pass with the read timeout (both
	// count from its start): the refusal, a few hundred bytes, gets a
	// bound of its own.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(refusalWriteTimeout))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		auth.WriteRefusal(w, &auth.Refusal{Status: http.StatusRequestEntityTooLarge, Code: auth.CodeBadRequest,
			Step: auth.StepRequest, Message: "payload over maxHttpBufferSize"})
	case errors.Is(err, errBodyTimeout):
		auth.WriteRefusal(w, &auth.Refusal{Status: http.StatusRequestTimeout, Code: auth.CodeBadRequest,
			Step: auth.StepRequest, Message: "the payload did not arrive in time"})
	}
}

// writePayload answers a long-polling request with ps, within
// Config.WriteTimeout: its length is announced and it is flushed before
// the deadline is cleared, so that nothing of it is left for net/http to
// write after. It reports whether the client got it all.
func (s *Server) writePayload(w http.ResponseWriter, r *http.Request, ps []parser.Packet) bool {
	rc := http.NewResponseController(w)
	b := parser.AppendPayload(nil, ps)
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	s.deadline(rc.SetWriteDeadline, time.Now().Add(s.cfg.WriteTimeout))
	_, err := w.Write(b)
	if err == nil {
		if err = rc.Flush(); errors.Is(err, http.ErrNotSupported) {
			err = nil
		}
	}
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			s.limitHitBy(LimitWriteTimeout, r)
		}
		return false
	}
	s.deadline(rc.SetWriteDeadline, time.Time{})
	return true
}

// deadline sets a deadline through set, a ResponseController's method. A
// ResponseWriter that cannot (a middleware's wrapper without Unwrap) is
// served without one, and said once: its long-polling requests are then
// bounded only by the http.Server's own timeouts.
func (s *Server) deadline(set func(time.Time) error, t time.Time) {
	err := set(t)
	if errors.Is(err, http.ErrNotSupported) {
		s.noDeadlines.Do(func() {
			s.log.Warn(s.cfg.LogName + ": the http.ResponseWriter cannot set read and write deadlines " +
				"(a middleware's wrapper without Unwrap?): long-polling bodies and responses are not bounded in time")
		})
	}
	// Any other error is the connection's (closed, hijacked): the read
	// or write that follows fails with it.
}

// The Observer's reasons of a session closed for its POST body, and the
// limits they are logged and counted under (LimitHit).
const (
	reasonReadTimeout  = LimitReadTimeout
	reasonBodyTooLarge = LimitBodyTooLarge
)

// bodyRefused notes a POST body readBody refused, before e closes: the
// Observer hears read-timeout or body-too-large (Handler.Closed still
// hears engine.io's "transport error"), and a warning is logged once per
// interval with the count.
func (s *Server) bodyRefused(e *Session, r *http.Request, err error) {
	var tooBig *http.MaxBytesError
	reason := ""
	switch {
	case errors.Is(err, errBodyTimeout):
		reason = reasonReadTimeout
	case errors.As(err, &tooBig):
		reason = reasonBodyTooLarge
	default:
		return // the client went away
	}
	e.mu.Lock()
	if e.endReason == "" {
		e.endReason = reason
	}
	e.mu.Unlock()
	s.limitHitBy(reason, r)
}
