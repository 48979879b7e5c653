package auth_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/cookiesession"
	"github.com/expressbridge/expressbridge/connectsid/redisstore"
)

// TestCookieSessions: with Config.Cookies the gate walks the same steps
// for cookie-session's cookies, refusing each failure at its step with
// connectsid's codes, and there is no store to reload from.
func TestCookieSessions(t *testing.T) {
	c, err := cookiesession.New(cookiesession.Config{Keys: []string{"new", "old"}})
	if err != nil {
		t.Fatal(err)
	}
	old, _ := cookiesession.New(cookiesession.Config{Keys: []string{"old"}})
	g, err := auth.New(auth.Config{Cookies: c})
	if err != nil {
		t.Fatal(err)
	}
	if !g.CookieSessions() || g.Store() != nil || g.Config().CookieName != "session" {
		t.Fatalf("CookieSessions %v, Store %v, CookieName %q", g.CookieSessions(), g.Store(), g.Config().CookieName)
	}
	ctx := context.Background()
	login := []byte(`{"loggedIn":true,"username":"alice"}`)
	s, err := g.CheckCookie(ctx, old.Header(login))
	if err != nil || s.User != "alice" || s.SecretIndex != 1 || s.ID == "" {
		t.Fatalf("CheckCookie = %+v, %v", s, err)
	}
	value, _ := c.Cookies(login)
	for _, tc := range []struct{ name, header, code, step string }{
		{"no cookie", "a=1", connectsid.CodeNoCookie, auth.StepCookie},
		{"no sig", "session=" + value, connectsid.CodeNotSigned, auth.StepSignature},
		{"bad sig", "session=" + value + "; session.sig=" + "AAAAAAAAAAAAAAAAAAAAAAAAAAA", connectsid.CodeBadSignature, auth.StepSignature},
		{"malformed", c.Header([]byte(`[1]`)), connectsid.CodeMalformedSession, auth.StepRecord},
		{"not logged in", c.Header([]byte(`{"username":"x"}`)), auth.CodeNotLoggedIn, auth.StepLogin},
	} {
		_, err := g.CheckCookie(ctx, tc.header)
		ref := auth.AsRefusal(err)
		if ref == nil || ref.Code != tc.code || ref.Step != tc.step || ref.Status != http.StatusUnauthorized {
			t.Errorf("%s: %v, want %s at %s", tc.name, err, tc.code, tc.step)
		}
	}
	if _, err := g.Recheck(ctx, s.ID); !errors.Is(err, connectsid.ErrStoreUnavailable) {
		t.Fatalf("Recheck = %v, want store-unavailable (nothing to reload)", err)
	}
	v, _ := connectsid.NewVerifier("s")
	if _, err := auth.New(auth.Config{Cookies: c, Verifier: v, Store: redisstore.New(nil, redisstore.Options{})}); err == nil {
		t.Fatal("Cookies with Verifier and Store accepted")
	}
}
