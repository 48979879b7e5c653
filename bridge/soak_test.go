//go:build soak && !race

// The soak runs by `make soak`, never in `make test`, and without the race
// detector (which allows at most 8128 live goroutines).

package bridge_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/bridge"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

const (
	soakConns    = 5000
	soakDuration = 60 * time.Second
	// soakWarmUp is the first wave's exchange, before the measured one.
	soakWarmUp = 6 * time.Second
	// soakEvery is how often each client asks whoami (and waits for the
	// answer); soakSayers of them also say something every soakSayEvery,
	// which the bridge broadcasts to every connection.
	soakEvery    = 2 * time.Second
	soakSayers   = 10
	soakSayEvery = 10 * time.Second
	// soakDialers bounds the handshakes in flight while connecting.
	soakDialers = 64
	// soakSettle bounds the wait for connections and goroutines to end
	// after the close.
	soakSettle = 30 * time.Second
	// Slack over the starting level (measured after a first wave) once
	// everything has closed: a few goroutines (go-redis, timers) and a
	// little heap.
	soakGoroutineSlack = 10
	soakHeapSlack      = 4 << 20
)

// TestSoak opens 5,000 connections (one session each, tracked live through
// the keyspace subscription), has them exchange messages for 60 s (whoami
// every 2 s each, one broadcast a second), closes them, and checks that
// goroutines and heap come back to where they started. It prints its
// figures: goroutines, heap and RSS before, at peak and after; messages;
// errors.
func TestSoak(t *testing.T) {
	raiseFileLimit(t, 3*soakConns+1000)
	h := newHarness(t)
	logger := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	b := h.serve(bridge.Config{Watch: h.store.Watch, Logger: logger})
	runLive(t, b)
	watching(t, h)
	sids := seedSessions(t, h, "soak", soakConns)

	// A first, short wave of the same shape, so that "before" includes
	// what the runtime keeps for reuse (every goroutine descriptor it has
	// made, map buckets, pools): after the long wave, memory must come back
	// to it, however long that wave ran.
	cold := sample()
	var warm soakStats
	soakWave(t, b, h, sids, soakWarmUp, &warm)
	if warm.dialErrors.Load()+warm.errors.Load() != 0 {
		t.Errorf("first wave: %v", warm.firstErrors())
	}
	testenv.WaitFor(t, soakSettle, "the first wave's goroutines to end", func() bool {
		return runtime.NumGoroutine() <= cold.goroutines+soakGoroutineSlack
	})
	before := sample()
	peak := before
	var peakMu sync.Mutex
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
				s := sampleNow()
				peakMu.Lock()
				peak = peak.max(s)
				peakMu.Unlock()
			}
		}
	}()
	var st soakStats
	ran := soakWave(t, b, h, sids, soakDuration, &st)
	close(stopSampling)
	<-sampled

	// Back to the start: goroutines within a few, then the heap within a
	// little once two more collections have emptied the sync.Pools.
	testenv.WaitFor(t, soakSettle, "the goroutines to end", func() bool {
		return runtime.NumGoroutine() <= before.goroutines+soakGoroutineSlack
	})
	runtime.GC()
	after := sample()

	t.Logf("soak: %d connections for %v", soakConns, ran.Round(time.Second))
	t.Logf("  goroutines: cold %d, before %d, peak %d, after %d", cold.goroutines, before.goroutines, peak.goroutines, after.goroutines)
	t.Logf("  heap in use: cold %s, before %s, peak %s, after %s", mib(cold.heap), mib(before.heap), mib(peak.heap), mib(after.heap))
	t.Logf("  RSS: cold %s, before %s, peak %s, after %s", mib(cold.rss), mib(before.rss), mib(peak.rss), mib(after.rss))
	t.Logf("  (cold: before any connection; before: after a first wave of %d exchanging for %v, closed; "+
		"cold, before, after: live memory after a collection; peak: sampled each second)", soakConns, soakWarmUp)
	t.Logf("  messages: %d sent by clients (%d whoami, %d say), %d received (%d session, %d said, %d other); %.0f a second",
		st.sentWhoami.Load()+st.sentSay.Load(), st.sentWhoami.Load(), st.sentSay.Load(),
		st.gotSession.Load()+st.gotSaid.Load()+st.gotOther.Load(), st.gotSession.Load(), st.gotSaid.Load(), st.gotOther.Load(),
		float64(st.sentWhoami.Load()+st.sentSay.Load()+st.gotSession.Load()+st.gotSaid.Load()+st.gotOther.Load())/ran.Seconds())
	t.Logf("  errors: %d dial, %d exchange", st.dialErrors.Load(), st.errors.Load())
	for _, e := range st.firstErrors() {
		t.Errorf("error: %s", e)
	}
	if st.dialErrors.Load()+st.errors.Load() != 0 {
		t.Errorf("%d dial errors, %d exchange errors; want none", st.dialErrors.Load(), st.errors.Load())
	}
	if after.goroutines > before.goroutines+soakGoroutineSlack {
		t.Errorf("%d goroutines after the close, %d before", after.goroutines, before.goroutines)
	}
	if after.heap > before.heap+soakHeapSlack {
		t.Errorf("heap in use %s after the close, %s before", mib(after.heap), mib(before.heap))
	}
	if st.gotSession.Load() < soakConns*int64(soakDuration/soakEvery)/2 {
		t.Errorf("only %d whoami answers: the clients were starved", st.gotSession.Load())
	}
}

// soakWave opens one connection per sid, has them exchange messages for d,
// closes them and waits until the server has dropped them all. It returns
// how long the exchange ran.
func soakWave(t *testing.T, b *bridgeServer, h *harness, sids []string, d time.Duration, st *soakStats) time.Duration {
	t.Helper()
	start := time.Now()
	conns := soakDial(t, b, h, sids, st)
	t.Logf("%d connections open in %v", len(conns), time.Since(start).Round(time.Millisecond))
	if n := b.srv.Len(); n != len(sids) {
		t.Errorf("the server holds %d connections, want %d", n, len(sids))
	}
	start = time.Now()
	end := start.Add(d)
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			soakClient(c, i, end, d, st)
		}()
	}
	wg.Wait()
	ran := time.Since(start)
	soakClose(conns)
	testenv.WaitFor(t, soakSettle, "the server to drop every connection", func() bool { return b.srv.Len() == 0 })
	return ran
}

// soakStats counts what the clients did.
type soakStats struct {
	dialErrors, errors            atomic.Int64
	sentWhoami, sentSay           atomic.Int64
	gotSession, gotSaid, gotOther atomic.Int64
	mu                            sync.Mutex
	errs                          []string
}

func (s *soakStats) fail(counter *atomic.Int64, format string, args ...any) {
	counter.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.errs) < 10 {
		s.errs = append(s.errs, fmt.Sprintf(format, args...))
	}
}

func (s *soakStats) firstErrors() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.errs...)
}

// soakDial opens one connection per sid, soakDialers at a time, each read
// up to its hello.
func soakDial(t *testing.T, b *bridgeServer, h *harness, sids []string, st *soakStats) []*websocket.Conn {
	conns := make([]*websocket.Conn, len(sids))
	sem := make(chan struct{}, soakDialers)
	var wg sync.WaitGroup
	for i, sid := range sids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			d := websocket.Dialer{HandshakeTimeout: 30 * time.Second}
			c, _, err := d.Dial(b.ws, map[string][]string{"Cookie": {cookieName + "=" + h.verifier.Sign(sid)}})
			if err == nil {
				c.SetReadDeadline(time.Now().Add(30 * time.Second))
				if _, _, err = c.ReadMessage(); err != nil {
					c.Close()
				}
			}
			if err != nil {
				st.fail(&st.dialErrors, "dial: %v", err)
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	open := conns[:0]
	for _, c := range conns {
		if c != nil {
			open = append(open, c)
		}
	}
	if len(open) < len(sids) {
		t.Fatalf("only %d of %d connections opened: %v", len(open), len(sids), st.firstErrors())
	}
	return open
}

// soakClose closes every connection with a close frame.
func soakClose(conns []*websocket.Conn) {
	for _, c := range conns {
		c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""),
			time.Now().Add(time.Second))
		c.Close()
	}
}

// soakClient asks whoami every soakEvery (starting at a random point of
// the first period) until end, waiting for each answer, and counts what it
// reads on the way: the broadcasts. Sayers also say something.
func soakClient(c *websocket.Conn, i int, end time.Time, d time.Duration, st *soakStats) {
	rng := rand.New(rand.NewPCG(uint64(i), 1))
	next := time.Now().Add(time.Duration(rng.Int64N(int64(soakEvery))))
	lastSay := time.Now()
	maxRounds := int(d/soakEvery) + 2 // bounded in count as in time
	for round := 0; round < maxRounds; round++ {
		if !next.Before(end) {
			return
		}
		time.Sleep(time.Until(next)) // the client's pace
		next = next.Add(soakEvery)
		c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if i < soakSayers && time.Since(lastSay) >= soakSayEvery {
			lastSay = time.Now()
			if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"say","text":"soak `+strconv.Itoa(i)+`"}`)); err != nil {
				st.fail(&st.errors, "client %d: say: %v", i, err)
				return
			}
			st.sentSay.Add(1)
		}
		if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"whoami"}`)); err != nil {
			st.fail(&st.errors, "client %d: whoami: %v", i, err)
			return
		}
		st.sentWhoami.Add(1)
		for {
			c.SetReadDeadline(time.Now().Add(15 * time.Second))
			_, data, err := c.ReadMessage()
			if err != nil {
				st.fail(&st.errors, "client %d: read: %v", i, err)
				return
			}
			var m struct{ Type string }
			json.Unmarshal(data, &m)
			switch m.Type {
			case "session":
				st.gotSession.Add(1)
			case "said":
				st.gotSaid.Add(1)
				continue
			default:
				st.gotOther.Add(1)
				st.fail(&st.errors, "client %d: unexpected frame %.100s", i, data)
				continue
			}
			break
		}
	}
}

// usage is the process's goroutines and memory at one moment.
type usage struct {
	goroutines int
	heap, rss  uint64 // bytes
}

func (u usage) max(v usage) usage {
	return usage{max(u.goroutines, v.goroutines), max(u.heap, v.heap), max(u.rss, v.rss)}
}

// sample measures after a collection that returns freed memory to the OS:
// what is live.
func sample() usage {
	debug.FreeOSMemory()
	return sampleNow()
}

// sampleNow measures as things are, garbage included: what the process
// holds.
func sampleNow() usage {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return usage{goroutines: runtime.NumGoroutine(), heap: ms.HeapInuse, rss: rss()}
}

// rss returns the resident set size from /proc/self/status (0 elsewhere).
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func mib(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// raiseFileLimit raises the soft RLIMIT_NOFILE to at least n (up to the
// hard limit) for the test's life.
func raiseFileLimit(t *testing.T, n uint64) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("getrlimit: %v", err)
	}
	if lim.Cur >= n {
		return
	}
	old := lim
	lim.Cur = min(max(n, lim.Cur), lim.Max)
	if lim.Cur < n {
		t.Fatalf("RLIMIT_NOFILE hard limit %d is below the %d descriptors the soak needs", lim.Max, n)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("setrlimit: %v", err)
	}
	t.Cleanup(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
	t.Logf("RLIMIT_NOFILE raised from %d to %d", old.Cur, lim.Cur)
}
