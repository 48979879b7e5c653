package liveness_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/internal/testenv"
	"github.com/expressbridge/expressbridge/internal/testrig"
	"github.com/expressbridge/expressbridge/liveness"
)

var secrets = []string{"liveness test secret"}

// rig is a redis-server, the Express app on it, and a running Tracker
// whose gate reads the app's sessions.
type rig struct {
	t    *testing.T
	ctx  context.Context
	rig  *testrig.Rig
	app  *testenv.NodeApp
	gate *auth.Gate
	live *liveness.Tracker
	logs *testenv.Buffer
}

func newRig(t *testing.T, cfg liveness.Config) *rig {
	t.Helper()
	tr := testrig.Start(t, testrig.Config{Secrets: secrets, Timeout: 40 * time.Second})
	logs := &testenv.Buffer{}
	cfg.Gate, cfg.Watch = tr.Gate, tr.Store.Watch
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	live, err := liveness.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); live.Run(rctx) }()
	t.Cleanup(func() { stop(); <-ran })
	testenv.WaitFor(t, 5*time.Second, "the Tracker watches", func() bool { return live.Watching() == "notifications" })
	return &rig{t: t, ctx: tr.Ctx, rig: tr, app: tr.App, gate: tr.Gate, live: live, logs: logs}
}

// login logs username in and returns the cookie and what the gate made of it.
func (r *rig) login(username string) (string, *auth.Session) {
	r.t.Helper()
	return r.rig.Login(username)
}

// follow follows sess and returns the channel its end reason arrives on.
func (r *rig) follow(sess *auth.Session, since liveness.Mark) (*liveness.Hold, chan liveness.Reason) {
	r.t.Helper()
	ended := make(chan liveness.Reason, 2)
	h, err := r.live.Follow(sess.ID, sess.Record, since, func(reason liveness.Reason) { ended <- reason })
	if err != nil {
		r.t.Fatal(err)
	}
	return h, ended
}

func wait(t *testing.T, ch chan liveness.Reason) liveness.Reason {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("the hold was not ended")
	}
	return ""
}

// TestFollow: a hold ends once with its session's reason (a logout seen
// through the store's watch, a direct End, shutdown); a released one is no
// longer followed; after Shutdown nothing can be followed.
func TestFollow(t *testing.T) {
	r := newRig(t, liveness.Config{})

	cookie, sess := r.login("Ann")
	h, ended := r.follow(sess, r.live.Mark())
	h2, ended2 := r.follow(sess, r.live.Mark()) // a second tab
	if n := r.live.Len(); n != 1 {
		t.Errorf("Len = %d sessions, want 1", n)
	}
	h.Active()
	r.app.Logout(r.ctx, t, cookie)
	if got := wait(t, ended); got != liveness.LoggedOut || !got.SessionEnded() {
		t.Fatalf("on logout: %q", got)
	}
	if got := wait(t, ended2); got != liveness.LoggedOut {
		t.Fatalf("second tab on logout: %q", got)
	}
	h.Release()
	h2.Release()
	if n := r.live.End(sess.ID, liveness.LoggedOut); n != 0 {
		t.Errorf("End after Release = %d, want 0", n)
	}
	if n := r.live.Len(); n != 0 {
		t.Errorf("Len after Release = %d, want 0", n)
	}

	_, bob := r.login("Bob")
	hb, endedB := r.follow(bob, r.live.Mark())
	if n := r.live.End(bob.ID, liveness.SessionChanged); n != 1 {
		t.Errorf("End = %d, want 1", n)
	}
	if got := wait(t, endedB); got != liveness.SessionChanged {
		t.Errorf("End: %q", got)
	}
	if n := r.live.End(bob.ID, liveness.SessionChanged); n != 0 {
		t.Errorf("a hold is ended once: second End = %d", n)
	}
	hb.Release()

	_, cy := r.login("Cy")
	_, endedC := r.follow(cy, r.live.Mark())
	if err := r.live.Shutdown(r.ctx); err != nil {
		t.Fatal(err)
	}
	if got := wait(t, endedC); got != liveness.ShuttingDown || got.SessionEnded() {
		t.Errorf("at shutdown: %q", got)
	}
	if _, err := r.live.Follow("x", nil, r.live.Mark(), func(liveness.Reason) {}); !errors.Is(err, liveness.ErrShuttingDown) {
		t.Errorf("Follow after Shutdown: %v", err)
	}
}

// TestFollowRace: a logout between a door's gate check and its Follow
// (seen by the watch while the session was not followed yet) ends the hold
// as soon as it is followed, when the door hands Follow the Mark it took
// before the check; the zero Mark always revalidates.
func TestFollowRace(t *testing.T) {
	r := newRig(t, liveness.Config{})
	for _, tc := range []struct {
		name string
		mark func(m liveness.Mark) liveness.Mark
	}{
		{"mark before the check", func(m liveness.Mark) liveness.Mark { return m }},
		{"zero mark", func(liveness.Mark) liveness.Mark { return liveness.Mark{} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			since := r.live.Mark()
			cookie, sess := r.login("Dee")
			r.app.Logout(r.ctx, t, cookie)
			// The watch reports the logout; nothing follows the session yet.
			testenv.WaitFor(t, 5*time.Second, "the logout reaches the watch", func() bool {
				return r.live.Mark() != since
			})
			h, ended := r.follow(sess, tc.mark(since))
			defer h.Release()
			if got := wait(t, ended); got != liveness.LoggedOut {
				t.Errorf("got %q, want logged-out", got)
			}
		})
	}
}

// TestRevalidate: a session that passes the login check stays followed;
// one gone from the store ends logged-out.
func TestRevalidate(t *testing.T) {
	r := newRig(t, liveness.Config{})
	cookie, sess := r.login("Eve")
	h, ended := r.follow(sess, r.live.Mark())
	defer h.Release()
	if got := r.live.Revalidate(r.ctx, sess.ID); got != "" {
		t.Fatalf("a logged-in session: %q", got)
	}
	r.app.Logout(r.ctx, t, cookie)
	if got := wait(t, ended); got != liveness.LoggedOut {
		t.Errorf("after logout: %q", got)
	}
	if got := r.live.Revalidate(r.ctx, sess.ID); got != liveness.LoggedOut {
		t.Errorf("Revalidate of a destroyed session: %q, want logged-out", got)
	}
}

// TestNewRefuses: a Tracker needs a gate and non-negative intervals.
func TestNewRefuses(t *testing.T) {
	if _, err := liveness.New(liveness.Config{}); err == nil {
		t.Error("no Gate: accepted")
	}
	gate, err := auth.New(auth.Config{Verifier: mustVerifier(t), Store: nilStore{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := liveness.New(liveness.Config{Gate: gate, RevalidateInterval: -1}); err == nil {
		t.Error("negative RevalidateInterval: accepted")
	}
	live, err := liveness.New(liveness.Config{Gate: gate})
	if err != nil {
		t.Fatal(err)
	}
	if err := live.Ready(context.Background()); !errors.Is(err, liveness.ErrNotWatching) {
		t.Errorf("Ready before Run: %v", err)
	}
}

func mustVerifier(t *testing.T) *connectsid.Verifier {
	v, err := connectsid.NewVerifier(secrets...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// nilStore holds no session.
type nilStore struct{}

func (nilStore) Get(context.Context, string) (*connectsid.Session, error) {
	return nil, connectsid.ErrNoSession
}
