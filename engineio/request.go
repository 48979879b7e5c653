package engineio

import (
	"net/http"
	"net/url"
	"time"

	"github.com/expressbridge/expressbridge/auth"
)

// Request is what a session's handshake request said, kept for the layer
// above (socket.io's socket.handshake). The Cookie header is left out:
// the gate has read it, and nothing above needs the session's secret.
type Request struct {
	// Header is the request's headers but Cookie.
	Header http.Header
	// URL is the request's target as sent (path and query).
	URL string
	// Query is the URL's query.
	Query url.Values
	// Address is the client's IP address: the peer's, or the one a
	// trusted proxy names (Config.TrustedProxies, auth.RemoteAddr).
	Address string
	// Secure reports a TLS connection to this server.
	Secure bool
	// Time is when the handshake arrived.
	Time time.Time
}

// newRequest keeps what the session's handshake request r says.
func (s *Server) newRequest(r *http.Request) Request {
	h := r.Header.Clone()
	h.Del("Cookie")
	return Request{
		Header:  h,
		URL:     r.URL.RequestURI(),
		Query:   r.URL.Query(),
		Address: clientIP(auth.RemoteAddr(r, s.cfg.TrustedProxies)),
		Secure:  r.TLS != nil,
		Time:    time.Now(),
	}
}

// Request returns what the session's handshake request said. Treat it as
// read-only.
func (e *Session) Request() Request { return e.req }
