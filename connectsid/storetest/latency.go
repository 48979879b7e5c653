package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/internal/testenv"
	"github.com/expressbridge/expressbridge/liveness"
)

// PolledRevocationLatency measures revocation on a store that reports no
// changes, as expressbridge.New runs it there: n logged-in sessions written
// with st.Set, each followed by a liveness.Tracker that revalidates every
// interval with one GetMany; each session is destroyed at a time of its
// own, spread over five intervals, and the time until its hold ends is
// taken. It returns the n latencies, sorted, and fails tb when a hold does
// not end within 30 s.
func PolledRevocationLatency(tb testing.TB, st Store, n int, interval time.Duration) []time.Duration {
	tb.Helper()
	ver, err := connectsid.NewVerifier("latency secret")
	if err != nil {
		tb.Fatal(err)
	}
	gate, err := auth.New(auth.Config{Verifier: ver, Store: st})
	if err != nil {
		tb.Fatal(err)
	}
	tr, err := liveness.New(liveness.Config{Gate: gate, RevalidateInterval: interval})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); _ = tr.Run(ctx) }()
	defer func() { cancel(); <-ran }()

	exp := connectsid.ISOString(time.Now().Add(time.Hour))
	var (
		mu    sync.Mutex
		ended = make(map[string]time.Time, n)
	)
	sids := make([]string, n)
	for i := range sids {
		sids[i] = fmt.Sprintf("latency-%06d-0123456789abcdefghij", i)
		sess, err := connectsid.DecodeSession(sids[i], `{"cookie":{"originalMaxAge":3600000,"expires":"`+exp+
			`","httpOnly":true,"path":"/"},"loggedIn":true,"username":"u`+fmt.Sprint(i)+`"}`)
		if err != nil {
			tb.Fatal(err)
		}
		if err := st.Set(ctx, sess); err != nil {
			tb.Fatal(err)
		}
		sid := sids[i]
		h, err := tr.Follow(sid, sess, tr.Mark(), func(liveness.Reason) {
			mu.Lock()
			ended[sid] = time.Now()
			mu.Unlock()
		})
		if err != nil {
			tb.Fatal(err)
		}
		defer h.Release()
	}
	destroyed := make([]time.Time, n)
	step := 5 * interval / time.Duration(n)
	for i, sid := range sids {
		destroyed[i] = time.Now()
		if err := st.Destroy(ctx, sid); err != nil {
			tb.Fatal(err)
		}
		time.Sleep(step)
	}
	testenv.WaitFor(tb, 30*time.Second, "every hold ended", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(ended) == n
	})
	lat := make([]time.Duration, n)
	for i, sid := range sids {
		lat[i] = ended[sid].Sub(destroyed[i])
	}
	slices.Sort(lat)
	return lat
}
