package auth

import (
	"context"
	"encoding/json"
	"net/http"
)

// retryAfter is the Retry-After of a 503: long enough for a store to
// restart, short enough that users barely notice.
const retryAfter = "2"

type sessionKey struct{}

// Require returns a handler that lets a request through to next only when
// the gate accepts it, with the Session in its context (see SessionFrom). Others
// get the refusal's status (401, 403 or 503) and its JSON body
// {"error","step","message"}, the same as the WebSocket door's. Each
// request is checked on its own: there is no connection to revoke.
func (g *Gate) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := g.Check(r.Context(), r)
		if err != nil {
			WriteRefusal(w, AsRefusal(err))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, s)))
	})
}

// SessionFrom returns the Session that Require put in a request's context.
func SessionFrom(ctx context.Context) (*Session, bool) {
	s, ok := ctx.Value(sessionKey{}).(*Session)
	return s, ok
}

// WriteRefusal answers a refused request: the status, no caching, a
// Retry-After on 503, and the JSON body {"error","step","message"}.
func WriteRefusal(w http.ResponseWriter, ref *Refusal) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	if ref.Unavailable() {
		h.Set("Retry-After", retryAfter)
	}
	w.WriteHeader(ref.Status)
	json.NewEncoder(w).Encode(ref)
}
