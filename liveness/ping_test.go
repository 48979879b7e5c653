package liveness_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/internal/testenv"
	"github.com/expressbridge/expressbridge/internal/testrig"
	"github.com/expressbridge/expressbridge/liveness"
)

// TestProbesCoalescePings: a flood of /healthz and readiness probes is a
// trickle of store pings (one in flight, its answer shared for
// liveness.PingReuse), and a store that stops answering still turns them
// 503 within PingReuse and a ping's timeout.
func TestProbesCoalescePings(t *testing.T) {
	tr := testrig.Start(t, testrig.Config{NoApp: true})
	live, err := liveness.New(liveness.Config{Gate: tr.Gate, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	pings := func() int { // PINGs Redis has served, by its own count
		t.Helper()
		info, err := tr.Client.Info(tr.Ctx, "commandstats").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(info, "\n") {
			if rest, ok := strings.CutPrefix(line, "cmdstat_ping:calls="); ok {
				n, _ := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
				return n
			}
		}
		return 0
	}
	healthz := live.Healthz(func() int { return 0 })
	probe := func() int {
		w := httptest.NewRecorder()
		healthz.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		return w.Code
	}

	const probes = 2000
	before, start := pings(), time.Now()
	var wg sync.WaitGroup
	codes := make(chan int, probes)
	for range probes {
		wg.Add(1)
		go func() { defer wg.Done(); codes <- probe() }()
	}
	wg.Wait()
	took := time.Since(start)
	close(codes)
	for c := range codes {
		if c != http.StatusOK {
			t.Fatalf("a probe answered %d with Redis up", c)
		}
	}
	// One ping per PingReuse at most, plus the one in flight at each end.
	if got, most := pings()-before, 2+int(took/liveness.PingReuse); got > most {
		t.Errorf("%d probes in %v made %d store pings, want at most %d", probes, took, got, most)
	}

	tr.Redis.Kill(t)
	testenv.WaitFor(t, 10*time.Second, "/healthz 503 with Redis killed", func() bool {
		return probe() == http.StatusServiceUnavailable
	})
}
