package liveness_test

import (
	"context"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/connectsid/cookiesession"
	"github.com/expressbridge/expressbridge/liveness"
)

// TestMaxConnectionAge: a hold ends with MaxConnectionAge after at most
// the age, a released one never; sessions kept in the cookie are watched
// by nothing ("nothing"), and only the age ends their holds.
func TestMaxConnectionAge(t *testing.T) {
	c, err := cookiesession.New(cookiesession.Config{Keys: []string{"k"}})
	if err != nil {
		t.Fatal(err)
	}
	g, err := auth.New(auth.Config{Cookies: c})
	if err != nil {
		t.Fatal(err)
	}
	const age = 300 * time.Millisecond
	live, err := liveness.New(liveness.Config{Gate: g, MaxConnectionAge: age})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); live.Run(ctx) }()
	defer func() { stop(); <-ran }()

	s, err := g.CheckCookie(ctx, c.Header([]byte(`{"loggedIn":true,"username":"a"}`)))
	if err != nil {
		t.Fatal(err)
	}
	ended := make(chan liveness.Reason, 1)
	start := time.Now()
	if _, err := live.Follow(s.ID, s.Record, live.Mark(), func(r liveness.Reason) { ended <- r }); err != nil {
		t.Fatal(err)
	}
	released := make(chan liveness.Reason, 1)
	h, _ := live.Follow(s.ID, s.Record, live.Mark(), func(r liveness.Reason) { released <- r })
	h.Release()
	if r := wait(t, ended); r != liveness.MaxConnectionAge || time.Since(start) < age*9/10 {
		t.Fatalf("ended %s after %v, want %s after ≥ %v", r, time.Since(start), liveness.MaxConnectionAge, age*9/10)
	}
	if live.Watching() != "nothing" || live.Ready(ctx) != nil {
		t.Fatalf("Watching %q, Ready %v", live.Watching(), live.Ready(ctx))
	}
	select {
	case r := <-released:
		t.Fatalf("a released hold ended %s", r)
	default:
	}
	if _, err := liveness.New(liveness.Config{Gate: g, MaxConnectionAge: -1}); err == nil {
		t.Fatal("a negative MaxConnectionAge accepted")
	}
}
