package mysqlstore_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/mysqlstore"
	"github.com/expressbridge/expressbridge/internal/testenv"
	"github.com/expressbridge/expressbridge/liveness"
)

// TestRevocationLatency: 1,000 open sessions followed by a Tracker that
// polls with GetMany each second (expressbridge.New's default on MySQL);
// each is destroyed at a time of its own over 5 s, and the time until its
// hold ends is logged as p50/p99. Every one must end.
func TestRevocationLatency(t *testing.T) {
	t.Parallel()
	const n = 1000
	m, db := startTable(t)
	s, err := mysqlstore.New(db, mysqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ver, err := connectsid.NewVerifier("latency secret")
	if err != nil {
		t.Fatal(err)
	}
	gate, err := auth.New(auth.Config{Verifier: ver, Store: s})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := liveness.New(liveness.Config{Gate: gate, RevalidateInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); _ = tr.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-ran })

	exp := time.Now().Add(time.Hour)
	var (
		mu    sync.Mutex
		ended = make(map[string]time.Time, n)
	)
	sids := make([]string, n)
	for i := range sids {
		sids[i] = fmt.Sprintf("latency-%04d-0123456789abcdefghij", i)
		rec := `{"cookie":{"originalMaxAge":3600000,"expires":"` + exp.UTC().Format("2006-01-02T15:04:05.000Z") +
			`","httpOnly":true,"path":"/"},"loggedIn":true,"username":"u` + fmt.Sprint(i) + `"}`
		m.Exec(t, "INSERT INTO sessions VALUES (?, ?, ?)", sids[i], exp.Unix(), rec)
		sess, err := gate.Recheck(ctx, sids[i])
		if err != nil {
			t.Fatal(err)
		}
		sid := sids[i]
		h, err := tr.Follow(sid, sess.Record, tr.Mark(), func(liveness.Reason) {
			mu.Lock()
			ended[sid] = time.Now()
			mu.Unlock()
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(h.Release)
	}
	destroyed := make([]time.Time, n)
	step := 5 * time.Second / n
	for i, sid := range sids {
		destroyed[i] = time.Now()
		if err := s.Destroy(ctx, sid); err != nil {
			t.Fatal(err)
		}
		time.Sleep(step)
	}
	testenv.WaitFor(t, 30*time.Second, "every hold ended", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(ended) == n
	})
	lat := make([]time.Duration, n)
	for i, sid := range sids {
		lat[i] = ended[sid].Sub(destroyed[i])
	}
	slices.Sort(lat)
	t.Logf("revocation latency over %d sessions, polling every 1 s with one GetMany: p50 %v, p99 %v, max %v",
		n, lat[n/2].Round(time.Millisecond), lat[n*99/100].Round(time.Millisecond), lat[n-1].Round(time.Millisecond))
}
