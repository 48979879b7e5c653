package redisstore_test

import (
	"github.com/expressbridge/expressbridge/connectsid"

	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/connectsid/redisstore"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// recorder collects what Watch reports.
type recorder struct {
	mu     sync.Mutex
	events []string
	syncs  []error
	wake   chan struct{}
}

func newRecorder() *recorder { return &recorder{wake: make(chan struct{}, 1000)} }

func (r *recorder) event(sid string, op connectsid.Op) {
	r.mu.Lock()
	r.events = append(r.events, string(op)+" "+sid)
	r.mu.Unlock()
	r.wake <- struct{}{}
}

func (r *recorder) sync(err error) {
	r.mu.Lock()
	r.syncs = append(r.syncs, err)
	r.mu.Unlock()
	r.wake <- struct{}{}
}

// waitFor polls until cond holds, for at most 5 s.
func (r *recorder) waitFor(t *testing.T, what string, cond func(events []string, syncs []error) bool) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		r.mu.Lock()
		ok := cond(append([]string(nil), r.events...), append([]error(nil), r.syncs...))
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.wake:
		case <-deadline:
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("waiting for %s: events %v, syncs %v", what, r.events, r.syncs)
		}
	}
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func startWatch(t *testing.T, store *redisstore.Store) *recorder {
	rec := newRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); store.Watch(ctx, rec.event, rec.sync) }()
	t.Cleanup(func() { cancel(); <-done })
	return rec
}

func TestWatchReportsEveryOp(t *testing.T) {
	// Flags of the operator's own must survive: E and l here.
	r := testenv.StartRedis(t, testenv.WithRedisArgs("--notify-keyspace-events", "El"))
	c := r.Client(t)
	client, _ := redisstore.OpenURL(r.URL())
	t.Cleanup(func() { client.Close() })
	store := redisstore.New(client, redisstore.Options{Prefix: "app*:"})
	rec := startWatch(t, store)
	rec.waitFor(t, "the first sync", func(_ []string, s []error) bool { return len(s) == 1 && s[0] == nil })

	flags, _ := c.ConfigGet(context.Background(), "notify-keyspace-events").Result()
	for _, f := range "Elg$xeK" {
		if !strings.ContainsRune(flags["notify-keyspace-events"], f) {
			t.Errorf("notify-keyspace-events = %q lacks %c", flags["notify-keyspace-events"], f)
		}
	}
	ctx := context.Background()
	c.Set(ctx, "app*:one", "{}", 0)
	c.Set(ctx, "appX:not-ours", "{}", 0) // the prefix's * is literal
	c.Del(ctx, "app*:one")
	c.Set(ctx, "app*:two", "{}", 50*time.Millisecond)
	rec.waitFor(t, "set, del and expired", func(e []string, _ []error) bool {
		return has(e, "set one") && has(e, "del one") && has(e, "expired two")
	})
	rec.mu.Lock()
	for _, e := range rec.events {
		if strings.Contains(e, "not-ours") {
			t.Errorf("event of another prefix: %s", e)
		}
	}
	rec.mu.Unlock()
	// A restart, which loses the CONFIG SET, is the conformance suite's
	// (store-down-and-back).
}

func TestEscapeGlob(t *testing.T) {
	if got := redisstore.EscapeGlob(`a*b?[c]\^`); got != `a\*b\?\[c\]\\\^` {
		t.Errorf("EscapeGlob = %q", got)
	}
}

func TestWatchWithoutConfig(t *testing.T) {
	r := testenv.StartRedis(t, testenv.WithRedisArgs("--rename-command", "CONFIG", ""))
	client, _ := redisstore.OpenURL(r.URL())
	t.Cleanup(func() { client.Close() })
	rec := startWatch(t, redisstore.New(client, redisstore.Options{}))
	rec.waitFor(t, "a failed sync", func(_ []string, s []error) bool {
		return len(s) == 1 && errors.Is(s[0], redisstore.ErrNotifications)
	})
}
