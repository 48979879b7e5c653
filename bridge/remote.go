package bridge

import (
	"net/http"
	"net/netip"
	"strings"
)

// RemoteAddr is the client's address as the server logs it: the peer's,
// or the one a trusted proxy's X-Forwarded-For names (Config.TrustedProxies).
// Other doors on the server log with it too.
func (s *Server) RemoteAddr(r *http.Request) string { return s.remote(r) }

// remote is the client's address for logs: the peer's, or, when the peer
// is a trusted proxy, the rightmost address of X-Forwarded-For that is not
// itself a trusted proxy (the leftmost ones are the client's to forge).
func (s *Server) remote(r *http.Request) string {
	if len(s.cfg.TrustedProxies) == 0 {
		return r.RemoteAddr
	}
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !s.trusted(peer.Addr()) {
		return r.RemoteAddr
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a garbled hop: trust nothing left of it
		}
		if !s.trusted(a) {
			return a.String()
		}
	}
	return r.RemoteAddr
}

func (s *Server) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
