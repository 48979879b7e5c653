package auth

import (
	"net/http"
	"net/netip"
	"testing"
)

func TestRemoteAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		peer string
		xff  []string
		want string
	}{
		{"127.0.0.1:5000", []string{"203.0.113.7"}, "203.0.113.7"},
		{"127.0.0.1:5000", []string{"198.51.100.1, 203.0.113.7, 10.1.2.3"}, "203.0.113.7"}, // a second proxy hop
		{"127.0.0.1:5000", []string{"198.51.100.1", "203.0.113.7"}, "203.0.113.7"},         // two headers
		{"127.0.0.1:5000", []string{"forged, 203.0.113.7"}, "203.0.113.7"},
		{"127.0.0.1:5000", []string{"203.0.113.7, garbled"}, "127.0.0.1:5000"},
		{"127.0.0.1:5000", nil, "127.0.0.1:5000"},
		{"[::ffff:127.0.0.1]:5000", []string{"2001:db8::1"}, "2001:db8::1"},
		{"192.0.2.9:5000", []string{"203.0.113.7"}, "192.0.2.9:5000"}, // not a proxy: its header is the client's
	}
	for _, tc := range tests {
		r := &http.Request{RemoteAddr: tc.peer, Header: http.Header{"X-Forwarded-For": tc.xff}}
		if got := RemoteAddr(r, trusted); got != tc.want {
			t.Errorf("RemoteAddr(%s, %q) = %s, want %s", tc.peer, tc.xff, got, tc.want)
		}
	}
	if got := RemoteAddr(&http.Request{RemoteAddr: "127.0.0.1:1", Header: http.Header{"X-Forwarded-For": {"1.2.3.4"}}}, nil); got != "127.0.0.1:1" {
		t.Errorf("without trusted proxies: %s", got)
	}
}
