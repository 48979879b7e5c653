package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/redisstore"
	"github.com/expressbridge/expressbridge/internal/testenv"
	"github.com/expressbridge/expressbridge/internal/testrig"
)

var secrets = []string{"auth test secret ✓", "auth test secret, older"}

func TestNewRejects(t *testing.T) {
	v, err := connectsid.NewVerifier("s")
	if err != nil {
		t.Fatal(err)
	}
	store := redisstore.New(nil, redisstore.Options{}) // never called: New fails before any I/O
	tests := []struct {
		name string
		cfg  auth.Config
	}{
		{"no verifier", auth.Config{Store: store}},
		{"no store", auth.Config{Verifier: v}},
		{"negative timeout", auth.Config{Verifier: v, Store: store, Timeout: -time.Second}},
		{"empty login segment", auth.Config{Verifier: v, Store: store, LoginField: "passport..user"}},
		{"empty user segment", auth.Config{Verifier: v, Store: store, UserField: "passport."}},
	}
	for _, o := range []string{
		"", "example.com", "localhost:3000", "http://", "//example.com", "http://example.com/app",
		"http://example.com/?x=1", "http://example.com#top", "http://user@example.com", "*", "null", "http ://x",
	} {
		tests = append(tests, struct {
			name string
			cfg  auth.Config
		}{"allowed origin " + o, auth.Config{Verifier: v, Store: store, AllowedOrigins: []string{"https://ok.example", o}}})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if g, err := auth.New(tc.cfg); err == nil || g != nil {
				t.Fatalf("New = %v, %v; want an error", g, err)
			}
		})
	}
	if _, err := auth.New(auth.Config{Verifier: v, Store: store,
		AllowedOrigins: []string{"https://ok.example", "http://localhost:3000", "https://ok.example/", "HTTP://[::1]:8080"}}); err != nil {
		t.Fatalf("New with good origins: %v", err)
	}
}

// newRig starts a real Redis, the real Express app with cfg on it, and a
// store on the same Redis whose calls give up after 300 ms.
func newRig(t *testing.T, cfg testenv.NodeAppConfig) *testrig.Rig {
	t.Helper()
	return testrig.Start(t, testrig.Config{Secrets: secrets, App: cfg, Store: redisstore.Options{Timeout: 300 * time.Millisecond}})
}

// refusal is the JSON body of a refused request.
type refusal struct {
	Error, Step, Message string
}

// get requests url with a Cookie header and an Origin, and returns the
// status, the Retry-After header and the body.
func get(t *testing.T, url, cookie, origin string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), string(body)
}

// forge changes the first character of a cookie's signature to another
// one, so that the signature no longer matches (never to the same one).
func forge(cookie string) string {
	i := strings.LastIndexByte(cookie, '.') + 1
	c := byte('x')
	if cookie[i] == c {
		c = 'y'
	}
	return cookie[:i] + string(c) + cookie[i+1:]
}

// TestRequire puts a Go route behind the Express login: the user through
// Express's cookie; each refusal with the bridge's status and JSON body;
// a Redis outage as 503 with Retry-After, and back once Redis is.
func TestRequire(t *testing.T) {
	r := newRig(t, testenv.NodeAppConfig{})
	g := r.Gate
	me := g.Require(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s, ok := auth.SessionFrom(req.Context())
		if !ok {
			t.Error("Require let a request through without its session")
		}
		json.NewEncoder(w).Encode(map[string]any{"user": s.User, "secret": s.SecretIndex})
	}))
	srv := httptest.NewServer(me)
	t.Cleanup(srv.Close)
	ctx := context.Background()
	cookie := r.App.Login(ctx, t, "Zoë 🚀")
	other := r.App.Login(ctx, t, "Other")
	r.App.Logout(ctx, t, other)

	if st, _, body := get(t, srv.URL, cookie, ""); st != 200 || body != `{"secret":0,"user":"Zoë 🚀"}`+"\n" {
		t.Fatalf("logged in: %d %s", st, body)
	}
	if st, _, body := get(t, srv.URL, cookie, srv.URL); st != 200 {
		t.Fatalf("same-origin fetch: %d %s", st, body)
	}
	tests := []struct {
		name, cookie, origin string
		status               int
		code, step           string
	}{
		{"no cookie", "", "", 401, connectsid.CodeNoCookie, auth.StepCookie},
		{"another cookie", "theme=dark", "", 401, connectsid.CodeNoCookie, auth.StepCookie},
		{"forged", forge(cookie), "", 401,
			connectsid.CodeBadSignature, auth.StepSignature},
		{"logged out", other, "", 401, connectsid.CodeNoSession, auth.StepStore},
		{"another site", cookie, "https://evil.example", 403, auth.CodeBadOrigin, auth.StepOrigin},
	}
	for _, tc := range tests {
		st, _, body := get(t, srv.URL, tc.cookie, tc.origin)
		var ref refusal
		if err := json.Unmarshal([]byte(body), &ref); err != nil || st != tc.status || ref.Error != tc.code || ref.Step != tc.step {
			t.Errorf("%s: %d %s; want %d %s at %s", tc.name, st, body, tc.status, tc.code, tc.step)
		}
	}

	r.Redis.Kill(t)
	st, retry, body := get(t, srv.URL, cookie, "")
	var ref refusal
	json.Unmarshal([]byte(body), &ref)
	if st != 503 || retry == "" || ref.Error != connectsid.CodeStoreUnavailable || strings.Contains(body, r.Redis.Addr()) {
		t.Fatalf("Redis down: %d Retry-After %q %s", st, retry, body)
	}
	r.Redis.Start(t)
	cookie = r.App.Login(ctx, t, "Back") // the restart lost every session
	if st, _, body := get(t, srv.URL, cookie, ""); st != 200 || !strings.Contains(body, `"user":"Back"`) {
		t.Fatalf("after the restart: %d %s", st, body)
	}
}

// TestTrace: a trace sees each step in order, and the walk's verdict.
func TestTrace(t *testing.T) {
	r := newRig(t, testenv.NodeAppConfig{})
	g := r.Gate
	ctx := context.Background()
	cookie := r.App.Login(ctx, t, "Tracy")
	var steps []string
	tctx := auth.WithTrace(ctx, &auth.Trace{Step: func(i auth.StepInfo) {
		s := i.Step
		if i.Refusal != nil {
			s += "✘"
		}
		steps = append(steps, s)
	}})
	s, err := g.CheckCookie(tctx, cookie)
	if err != nil || s.User != "Tracy" || s.SecretIndex != 0 {
		t.Fatalf("CheckCookie = %+v, %v", s, err)
	}
	if got := strings.Join(steps, " "); got != "cookie signature store record login user" {
		t.Fatalf("steps %q", got)
	}
	steps = nil
	r.App.PostJSON(ctx, t, "/test/set", cookie, map[string]any{"loggedIn": 0})
	_, err = g.CheckCookie(tctx, cookie)
	if got := strings.Join(steps, " "); got != "cookie signature store record login✘" || !errors.Is(err, auth.ErrNotLoggedIn) {
		t.Fatalf("steps %q, err %v", got, err)
	}
}
