package bridge_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/bridge"
	"github.com/expressbridge/expressbridge/examples/chat"
	"github.com/expressbridge/expressbridge/internal/testrig"
)

// BenchmarkRevocation measures, over 1,000 open sessions, the time from the
// deletion of a session's record (what Express's logout does) to the close
// frame at its client, and reports p50 and p99. One iteration is the whole
// measurement: run it with -benchtime 1x.
func BenchmarkRevocation(b *testing.B) {
	const n = 1000
	rig := testrig.Start(b, testrig.Config{NoApp: true, Secrets: []string{"revocation bench secret"}})
	r, store, ver, gate := rig.Redis, rig.Store, rig.Verifier, rig.Gate
	srv, err := bridge.New(bridge.Config{Gate: gate, Protocol: chat.WebSocket{}, Watch: store.Watch,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	ctx, cancel := context.WithCancel(context.Background())
	go srv.Run(ctx)
	b.Cleanup(func() { cancel(); srv.Shutdown(context.Background()); hs.Close() })
	url := "ws" + strings.TrimPrefix(hs.URL, "http")
	rc := r.Client(b)
	for rc.PubSubNumPat(ctx).Val() == 0 {
		time.Sleep(10 * time.Millisecond)
	}

	for b.Loop() {
		// n logged-in sessions, as connect-redis stores them, each connected.
		exp := time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")
		sids := make([]string, n)
		pipe := rc.Pipeline()
		for i := range sids {
			sids[i] = fmt.Sprintf("revocation-%06d-abcdefghijklmnop", i)
			pipe.Set(ctx, store.Key(sids[i]), `{"cookie":{"originalMaxAge":3600000,"expires":"`+exp+
				`","httpOnly":true,"path":"/"},"loggedIn":true,"username":"u`+fmt.Sprint(i)+`"}`, time.Hour)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			b.Fatal(err)
		}
		conns := dialEach(b, url, func(i int) string { return "connect.sid=" + ver.Sign(sids[i]) }, n)
		if b.Failed() {
			return
		}
		// One logout at a time, so that each latency is its own.
		lat := measureLogouts(b, conns, 0, func(i int) { rc.Del(ctx, store.Key(sids[i])) })
		reportLatencies(b, lat)
	}
}

// dialEach opens n WebSockets to url, the i-th with cookie(i), 32 at a
// time, each past its hello.
func dialEach(b *testing.B, url string, cookie func(i int) string, n int) []*websocket.Conn {
	conns := make([]*websocket.Conn, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			c, _, err := websocket.DefaultDialer.Dial(url, map[string][]string{"Cookie": {cookie(i)}})
			if err == nil {
				_, _, err = c.ReadMessage() // hello
			}
			if err != nil {
				b.Error(err)
				return
			}
			conns[i] = c
		}(i)
	}
	wg.Wait()
	return conns
}

// measureLogouts logs out the sessions of conns one at a time with
// logout(i) and returns, for each, the time until its close frame. A
// random pause of up to jitter before each logout spreads them over a
// polling period, as real logouts are.
func measureLogouts(b *testing.B, conns []*websocket.Conn, jitter time.Duration, logout func(i int)) []time.Duration {
	lat := make([]time.Duration, len(conns))
	for i, c := range conns {
		if jitter > 0 {
			time.Sleep(rand.N(jitter))
		}
		start := time.Now()
		logout(i)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _, err := c.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != bridge.CloseUnauthorized {
			b.Fatalf("session %d: %v", i, err)
		}
		lat[i] = time.Since(start)
		c.Close()
	}
	return lat
}

// reportLatencies reports p50 and p99 of lat.
func reportLatencies(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
