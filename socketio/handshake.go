package socketio

import (
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// Handshake is what socket.io calls socket.handshake: the Engine.IO
// handshake's request (its headers without the Cookie header, its URL and
// query, the client's address honouring Config.TrustedProxies, TLS or
// not), when the socket was made, and its CONNECT's auth.
type Handshake struct {
	// Headers are the handshake request's headers, Cookie left out.
	Headers http.Header
	// Time is when the socket was made (handshake.time and .issued).
	Time time.Time
	// Address is the client's IP address (the peer's, or the one a
	// trusted proxy names); an IPv4 client reads 127.0.0.1, not
	// ::ffff:127.0.0.1.
	Address string
	// XDomain reports a request with an Origin header.
	XDomain bool
	// Secure reports TLS between the client (or its last proxy) and us.
	Secure bool
	// URL is the handshake request's target (path and query).
	URL string
	// Query is the handshake request's query (EIO, transport and the
	// client's query option).
	Query url.Values
	// Auth is the CONNECT's auth ({} when the client sent none).
	Auth json.RawMessage
}

// Handshake returns the socket's handshake. Treat it as read-only.
func (so *Socket) Handshake() Handshake {
	r := so.c.e.Request()
	return Handshake{
		Headers: r.Header,
		Time:    so.made,
		Address: r.Address,
		XDomain: r.Header.Get("Origin") != "",
		Secure:  r.Secure,
		URL:     r.URL,
		Query:   r.Query,
		Auth:    so.auth,
	}
}

// jsDate is how Node prints a Date (handshake.time), in UTC.
const jsDate = "Mon Jan 02 2006 15:04:05 GMT+0000 (Coordinated Universal Time)"

// fleetHandshake is the handshake as fetchSockets carries it, in
// socket.io's shape: its headers stay out (the cookie is out already; the
// rest is not the fleet's business).
func (so *Socket) fleetHandshake() map[string]any {
	h := so.Handshake()
	var auth any = map[string]any{}
	if len(h.Auth) > 0 {
		json.Unmarshal(h.Auth, &auth)
	}
	query := make(map[string]any, len(h.Query))
	for k, v := range h.Query {
		if len(v) > 0 {
			query[k] = v[len(v)-1]
		}
	}
	return map[string]any{
		"headers": map[string]any{}, "time": h.Time.UTC().Format(jsDate), "address": h.Address,
		"xdomain": h.XDomain, "secure": h.Secure, "issued": float64(h.Time.UnixMilli()),
		"url": h.URL, "query": query, "auth": auth,
	}
}
