package testrig_test

import (
	"errors"
	"go/build"
	"strings"
	"testing"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/internal/testenv"
	"github.com/expressbridge/expressbridge/internal/testrig"
)

// TestStart: the gate accepts what the app logs in, under the app's cookie
// name and prefix; NewGate shares the store and verifier; Sensitive names
// every form of the cookie; a logout ends the session for both gates.
func TestStart(t *testing.T) {
	r := testrig.Start(t, testrig.Config{
		Secrets: []string{"testrig test secret ✓", "testrig old"},
		App:     testenv.NodeAppConfig{CookieName: "app.sid", Prefix: "rig:"},
	})
	if got := r.Store.Prefix(); got != "rig:" {
		t.Errorf("Store.Prefix = %q, want the app's rig:", got)
	}
	cookie, sess := r.Login("Zoë")
	if sess.User != "Zoë" || sess.SecretIndex != 0 || !strings.HasPrefix(cookie, "app.sid=") {
		t.Fatalf("Login = %.12q…, %+v", cookie, sess)
	}
	other := r.NewGate(auth.Config{LoginField: "nobody.here"})
	if _, err := other.CheckCookie(r.Ctx, cookie); !errors.Is(err, auth.ErrNotLoggedIn) {
		t.Errorf("a gate with another login field: %v, want ErrNotLoggedIn", err)
	}
	if s, err := r.NewGate(auth.Config{}).CheckCookie(r.Ctx, cookie); err != nil || s.ID != sess.ID {
		t.Errorf("NewGate's defaults: %v, %v", s, err)
	}
	raw, _ := connectsid.Lookup(cookie, "app.sid")
	want := []string{cookie, strings.TrimPrefix(cookie, "app.sid="), raw, sess.ID}
	if got := r.Sensitive(cookie); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Sensitive = %q, want %q", got, want)
	}
	r.App.Logout(r.Ctx, t, cookie)
	if _, err := r.Gate.CheckCookie(r.Ctx, cookie); !errors.Is(err, connectsid.ErrNoSession) {
		t.Errorf("after logout: %v, want ErrNoSession", err)
	}
}

// TestNoApp: without the app there is Redis, a store and a gate on the
// default secret; a second store is a client of its own.
func TestNoApp(t *testing.T) {
	r := testrig.Start(t, testrig.Config{NoApp: true})
	if r.App != nil {
		t.Fatal("App is set with NoApp")
	}
	if r.Verifier.Secrets() != 1 || len(r.Secrets) != 1 || r.Secrets[0] != testrig.DefaultSecret {
		t.Errorf("secrets %q, want [DefaultSecret]", r.Secrets)
	}
	const sid = "testrig-noapp-0123456789abcdefgh"
	if err := r.Redis.Client(t).Set(r.Ctx, r.Store.Key(sid), `{"cookie":{"originalMaxAge":null,"httpOnly":true,"path":"/"},`+
		`"loggedIn":true,"username":"w"}`, 0).Err(); err != nil {
		t.Fatal(err)
	}
	store, client := r.OpenStore()
	if client == r.Client {
		t.Error("OpenStore shares Rig.Client")
	}
	g := r.NewGate(auth.Config{Store: store})
	if s, err := g.CheckCookie(r.Ctx, "connect.sid="+r.Verifier.Sign(sid)); err != nil || s.User != "w" {
		t.Errorf("a record written by hand, through another store: %v, %v", s, err)
	}
}

// TestImports: the rig stays below the servers under test, so that every
// one of them (and their internal tests) can use it.
func TestImports(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{
		"github.com/expressbridge/expressbridge/auth":                  true,
		"github.com/expressbridge/expressbridge/connectsid":            true,
		"github.com/expressbridge/expressbridge/connectsid/redisstore": true,
		"github.com/expressbridge/expressbridge/internal/testenv":      true,
	}
	for _, imp := range pkg.Imports {
		if strings.HasPrefix(imp, "github.com/expressbridge/") && !allowed[imp] {
			t.Errorf("testrig imports %s: only testenv, auth, connectsid and redisstore may be", imp)
		}
	}
}
