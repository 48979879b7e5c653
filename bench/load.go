package bench

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// maxErrorSamples is how many failure messages a phase keeps.
const maxErrorSamples = 5

// Failures counts failed handshakes by kind and keeps a few messages.
type Failures struct {
	Total   int            `json:"total"`
	ByKind  map[string]int `json:"by_kind,omitempty"`
	Samples []string       `json:"samples,omitempty"`
}

func (f *Failures) add(err error) {
	f.Total++
	kind := "other"
	var e *Error
	if errors.As(err, &e) {
		kind = e.Kind
	}
	if f.ByKind == nil {
		f.ByKind = map[string]int{}
	}
	f.ByKind[kind]++
	if len(f.Samples) < maxErrorSamples {
		f.Samples = append(f.Samples, err.Error())
	}
}

func (f *Failures) merge(g Failures) {
	for k, n := range g.ByKind {
		if f.ByKind == nil {
			f.ByKind = map[string]int{}
		}
		f.ByKind[k] += n
	}
	f.Total += g.Total
	for _, s := range g.Samples {
		if len(f.Samples) < maxErrorSamples {
			f.Samples = append(f.Samples, s)
		}
	}
}

// Phase is the outcome of a run of handshakes.
type Phase struct {
	Requested   int      `json:"requested"`
	Succeeded   int      `json:"succeeded"`
	Failures    Failures `json:"failures"`
	Concurrency int      `json:"concurrency"`
	Seconds     float64  `json:"seconds"`
	Aborted     bool     `json:"aborted,omitempty"` // stopped by the time bound before Requested
	PerSecond   float64  `json:"handshakes_per_sec"`
	P50Ms       float64  `json:"p50_ms"`
	P90Ms       float64  `json:"p90_ms"`
	P99Ms       float64  `json:"p99_ms"`
	MaxMs       float64  `json:"max_ms"`
}

// RunHandshakes runs total handshakes (dial, hello, clean close) with
// concurrency workers, session i%len(sessions) for the i-th, and stops
// early when limit has passed. Latency is from the start of the dial to
// the hello; the rate counts successful handshakes (close included) over
// the phase's wall time.
func RunHandshakes(c *Client, sessions []Session, total, concurrency int, limit time.Duration) Phase {
	ph := Phase{Requested: total, Concurrency: concurrency}
	if total <= 0 {
		return ph
	}
	var next atomic.Int64
	lats := make([][]time.Duration, concurrency)
	fails := make([]Failures, concurrency)
	start := time.Now()
	deadline := start.Add(limit)
	var aborted atomic.Bool
	var wg sync.WaitGroup
	for w := range concurrency {
		lats[w] = make([]time.Duration, 0, total/concurrency+1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= total {
					return
				}
				t0 := time.Now()
				if t0.After(deadline) {
					aborted.Store(true)
					return
				}
				conn, err := c.Open(&sessions[i%len(sessions)])
				if err != nil {
					fails[w].add(err)
					continue
				}
				lat := time.Since(t0)
				if err := conn.Close(); err != nil {
					fails[w].add(err)
					continue
				}
				lats[w] = append(lats[w], lat)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for w := range concurrency {
		all = append(all, lats[w]...)
		ph.Failures.merge(fails[w])
	}
	ph.Succeeded = len(all)
	ph.Aborted = aborted.Load()
	ph.Seconds = elapsed.Seconds()
	if ph.Seconds > 0 {
		ph.PerSecond = float64(ph.Succeeded) / ph.Seconds
	}
	slices.Sort(all)
	ph.P50Ms = ms(Percentile(all, 50))
	ph.P90Ms = ms(Percentile(all, 90))
	ph.P99Ms = ms(Percentile(all, 99))
	if len(all) > 0 {
		ph.MaxMs = ms(all[len(all)-1])
	}
	return ph
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Percentile returns the p-th percentile (nearest rank) of sorted values,
// or 0 for none.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted))+0.999999) - 1 // ceil(p/100·n) − 1
	return sorted[max(0, min(rank, len(sorted)-1))]
}

// Holder keeps idle authenticated connections open.
type Holder struct {
	c     *Client
	mu    sync.Mutex
	conns []*Conn
}

// NewHolder returns a holder for connections of c.
func NewHolder(c *Client) *Holder { return &Holder{c: c} }

// Len is the number of connections held.
func (h *Holder) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}

// Open opens n more connections (sessions continue round-robin from the
// ones already held) with concurrency workers, each kept open with a
// reader answering pings, stopping early when limit has passed. It returns
// the failures.
func (h *Holder) Open(sessions []Session, n, concurrency int, limit time.Duration) (Failures, bool) {
	base := h.Len()
	var next atomic.Int64
	fails := make([]Failures, concurrency)
	deadline := time.Now().Add(limit)
	var aborted atomic.Bool
	var wg sync.WaitGroup
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if time.Now().After(deadline) {
					aborted.Store(true)
					return
				}
				conn, err := h.c.Open(&sessions[(base+i)%len(sessions)])
				if err != nil {
					fails[w].add(err)
					continue
				}
				conn.Idle()
				h.mu.Lock()
				h.conns = append(h.conns, conn)
				h.mu.Unlock()
			}
		}()
	}
	wg.Wait()
	var f Failures
	for _, x := range fails {
		f.merge(x)
	}
	return f, aborted.Load()
}

// CloseAll closes every held connection cleanly, concurrency at a time,
// and returns the failures. Once limit has passed the remaining ones are
// dropped without a closing handshake, each counted as a failure.
func (h *Holder) CloseAll(concurrency int, limit time.Duration) Failures {
	h.mu.Lock()
	conns := h.conns
	h.conns = nil
	h.mu.Unlock()
	var next atomic.Int64
	fails := make([]Failures, concurrency)
	deadline := time.Now().Add(limit)
	var wg sync.WaitGroup
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(conns) {
					return
				}
				if time.Now().After(deadline) {
					conns[i].ws.Close()
					fails[w].add(&Error{FailClose, errors.New("dropped: the close phase ran out of time")})
					continue
				}
				if err := conns[i].Close(); err != nil {
					fails[w].add(err)
				}
			}
		}()
	}
	wg.Wait()
	var f Failures
	for _, x := range fails {
		f.merge(x)
	}
	return f
}
