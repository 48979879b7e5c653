package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
)

// Results is everything a run measured; it is what bench/results.json holds.
type Results struct {
	Generated   string         `json:"generated"`
	WallSeconds float64        `json:"wall_seconds"`
	Machine     Machine        `json:"machine"`
	Config      RunConfig      `json:"config"`
	Servers     []ServerResult `json:"servers"`
	Fanout      []FanoutResult `json:"fanout,omitempty"`
	Targets     []Target       `json:"targets"`

	// SocketIO sets the Go Socket.IO rows beside Node's, per transport.
	SocketIO []SocketIOComparison `json:"socketio_vs_node,omitempty"`
}

// Machine describes where the run happened.
type Machine struct {
	CPUs      int    `json:"cpus"`
	Kernel    string `json:"kernel"`
	Go        string `json:"go"`
	Node      string `json:"node"`
	Redis     string `json:"redis"`
	FileLimit uint64 `json:"file_limit"` // RLIMIT_NOFILE of the load generator and the servers
}

// RunConfig is the run's shape.
type RunConfig struct {
	Sessions          int     `json:"sessions"`
	Concurrency       int     `json:"concurrency"`
	Warmup            int     `json:"warmup_handshakes"`
	Handshakes        int     `json:"measured_handshakes"`
	Hold              int     `json:"hold_conns"`
	PhaseLimitSeconds float64 `json:"phase_limit_seconds"`
	SettleSeconds     float64 `json:"rss_settle_seconds"`
	RSSSamples        int     `json:"rss_samples"`
	Origin            string  `json:"origin_header"`
	HoldFreshProcess  bool    `json:"hold_fresh_process"`
	Rounds            int     `json:"measured_rounds"`
	QuietWaitSeconds  float64 `json:"quiet_wait_seconds"`
	QuietCores        float64 `json:"quiet_cores"`
	FanoutConns       int     `json:"fanout_conns,omitempty"`
	FanoutBroadcasts  int     `json:"fanout_broadcasts_per_round,omitempty"`
}

// ServerResult is one server's figures. The headline fields come first;
// the phases follow.
type ServerResult struct {
	Key      string `json:"key"`
	Name     string `json:"name"`
	Protocol string `json:"protocol"`
	URL      string `json:"url"`

	// CPUMicros is the headline figure: the server's CPU time (user +
	// kernel, all threads) per measured handshake, in µs, of the median
	// round. It depends far less on what else runs on the machine than the
	// rate does.
	CPUMicros        float64 `json:"server_cpu_us_per_handshake"`
	HandshakesPerSec float64 `json:"handshakes_per_sec"`
	P50Ms            float64 `json:"p50_ms"`
	P99Ms            float64 `json:"p99_ms"`
	RSSPerConnKB     float64 `json:"rss_per_conn_kb"`
	Failures         int     `json:"failures"` // every phase: warm-up, measured, hold, closes
	RatioToGo        *Ratios `json:"ratio_to_go,omitempty"`

	// CPU time used per measured handshake, in µs, by the server, the load
	// generator and redis-server (from /proc/PID/stat and getrusage).
	CPUMicrosPerHandshake CPUUse `json:"cpu_us_per_handshake,omitzero"`

	// QuietWait is the wait for an idle machine before the measured run;
	// MeasureContention how busy the machine was during it.
	QuietWait         QuietWait  `json:"quiet_wait,omitzero"`
	MeasureContention Contention `json:"measure_contention,omitzero"`

	RSSStartKB        int64 `json:"rss_start_kb"`         // just started
	RSSAfterMeasureKB int64 `json:"rss_after_measure_kb"` // after warm-up and measured run, nothing held

	// Measure is the median round (its failures are every round's);
	// Rounds are all of them, in order.
	Warmup  Phase      `json:"warmup,omitzero"`
	Measure Phase      `json:"measure,omitzero"`
	Rounds  []Round    `json:"measure_rounds,omitempty"`
	Hold    HoldResult `json:"hold,omitzero"`

	StoppedCleanly bool   `json:"stopped_cleanly"` // exited within the grace after SIGTERM
	Error          string `json:"error,omitempty"` // the server could not be measured
}

// QuietWait is how long the run waited for the machine to be idle before
// a measured run, and how busy it still was (cores) when it stopped waiting.
type QuietWait struct {
	Seconds   float64 `json:"seconds"`
	BusyCores float64 `json:"busy_cores"`
}

// Ratios are a server's figures divided by the Go bridge's.
type Ratios struct {
	CPUPerHandshake  Num `json:"server_cpu_us_per_handshake"`
	HandshakesPerSec Num `json:"handshakes_per_sec"`
	P50              Num `json:"p50"`
	P99              Num `json:"p99"`
	RSSPerConn       Num `json:"rss_per_conn"`
	// FanoutCPUPerMsg is the fan-out's server CPU per delivered message,
	// when the run had a fan-out for both.
	FanoutCPUPerMsg Num `json:"fanout_cpu_us_per_msg,omitempty"`
}

// Num is a float64 that encodes as JSON null when it is not finite (a
// ratio to zero).
type Num float64

// MarshalJSON implements json.Marshaler.
func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return []byte("null"), nil
	}
	return json.Marshal(f)
}

// CPUUse is CPU time per handshake, in µs: user+system, and the system
// (kernel) part of it.
type CPUUse struct {
	Server     float64 `json:"server"`
	ServerSys  float64 `json:"server_sys"`
	LoadGen    float64 `json:"loadgen"`
	LoadGenSys float64 `json:"loadgen_sys"`
	Redis      float64 `json:"redis"`
}

// HoldResult is the hold phase: RSS at a third of N and at N held idle
// authenticated connections.
type HoldResult struct {
	Target        int      `json:"target"`
	Held          int      `json:"held"`
	Low           Plateau  `json:"low"`
	High          Plateau  `json:"high"`
	OpenFailures  Failures `json:"open_failures"`
	CloseFailures Failures `json:"close_failures"`
	OpenSeconds   float64  `json:"open_seconds"`
	Aborted       bool     `json:"aborted,omitempty"`
	// FreshProcess: the hold ran on a server process started for it, not
	// on the one that had run the warm-up and the measured handshakes.
	FreshProcess bool `json:"fresh_process"`
}

// Target is one acceptance target and whether this run met it.
type Target struct {
	Name string `json:"name"`
	Got  Num    `json:"got"`
	Want string `json:"want"`
	Met  bool   `json:"met"`
	// Validity marks the targets that say whether the run itself counts
	// (no failed handshake, every server measured in full), as opposed to
	// the performance targets, which are reported, never enforced.
	Validity bool `json:"validity,omitempty"`
}

// serverByKey returns the result for key, or nil.
func (r *Results) serverByKey(key string) *ServerResult {
	for i := range r.Servers {
		if r.Servers[i].Key == key && r.Servers[i].Error == "" {
			return &r.Servers[i]
		}
	}
	return nil
}

func ratio(a, b float64) Num {
	return Num(ratioF(a, b))
}

func ratioF(a, b float64) float64 {
	if b == 0 {
		if a == 0 {
			return 1
		}
		return math.Inf(1)
	}
	return a / b
}

// Finish computes the ratios to the Go bridge (key "a") and the
// acceptance targets that the servers present allow.
func (r *Results) Finish() {
	g := r.serverByKey("a")
	for i := range r.Servers {
		s := &r.Servers[i]
		if g == nil || s.Error != "" {
			continue
		}
		s.RatioToGo = &Ratios{
			CPUPerHandshake:  round(ratio(s.CPUMicros, g.CPUMicros), 3),
			HandshakesPerSec: round(ratio(s.HandshakesPerSec, g.HandshakesPerSec), 3),
			P50:              round(ratio(s.P50Ms, g.P50Ms), 3),
			P99:              round(ratio(s.P99Ms, g.P99Ms), 3),
			RSSPerConn:       round(ratio(s.RSSPerConnKB, g.RSSPerConnKB), 3),
		}
		if fs, fg := r.fanoutByKey(s.Key), r.fanoutByKey("a"); fs != nil && fg != nil {
			s.RatioToGo.FanoutCPUPerMsg = round(ratio(fs.CPUMicros, fg.CPUMicros), 3)
		}
	}
	r.Targets = nil
	b, c := r.serverByKey("b"), r.serverByKey("c")
	// The handshake targets judge the server's CPU per handshake, not the
	// rate: on a small shared machine the rate is set by the load generator
	// and by whatever else runs, the CPU a server spends per handshake much
	// less so.
	if g != nil && c != nil && r.Config.Handshakes > 0 {
		x := round(ratio(g.CPUMicros, c.CPUMicros), 3)
		r.Targets = append(r.Targets, Target{"server CPU per handshake of (a) at most half of (c)'s: (a)/(c)", x, "≤ 0.5", x <= 0.5 && g.CPUMicros > 0, false})
	}
	if g != nil && b != nil && r.Config.Handshakes > 0 {
		x := round(ratio(g.CPUMicros, b.CPUMicros), 3)
		r.Targets = append(r.Targets, Target{"server CPU per handshake of (a) at most a fifth of (b)'s: (a)/(b)", x, "≤ 0.2", x <= 0.2 && g.CPUMicros > 0, false})
	}
	if g != nil && b != nil && c != nil && r.Config.Hold > 0 {
		best := min(b.RSSPerConnKB, c.RSSPerConnKB)
		x := round(ratio(g.RSSPerConnKB, best), 3)
		// A slope that is not positive is no measurement: never "met".
		ok := x <= 1 && g.RSSPerConnKB > 0 && best > 0
		r.Targets = append(r.Targets, Target{"RSS/conn of (a) no more than the better Node peer's: (a)/min((b),(c))", x, "≤ 1", ok, false})
	}
	r.fanoutTargets()
	r.compareSocketIO()
	fails, incomplete, flat := 0, 0, 0
	for _, s := range r.Servers {
		fails += s.Failures
		aborted := s.Warmup.Aborted || s.Measure.Aborted || s.Hold.Aborted
		for _, rd := range s.Rounds {
			aborted = aborted || rd.Aborted
		}
		if s.Error != "" || aborted || !s.StoppedCleanly {
			incomplete++
		}
		if r.Config.Hold > 0 && s.Error == "" && s.RSSPerConnKB <= 0 {
			flat++
		}
	}
	for _, f := range r.Fanout {
		fails += f.OpenFailures.Total
		if f.Error != "" || f.Missing != 0 {
			incomplete++
		}
	}
	r.Targets = append(r.Targets,
		Target{"failed handshakes, every phase of every server", Num(fails), "= 0", fails == 0, true},
		Target{"servers with an error, a phase cut by its time bound, or no clean stop", Num(incomplete), "= 0", incomplete == 0, true})
	if r.Config.Hold > 0 {
		r.Targets = append(r.Targets, Target{"servers whose RSS did not grow with the connections held (slope ≤ 0)", Num(flat), "= 0", flat == 0, true})
	}
}

// fanoutByKey returns the fan-out result for key, or nil.
func (r *Results) fanoutByKey(key string) *FanoutResult {
	for i := range r.Fanout {
		if f := &r.Fanout[i]; f.Key == key && f.Error == "" && f.Delivered > 0 {
			return f
		}
	}
	return nil
}

// fanoutTargets judges the server CPU per delivered message of the Go
// bridge against Socket.IO's, ws's and the floor's.
func (r *Results) fanoutTargets() {
	g := r.fanoutByKey("a")
	if g == nil {
		return
	}
	if b := r.fanoutByKey("b"); b != nil {
		x := round(ratio(g.CPUMicros, b.CPUMicros), 3)
		r.Targets = append(r.Targets, Target{"fan-out server CPU per delivered message of (a) at most a third of (b)'s: (a)/(b)", x, "≤ 0.333", x <= 1.0/3, false})
	}
	if c := r.fanoutByKey("c"); c != nil {
		x := round(ratio(g.CPUMicros, c.CPUMicros), 3)
		r.Targets = append(r.Targets, Target{"fan-out server CPU per delivered message of (a) below (c)'s: (a)/(c)", x, "< 1", x < 1, false})
	}
	if f := r.fanoutByKey(FloorKey); f != nil {
		x := round(ratio(g.CPUMicros, f.CPUMicros), 3)
		r.Targets = append(r.Targets, Target{"fan-out server CPU per delivered message of (a) within 1.5× the floor's: (a)/floor", x, "≤ 1.5", x <= 1.5, false})
	}
}

func round(x Num, digits int) Num {
	f := float64(x)
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return x
	}
	p := math.Pow(10, float64(digits))
	return Num(math.Round(f*p) / p)
}

// WriteJSON writes the results, indented, to path.
func (r *Results) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// WriteTable prints the table: each figure with its ratio to the Go
// bridge, the CPU split, and the targets.
func (r *Results) WriteTable(w io.Writer) {
	c := r.Config
	fresh := ""
	if c.HoldFreshProcess {
		fresh = " on a freshly started server"
	}
	if c.Handshakes > 0 {
		fmt.Fprintf(w, "\nexpressbridge vs Node peers: %d handshakes at %d concurrent per server (after %d warm-up; median of %d rounds), %d sessions, one redis;\n",
			c.Handshakes, c.Concurrency, c.Warmup, max(c.Rounds, 1), c.Sessions)
	} else {
		fmt.Fprintf(w, "\nexpressbridge hold: %d idle authenticated connections per server, %d sessions, one redis;\n", c.Hold, c.Sessions)
	}
	if c.Hold > 0 {
		fmt.Fprintf(w, "RSS/conn = slope of VmRSS between %d and %d idle authenticated connections%s. ", c.Hold/3, c.Hold, fresh)
	}
	fmt.Fprintf(w, "%d CPUs, %s.\n\n", r.Machine.CPUs, r.Generated)

	hs := c.Handshakes > 0
	if hs {
		fmt.Fprintf(w, "%-30s %21s %12s %21s %21s %21s %9s\n", "", "server CPU µs/handshake", "", "handshakes/s", "p99 ms", "RSS/conn KB", "")
		fmt.Fprintf(w, "%-30s %12s %8s %12s %12s %8s %12s %8s %12s %8s %9s\n", "server", "value", "÷ Go", "kernel part", "value", "÷ Go", "value", "÷ Go", "value", "÷ Go", "failures")
	} else {
		fmt.Fprintf(w, "%-30s %12s %12s %12s %12s %9s\n", "server", "held", "RSS low KB", "RSS high KB", "RSS/conn KB", "failures")
	}
	for _, s := range r.Servers {
		if s.Error != "" {
			fmt.Fprintf(w, "%-30s  error: %s\n", "("+s.Key+") "+s.Name, firstLine(s.Error))
			continue
		}
		if !hs {
			fmt.Fprintf(w, "%-30s %12d %12d %12d %12.1f %9d\n", "("+s.Key+") "+s.Name,
				s.Hold.Held, s.Hold.Low.RSSKB, s.Hold.High.RSSKB, s.RSSPerConnKB, s.Failures)
			continue
		}
		nan := Num(math.NaN())
		rt := Ratios{CPUPerHandshake: nan, HandshakesPerSec: nan, P50: nan, P99: nan, RSSPerConn: nan}
		if s.RatioToGo != nil {
			rt = *s.RatioToGo
		}
		fmt.Fprintf(w, "%-30s %12.0f %8s %12.0f %12.0f %8s %12.2f %8s %12.1f %8s %9d\n", "("+s.Key+") "+s.Name,
			s.CPUMicros, fmtRatio(rt.CPUPerHandshake), s.CPUMicrosPerHandshake.ServerSys,
			s.HandshakesPerSec, fmtRatio(rt.HandshakesPerSec),
			s.P99Ms, fmtRatio(rt.P99), s.RSSPerConnKB, fmtRatio(rt.RSSPerConn), s.Failures)
	}
	if hs {
		fmt.Fprintf(w, "(ratios are each figure divided by the Go bridge's; the round with the median server CPU per handshake is shown)\n")
		for _, s := range r.Servers {
			if s.Error != "" || len(s.Rounds) < 2 {
				continue
			}
			var cpus, rates, p99s []string
			for _, rd := range s.Rounds {
				cpus = append(cpus, fmt.Sprintf("%.0f", rd.CPU.Server))
				rates = append(rates, fmt.Sprintf("%.0f", rd.PerSecond))
				p99s = append(p99s, fmt.Sprintf("%.1f", rd.P99Ms))
			}
			fmt.Fprintf(w, "  (%s) rounds: server CPU %s µs/handshake (spread %s), %s handshakes/s, p99 %s ms\n", s.Key,
				strings.Join(cpus, " "), spread(s.Rounds), strings.Join(rates, " "), strings.Join(p99s, " "))
		}
		fmt.Fprintln(w)
		fmt.Fprintf(w, "%-30s %16s %16s %6s %12s %11s %11s %11s\n", "CPU µs per handshake", "server (kernel)", "loadgen (kernel)", "redis",
			"other procs", "RSS start", "after run", "hold N")
		fmt.Fprintf(w, "%-30s %16s %16s %6s %12s %11s %11s %11s\n", "", "", "", "", "cores", "KB", "KB", "KB")
		for _, s := range r.Servers {
			if s.Error != "" {
				continue
			}
			u := s.CPUMicrosPerHandshake
			fmt.Fprintf(w, "%-30s %16s %16s %6.0f %12.2f %11d %11d %11d\n", "("+s.Key+") "+s.Name,
				fmt.Sprintf("%.0f (%.0f)", u.Server, u.ServerSys), fmt.Sprintf("%.0f (%.0f)", u.LoadGen, u.LoadGenSys), u.Redis,
				s.MeasureContention.OtherCores, s.RSSStartKB, s.RSSAfterMeasureKB, s.Hold.High.RSSKB)
		}
	}
	r.writeFanout(w)
	r.writeSocketIO(w)
	for _, s := range r.Servers {
		if s.Error == "" && s.MeasureContention.OtherCores >= 0.25 {
			fmt.Fprintf(w, "note: (%s) was measured while other processes used %.2f of %d cores: its figures are disturbed; rerun on a quiet machine\n",
				s.Key, s.MeasureContention.OtherCores, r.Machine.CPUs)
		}
	}
	fmt.Fprintln(w)
	for _, t := range r.Targets {
		mark := "MET   "
		if !t.Met {
			mark = "NOT MET"
		}
		fmt.Fprintf(w, "%-7s %-75s %8s  (want %s)\n", mark, t.Name, fmtNum(t.Got), t.Want)
	}
	for _, s := range r.Servers {
		for _, f := range []struct {
			what string
			f    Failures
		}{{"warm-up", s.Warmup.Failures}, {"measured", s.Measure.Failures}, {"hold open", s.Hold.OpenFailures}, {"hold close", s.Hold.CloseFailures}} {
			for _, m := range f.f.Samples {
				fmt.Fprintf(w, "  (%s) %s failure: %s\n", s.Key, f.what, m)
			}
		}
	}
	fmt.Fprintf(w, "\nwall time %.0f s\n", r.WallSeconds)
}

// writeFanout prints the fan-out table, when there was a fan-out run.
func (r *Results) writeFanout(w io.Writer) {
	if len(r.Fanout) == 0 {
		return
	}
	var g float64
	if f := r.fanoutByKey("a"); f != nil {
		g = f.CPUMicros
	}
	fmt.Fprintf(w, "\nfan-out: one broadcast at a time to %d idle authenticated connections, %d broadcasts per round, median of %d rounds by server CPU per message\n",
		r.Config.FanoutConns, r.Config.FanoutBroadcasts, max(r.Config.Rounds, 1))
	fmt.Fprintf(w, "%-30s %14s %8s %12s %14s %14s %12s %s\n", "server", "CPU µs/msg", "÷ Go", "kernel µs", "delivered/s", "loadgen µs", "other cores", "rounds (server CPU µs/msg)")
	for _, f := range r.Fanout {
		label := "(" + f.Key + ") " + f.Name
		if f.Key == FloorKey {
			label = f.Name
		}
		if f.Error != "" {
			fmt.Fprintf(w, "%-30s  error: %s\n", label, firstLine(f.Error))
			continue
		}
		var rs []string
		for _, rd := range f.Rounds {
			rs = append(rs, fmt.Sprintf("%.2f", rd.CPUMicros))
		}
		ratio := "-"
		if g > 0 {
			ratio = fmtRatio(Num(f.CPUMicros / g))
		}
		fmt.Fprintf(w, "%-30s %14.2f %8s %12.2f %14.0f %14.2f %12.2f %s\n", label, f.CPUMicros, ratio, f.SysMicros, f.PerSecond, f.LoadMicros, f.OtherCores, strings.Join(rs, " "))
	}
}

// fmtRatio formats a ratio as "0.19×", "5.38×", "12.4×"; "-" when there is
// none.
func fmtRatio(n Num) string {
	r := float64(n)
	switch {
	case math.IsNaN(r):
		return "-"
	case math.IsInf(r, 0):
		return "∞"
	case math.Abs(r) >= 10:
		return fmt.Sprintf("%.1f×", r)
	default:
		return fmt.Sprintf("%.2f×", r)
	}
}

func fmtNum(n Num) string {
	x := float64(n)
	if math.IsInf(x, 0) || math.IsNaN(x) {
		return "∞"
	}
	if x == math.Trunc(x) && math.Abs(x) < 1e9 {
		return fmt.Sprintf("%.0f", x)
	}
	return fmt.Sprintf("%.2f", x)
}

// spread is (max − min) / median of the rounds' server CPU per handshake,
// as a percentage: how noisy the run was.
func spread(rounds []Round) string {
	v := make([]float64, 0, len(rounds))
	for _, rd := range rounds {
		v = append(v, rd.CPU.Server)
	}
	slices.Sort(v)
	med := v[(len(v)-1)/2]
	if med <= 0 {
		return "-"
	}
	return fmt.Sprintf("±%.0f%%", (v[len(v)-1]-v[0])/med*100/2)
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
