package attack

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/expressbridge/expressbridge/bench"
)

// Probe reads the server's memory in bytes (RSS, or the heap in use when
// the server is in the caller's process) and its goroutines.
type Probe func() (mem int64, goroutines int, err error)

// Options are how RunAll measures.
type Options struct {
	Sizes Sizes
	Probe Probe
	// Sample, when set, is a cheaper Probe for the samples taken every
	// 50 ms while an attack runs (Probe itself when nil).
	Sample Probe
	// Peak, when set, is the server's memory at its highest since the
	// last call (VmHWM after a reset); otherwise the highest Probe sample
	// (every 50 ms) counts.
	Peak func() (int64, error)
	// ReleaseWait bounds the wait for the server to let go of an attack's
	// connections by itself (its time limits); Hold is how long an attack
	// whose connections the server keeps is held before it stops.
	ReleaseWait, Hold time.Duration
	// BackWait bounds the wait, after an attack stops, for memory and
	// goroutines to come back to within MemSlack and GoroutineSlack of
	// where they were before it.
	BackWait       time.Duration
	MemSlack       int64
	GoroutineSlack int
	// LoginEvery is the gap between the legitimate logins measured while
	// an attack runs.
	LoginEvery time.Duration
	Logf       func(format string, args ...any)
}

// Result is one attack's figures.
type Result struct {
	Name     string
	Outcomes string // what the server answered the attacker
	// Memory (bytes) and goroutines before, at the peak and after.
	MemBefore, MemPeak, MemAfter int64
	GBefore, GPeak, GAfter       int
	Back                         bool // within the slack of before, after
	// Legitimate logins during the attack (each: the Express login, then
	// a Socket.IO handshake over WebSocket up to the chat's hello), and
	// one after it.
	Logins     []time.Duration
	LoginFails []string
	LoginAfter time.Duration
	// Released is how long after the attacker had sent everything the
	// server let go of it (0: not waited for).
	Released time.Duration
	Took     time.Duration
	Err      error
}

// LoginMax is the slowest login during the attack.
func (r Result) LoginMax() time.Duration {
	if len(r.Logins) == 0 {
		return 0
	}
	return slices.Max(r.Logins)
}

// LoginMedian is the median login during the attack.
func (r Result) LoginMedian() time.Duration {
	if len(r.Logins) == 0 {
		return 0
	}
	s := slices.Clone(r.Logins)
	slices.Sort(s)
	return s[len(s)/2]
}

// Legit logs a fresh user in through the Express app, then opens a
// Socket.IO session over WebSocket with the cookie and waits for the
// chat's hello naming the user; it returns how long all of it took.
func Legit(ctx context.Context, tg Target) (time.Duration, error) {
	start := time.Now()
	ss, err := bench.Login(ctx, tg.AppURL, user("legit"), 1)
	if err != nil {
		return 0, err
	}
	c, err := bench.NewClient("ws://"+tg.Addr, "", bench.SocketIO).Open(&ss[0])
	if err != nil {
		return 0, err
	}
	took := time.Since(start)
	c.Close()
	return took, nil
}

// Measure runs attack a against tg and measures it.
func Measure(ctx context.Context, tg Target, a Attack, o Options) (res Result) {
	res.Name = a.Name
	start := time.Now()
	defer func() { res.Took = time.Since(start) }()
	var err error
	if res.MemBefore, res.GBefore, err = o.Probe(); err != nil {
		res.Err = err
		return res
	}
	if o.Peak != nil {
		o.Peak() // reset
	}
	res.MemPeak, res.GPeak = res.MemBefore, res.GBefore
	sample := o.Sample
	if sample == nil {
		sample = o.Probe
	}

	// The sampler: the peak of memory and goroutines while it runs.
	sampling := make(chan struct{})
	var sampled sync.WaitGroup
	sampled.Add(1)
	go func() {
		defer sampled.Done()
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-sampling:
				return
			case <-t.C:
			}
			if m, g, err := sample(); err == nil {
				res.MemPeak, res.GPeak = max(res.MemPeak, m), max(res.GPeak, g)
			}
		}
	}()
	stopSampling := func() {
		close(sampling)
		sampled.Wait()
		if o.Peak != nil {
			if p, err := o.Peak(); err == nil {
				res.MemPeak = max(res.MemPeak, p)
			}
		}
	}

	run, err := a.Start(ctx, tg, o.Sizes)
	if err != nil {
		stopSampling()
		res.Err = fmt.Errorf("%s: starting: %w", a.Name, err)
		return res
	}
	// The legitimate logins, one every LoginEvery until the attack is
	// over, and at least one after it has sent everything.
	var lmu sync.Mutex
	legit := func(prefix string) {
		d, err := Legit(ctx, tg)
		lmu.Lock()
		defer lmu.Unlock()
		if err != nil {
			res.LoginFails = append(res.LoginFails, prefix+err.Error())
		} else if prefix == "" {
			res.Logins = append(res.Logins, d)
		} else {
			res.LoginAfter = d
		}
	}
	loginsDone := make(chan struct{})
	var logins sync.WaitGroup
	logins.Add(1)
	go func() {
		defer logins.Done()
		for {
			legit("")
			select {
			case <-loginsDone:
				return
			case <-time.After(o.LoginEvery):
			}
		}
	}()

	select {
	case <-run.Sent:
	case <-ctx.Done():
	}
	sent := time.Now()
	legit("") // while the attack is at full strength
	if run.Released != nil {
		select {
		case <-run.Released:
			res.Released = time.Since(sent)
		case <-time.After(o.ReleaseWait):
			res.Err = fmt.Errorf("%s: the server still holds the attacker %v after it sent everything", a.Name, o.ReleaseWait)
		case <-ctx.Done():
		}
	} else {
		select {
		case <-time.After(o.Hold):
		case <-ctx.Done():
		}
	}
	close(loginsDone)
	logins.Wait()
	run.Stop()
	stopSampling()
	res.Outcomes = run.Outcomes()

	// Back to where it was?
	deadline := time.Now().Add(o.BackWait)
	for {
		m, g, err := o.Probe()
		if err == nil {
			res.MemAfter, res.GAfter = m, g
			if m <= res.MemBefore+o.MemSlack && g <= res.GBefore+o.GoroutineSlack {
				res.Back = true
				break
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	legit("after: ")
	return res
}

// WriteTable prints results as a Markdown table.
func WriteTable(w io.Writer, memName string, rs []Result) {
	fmt.Fprintf(w, "| attack | %s before → peak → after | goroutines before → peak → after | login during: median / max (n) | login after | released after | what the attacker got |\n", memName)
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, r := range rs {
		rel := "—"
		if r.Released > 0 {
			rel = fmt.Sprintf("%.1f s", r.Released.Seconds())
		}
		fails := ""
		if len(r.LoginFails) > 0 {
			fails = fmt.Sprintf(", %d failed", len(r.LoginFails))
		}
		fmt.Fprintf(w, "| %s | %s → %s → %s | %d → %d → %d | %s / %s (%d%s) | %s | %s | %s |\n", r.Name,
			mb(r.MemBefore), mb(r.MemPeak), mb(r.MemAfter), r.GBefore, r.GPeak, r.GAfter,
			msf(r.LoginMedian()), msf(r.LoginMax()), len(r.Logins), fails, msf(r.LoginAfter), rel, r.Outcomes)
	}
}

func mb(b int64) string { return fmt.Sprintf("%d MB", (b+1<<19)>>20) }

func msf(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000) }
