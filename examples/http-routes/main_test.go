package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// TestHTTPRoutes runs the example against the real Express app: a user
// logged in to Express gets their session's fields and their orders;
// /api/health needs no login; no cookie, a tampered cookie, a foreign
// page's origin and a logout in Express each get the gate's refusal.
func TestHTTPRoutes(t *testing.T) {
	ex := testenv.StartExample(t, testenv.NodeAppConfig{}, 1, run)
	app, ctx := ex.App, context.Background()
	api := client{t: t, ctx: ctx, base: "http://" + ex.Addrs[0]}

	cookie := app.Login(ctx, t, "Zoë")
	if status, body := app.PostJSON(ctx, t, "/test/set", cookie, map[string]string{"theme": "dark"}); status != http.StatusOK {
		t.Fatalf("setting the theme in Express: %d %s", status, body)
	}
	tampered := tamper(t, cookie)
	const evil = "https://evil.example"

	for _, tc := range []struct {
		name               string
		method, path, body string
		cookie, origin     string
		status             int
		want               string // a JSON object the answer must contain
	}{
		{"health without login", "GET", "/api/health", "", "", "", 200, `{"status":"ok"}`},
		{"me", "GET", "/api/me", "", cookie, "", 200, `{"user":"Zoë","theme":"dark"}`},
		{"no orders yet", "GET", "/api/orders", "", cookie, "", 200, `[]`},
		{"place an order from the app's page", "POST", "/api/orders", `{"item":"tea"}`, cookie, app.URL(), 201, `{"id":1,"item":"tea"}`},
		{"the order", "GET", "/api/orders", "", cookie, "", 200, `[{"id":1,"item":"tea"}]`},
		{"a bad order", "POST", "/api/orders", `{}`, cookie, app.URL(), 400, `{"error":"bad-order"}`},
		{"no cookie", "GET", "/api/me", "", "", "", 401, `{"error":"no-cookie","step":"cookie"}`},
		{"no cookie on an unknown route", "GET", "/api/nothing", "", "", "", 401, `{"error":"no-cookie"}`},
		{"tampered cookie", "GET", "/api/orders", "", tampered, "", 401, `{"error":"bad-signature","step":"signature"}`},
		{"a foreign page's order", "POST", "/api/orders", `{"item":"all"}`, cookie, evil, 403, `{"error":"bad-origin","step":"origin"}`},
		{"a foreign page's read", "GET", "/api/me", "", cookie, evil, 403, `{"error":"bad-origin"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api.t = t
			status, got := api.do(tc.method, tc.path, tc.body, tc.cookie, tc.origin)
			if status != tc.status || !contains(t, got, tc.want) {
				t.Fatalf("%s %s: %d %s, want %d with %s", tc.method, tc.path, status, got, tc.status, tc.want)
			}
		})
	}
	api.t = t

	// The expiry Express set is the one /api/me shows.
	_, got := api.do("GET", "/api/me", "", cookie, "")
	var me struct{ Expires *time.Time }
	if err := json.Unmarshal(got, &me); err != nil || me.Expires == nil || time.Until(*me.Expires) <= 0 {
		t.Fatalf("/api/me expires: %s (%v), want a time to come", got, err)
	}

	app.Logout(ctx, t, cookie)
	status, got := api.do("GET", "/api/orders", "", cookie, "")
	var ref auth.Refusal
	if err := json.Unmarshal(got, &ref); err != nil || status != http.StatusUnauthorized || ref.Code != connectsid.CodeNoSession || ref.Message == "" {
		t.Fatalf("after logout: %d %s (%v), want 401 %s with a message", status, got, err, connectsid.CodeNoSession)
	}
}

// client sends requests to the example, as a browser would.
type client struct {
	t    *testing.T
	ctx  context.Context
	base string
}

// do sends one request and returns the status and the body; the Origin
// header is sent when origin is not empty.
func (c client) do(method, path, body, cookie, origin string) (int, []byte) {
	c.t.Helper()
	req, err := http.NewRequestWithContext(c.ctx, method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		c.t.Fatalf("%s %s: Content-Type %q, want application/json", method, path, ct)
	}
	return resp.StatusCode, b
}

// contains reports whether got, a JSON value, has every member of want
// (an object) or equals it (any other value).
func contains(t *testing.T, got []byte, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("answer %s is not JSON: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %s is not JSON: %v", want, err)
	}
	wo, isObject := w.(map[string]any)
	gotObj, gotObject := g.(map[string]any)
	if !isObject || !gotObject {
		gb, err := json.Marshal(g)
		if err != nil {
			t.Fatal(err)
		}
		wb, err := json.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		return string(gb) == string(wb)
	}
	for k, v := range wo {
		if gv, ok := gotObj[k]; !ok || gv != v {
			return false
		}
	}
	return true
}

// tamper changes the session ID inside a signed cookie, so that its
// signature no longer matches.
func tamper(t *testing.T, cookie string) string {
	t.Helper()
	const prefix = "connect.sid=s%3A"
	if !strings.HasPrefix(cookie, prefix) || len(cookie) == len(prefix) {
		t.Fatalf("cookie %q is not a signed connect.sid", cookie)
	}
	b := []byte(cookie)
	if b[len(prefix)] == 'x' {
		b[len(prefix)] = 'y'
	} else {
		b[len(prefix)] = 'x'
	}
	return string(b)
}
