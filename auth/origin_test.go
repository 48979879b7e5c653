package auth_test

import (
	"net/http"
	"testing"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/redisstore"
)

// TestCheckOrigin: an Origin passes only as a browser serializes one
// (scheme://host[:port], nothing after), and only when it is listed or,
// with no list, is the request's own host.
func TestCheckOrigin(t *testing.T) {
	v, err := connectsid.NewVerifier("origin test secret")
	if err != nil {
		t.Fatal(err)
	}
	store := redisstore.New(nil, redisstore.Options{}) // CheckOrigin never reads it
	listed, err := auth.New(auth.Config{Verifier: v, Store: store, AllowedOrigins: []string{"https://app.example", "http://localhost:3000"}})
	if err != nil {
		t.Fatal(err)
	}
	own, err := auth.New(auth.Config{Verifier: v, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		gate   *auth.Gate
		origin string
		ok     bool
	}{
		{listed, "", true}, // not a browser, or a same-origin GET
		{listed, "https://app.example", true},
		{listed, "HTTPS://App.Example", true},
		{listed, "http://localhost:3000", true},
		{listed, "https://app.example/", false}, // no browser sends a path
		{listed, "https://app.example/x", false},
		{listed, "https://app.example?x", false},
		{listed, "https://user@app.example", false},
		{listed, "https://app.example:443", false},
		{listed, "https://evil.example", false},
		{listed, "null", false},
		{own, "http://bridge.example:8081", true},
		{own, "http://bridge.example:8081/", false},
		{own, "http://bridge.example:8082", false},
		{own, "null", false},
	} {
		r, _ := http.NewRequest(http.MethodGet, "http://bridge.example:8081/ws", nil)
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		ref := tc.gate.CheckOrigin(r)
		if (ref == nil) != tc.ok {
			t.Errorf("Origin %q: refusal %v, want ok=%v", tc.origin, ref, tc.ok)
		}
		if ref != nil && (ref.Status != http.StatusForbidden || ref.Code != auth.CodeBadOrigin) {
			t.Errorf("Origin %q: %d %s, want 403 %s", tc.origin, ref.Status, ref.Code, auth.CodeBadOrigin)
		}
	}
}
