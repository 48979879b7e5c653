package auth

import (
	"net/http"
	"net/netip"
	"strings"
)

// RemoteAddr is the client's address as every door logs it: the peer's,
// or, when the peer is one of the trusted reverse proxies (nginx, a load
// balancer), the rightmost address of X-Forwarded-For that is not itself
// a trusted proxy (the leftmost ones are the client's to forge).
func RemoteAddr(r *http.Request, trusted []netip.Prefix) string {
	if len(trusted) == 0 {
		return r.RemoteAddr
	}
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !trustedAddr(trusted, peer.Addr()) {
		return r.RemoteAddr
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a garbled hop: trust nothing left of it
		}
		if !trustedAddr(trusted, a) {
			return a.String()
		}
	}
	return r.RemoteAddr
}

func trustedAddr(trusted []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
