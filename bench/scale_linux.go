//go:build linux

package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
)

// ScaleResult is `ebload scale`: one bridge process holding N idle
// authenticated connections from the raw client, then a reconnect storm
// after a restart of the bridge.
type ScaleResult struct {
	Generated string  `json:"generated"`
	Machine   Machine `json:"machine"`

	Requested        int      `json:"requested_conns"`
	Target           int      `json:"target_conns"`        // Requested, or less when the file limit caps it
	CappedBy         string   `json:"capped_by,omitempty"` // why Target < Requested
	Sessions         int      `json:"sessions"`            // shared round-robin by the connections (tabs)
	Sources          int      `json:"source_addresses"`    // 127.0.0.2, 127.0.0.3, …
	Workers          int      `json:"open_workers"`        // concurrent handshakes while opening
	Storm            int      `json:"storm_workers"`       // concurrent handshakes in the storm
	Held             int      `json:"held"`                // connections open at the end of the opening
	OpenSecs         float64  `json:"open_seconds"`        // to open all of them
	AcceptsPS        float64  `json:"accepts_per_sec"`
	Low              Plateau  `json:"low"`
	High             Plateau  `json:"high"`
	RSSPerConnKB     float64  `json:"rss_per_conn_kb"` // slope between Low and High
	RSSStartKB       int64    `json:"rss_start_kb"`
	LoadGenPerConnKB float64  `json:"loadgen_rss_per_conn_kb"` // the raw client's own, slope
	OpenFailures     Failures `json:"open_failures"`

	StormEnded       int      `json:"storm_ended"`                // connections the old bridge closed
	StormBack        int      `json:"storm_back"`                 // connections open again
	StormSecsReady   float64  `json:"storm_seconds_from_ready"`   // from the new bridge answering /healthz to the last one back
	StormSecsSIGTERM float64  `json:"storm_seconds_from_sigterm"` // from SIGTERM to the old bridge to the last one back
	StormFailures    Failures `json:"storm_failures"`             // refusals and failed handshakes: must be 0
	StormRSSKB       int64    `json:"storm_rss_kb"`               // the new bridge holding them all

	Error string `json:"error,omitempty"`
}

// RunScale runs `ebload scale`: redis, o.Sessions users logged in through
// the Express app, one bridge, o.Hold connections opened by the raw client
// over o.Sources loopback source addresses, RSS at a third and at all of
// them, then a restart of the bridge and every client reconnecting at once.
func RunScale(ctx context.Context, o Options, sources int, stormWorkers int) (*ScaleResult, error) {
	logf := func(format string, a ...any) { fmt.Fprintf(o.Log, "ebload: "+format+"\n", a...) }
	res := &ScaleResult{Requested: o.Hold, Target: o.Hold, Sessions: o.Sessions, Sources: sources, Workers: o.Concurrency, Storm: stormWorkers}
	// The bridge and this process each hold one descriptor per connection,
	// and a few hundred more.
	const spare = 1000
	limit, err := RaiseFileLimit(uint64(o.Hold + spare))
	if err != nil {
		logf("RLIMIT_NOFILE is %d, not %d: %v", limit, o.Hold+spare, err)
	}
	if int(limit) < o.Hold+spare {
		res.Target = max(int(limit)-spare, 0)
		res.CappedBy = fmt.Sprintf("RLIMIT_NOFILE hard limit %d (raising it needs CAP_SYS_RESOURCE, which this process lacks): at most %d connections per process", limit, res.Target)
		logf("%s", res.CappedBy)
	}
	res.Machine = machine(o.Node, limit)
	var src [][4]byte
	for i := range sources {
		src = append(src, [4]byte{127, 0, 0, byte(2 + i)})
	}

	env, err := prepare(ctx, o, "ebload-scale-", logf)
	if err != nil {
		return nil, err
	}
	defer env.close()
	sh, sessions := env.sh, env.sessions

	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	p, err := StartBridge(o.Bridge, port, sh)
	if err != nil {
		return nil, err
	}
	defer func() { p.Stop(stopGrace) }()
	res.RSSStartKB, _ = ReadRSSKB(p.PID())
	pool, err := NewRawPool(port, "/ws", PlainWS, src)
	if err != nil {
		return nil, err
	}
	defer pool.Close()

	// 1. Open a third, then the rest; RSS at both plateaus.
	lowN := res.Target / 3
	t0 := time.Now()
	var selfLow, selfHigh int64
	for _, step := range []struct {
		base, n int
		at      *Plateau
		self    *int64
	}{{0, lowN, &res.Low, &selfLow}, {lowN, res.Target - lowN, &res.High, &selfHigh}} {
		f, aborted := pool.Open(sessions, step.base, step.n, o.Concurrency, o.PhaseLimit)
		res.OpenFailures.merge(f)
		if step.at == &res.High {
			res.OpenSecs = round(Num(time.Since(t0).Seconds()), 2).f()
		}
		median, samples, _ := SettledRSS(p.PID(), o.Settle, o.RSSSamples, o.SampleGap)
		*step.at = Plateau{Conns: pool.Len(), RSSKB: median, Samples: samples}
		*step.self, _ = ReadRSSKB(os.Getpid())
		logf("holding %d idle connections: bridge RSS %d KB, load generator RSS %d KB; %d failed so far", pool.Len(), median, *step.self, res.OpenFailures.Total)
		if aborted || p.Exited() {
			res.Error = fmt.Sprintf("the opening stopped at %d connections (time bound %v, or the bridge exited)", pool.Len(), o.PhaseLimit)
			return res, nil
		}
	}
	res.Held = pool.Len()
	if res.OpenSecs > 0 {
		res.AcceptsPS = round(Num(float64(res.Held)/res.OpenSecs), 0).f()
	}
	if s, err := Slope(res.Low, res.High); err == nil {
		res.RSSPerConnKB = round(Num(s), 2).f()
	}
	if d := res.High.Conns - res.Low.Conns; d > 0 {
		res.LoadGenPerConnKB = round(Num(float64(selfHigh-selfLow)/float64(d)), 2).f()
	}
	logf("RSS per idle connection: bridge %.2f KB, load generator %.2f KB; opened %d in %.1f s", res.RSSPerConnKB, res.LoadGenPerConnKB, res.Held, res.OpenSecs)

	// 2. The storm: restart the bridge on the same port; every client
	// reconnects as soon as it can (a refused TCP connect is retried, a
	// refused handshake is a failure).
	ended := make(chan int, res.Held+16)
	pool.OnEnd(ended)
	tTerm := time.Now()
	if !p.Stop(stopGrace + 10*time.Second) {
		logf("the old bridge did not exit within its grace after SIGTERM: killed")
	}
	for deadline := time.Now().Add(30 * time.Second); pool.Len() > 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	var idx []int
	for len(ended) > 0 {
		idx = append(idx, <-ended)
	}
	res.StormEnded = len(idx)
	logf("the bridge stopped: %d connections ended (%d still held)", len(idx), pool.Len())
	p, err = StartBridge(o.Bridge, port, sh)
	if err != nil {
		res.Error = "restarting the bridge: " + err.Error()
		return res, nil
	}
	tReady := time.Now()
	f, _ := pool.OpenSessions(sessions, idx, stormWorkers, o.PhaseLimit, 20*time.Millisecond)
	done := time.Now()
	res.StormFailures = f
	res.StormBack = pool.Len()
	res.StormSecsReady = round(Num(done.Sub(tReady).Seconds()), 2).f()
	res.StormSecsSIGTERM = round(Num(done.Sub(tTerm).Seconds()), 2).f()
	res.StormRSSKB, _ = ReadRSSKB(p.PID())
	logf("reconnect storm: %d of %d back %.2f s after the new bridge was ready (%.2f s after SIGTERM to the old one), %d failed",
		res.StormBack, res.StormEnded, res.StormSecsReady, res.StormSecsSIGTERM, f.Total)
	res.Generated = time.Now().UTC().Format(time.RFC3339)
	return res, nil
}

// WriteJSON writes the result, indented, to path.
func (r *ScaleResult) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// WriteTable prints the result.
func (r *ScaleResult) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "\nexpressbridge scale: %d idle authenticated connections requested, %d targeted, %d sessions shared round-robin (tabs), %d source addresses; %s\n",
		r.Requested, r.Target, r.Sessions, r.Sources, r.Generated)
	if r.CappedBy != "" {
		fmt.Fprintf(w, "capped: %s\n", r.CappedBy)
	}
	fmt.Fprintf(w, "%-44s %12d\n", "held", r.Held)
	fmt.Fprintf(w, "%-44s %12.1f  (%.0f/s, %d concurrent)\n", "seconds to open them all", r.OpenSecs, r.AcceptsPS, r.Workers)
	fmt.Fprintf(w, "%-44s %12d → %d KB at %d → %d connections\n", "bridge RSS", r.Low.RSSKB, r.High.RSSKB, r.Low.Conns, r.High.Conns)
	fmt.Fprintf(w, "%-44s %12.2f\n", "bridge RSS per idle connection, KB (slope)", r.RSSPerConnKB)
	fmt.Fprintf(w, "%-44s %12.2f\n", "load generator RSS per connection, KB", r.LoadGenPerConnKB)
	fmt.Fprintf(w, "%-44s %12d\n", "open failures", r.OpenFailures.Total)
	fmt.Fprintf(w, "reconnect storm after a restart of the bridge (%d concurrent handshakes):\n", r.Storm)
	fmt.Fprintf(w, "%-44s %12d of %d\n", "back", r.StormBack, r.StormEnded)
	fmt.Fprintf(w, "%-44s %12.2f\n", "seconds from the new bridge ready", r.StormSecsReady)
	fmt.Fprintf(w, "%-44s %12.2f\n", "seconds from SIGTERM to the old bridge", r.StormSecsSIGTERM)
	fmt.Fprintf(w, "%-44s %12d\n", "refused or failed handshakes", r.StormFailures.Total)
	fmt.Fprintf(w, "%-44s %12d\n", "new bridge RSS holding them, KB", r.StormRSSKB)
	for _, s := range append(r.OpenFailures.Samples, r.StormFailures.Samples...) {
		fmt.Fprintf(w, "  failure: %s\n", s)
	}
	if r.Error != "" {
		fmt.Fprintf(w, "error: %s\n", r.Error)
	}
}
