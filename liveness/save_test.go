package liveness_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/cookiesession"
	"github.com/expressbridge/expressbridge/liveness"
)

// TestSaveCookieSession: with sessions kept in the cookie there is no
// record to write, and Save says so (ErrCannotSave, naming cookie-session)
// without calling the change or ending the hold.
func TestSaveCookieSession(t *testing.T) {
	c, err := cookiesession.New(cookiesession.Config{Keys: []string{"k"}})
	if err != nil {
		t.Fatal(err)
	}
	g, err := auth.New(auth.Config{Cookies: c})
	if err != nil {
		t.Fatal(err)
	}
	live, err := liveness.New(liveness.Config{Gate: g})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := g.CheckCookie(ctx, c.Header([]byte(`{"loggedIn":true,"username":"a"}`)))
	if err != nil {
		t.Fatal(err)
	}
	ended := make(chan liveness.Reason, 1)
	h, err := live.Follow(s.ID, s.Record, live.Mark(), func(r liveness.Reason) { ended <- r })
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	err = h.Save(ctx, func(*connectsid.Session) error { t.Error("Save called the change"); return nil })
	if !errors.Is(err, liveness.ErrCannotSave) || !strings.Contains(err.Error(), "cookie-session") {
		t.Errorf("Save on cookie-session = %v, want ErrCannotSave naming cookie-session", err)
	}
	select {
	case r := <-ended:
		t.Errorf("Save ended the hold: %s", r)
	default:
	}
	t.Logf("Save on cookie-session: %v", err)
}
