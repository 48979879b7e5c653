package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ServerSpec is one server under test.
type ServerSpec struct {
	Key    string   // "a", "b", "c"
	Name   string   // shown in the table
	Proto  Protocol // how the load generator speaks to it
	Path   string   // WebSocket path for PlainWS
	Script string   // node-app script of a Node peer; "" for the Go bridge
}

// BaselineKey is the server key of Options.BaselineBridge: the bridge
// built from an earlier commit, measured in the same run as the current
// one to show what a change did.
const BaselineKey = "z"

// Specs are the servers of `make bench`, in run order.
var Specs = []ServerSpec{
	{Key: "a", Name: "expressbridge serve (Go)", Proto: PlainWS, Path: "/ws"},
	{Key: "b", Name: "Socket.IO 4 (Node)", Proto: SocketIO, Script: "peers/socketio.js"},
	{Key: "c", Name: "ws (Node)", Proto: PlainWS, Path: "/ws", Script: "peers/ws.js"},
}

// Options configure Run.
type Options struct {
	Repo   string // module root
	Bridge string // expressbridge binary
	// BaselineBridge, when set, is another expressbridge binary (an
	// earlier build) run as server "z" after the others.
	BaselineBridge string
	Node           string // node binary

	Servers     []string // keys of Specs to run, in order
	Sessions    int      // users logged in through the Express app
	Concurrency int      // workers of every phase
	Warmup      int      // handshakes before measuring
	Handshakes  int      // measured handshakes (0: skip)
	Hold        int      // N idle connections; RSS at N/3 and N (0: skip)
	PhaseLimit  time.Duration
	HoldFresh   bool          // hold on a freshly started server process, not the one that ran the handshakes
	Rounds      int           // measured runs per server; the median one is reported
	QuietWait   time.Duration // before measuring, wait up to this long (in all, per server) for the machine to be idle (0: don't)
	QuietCores  float64       // "idle": fewer cores than this busy
	Settle      time.Duration // wait before sampling RSS
	RSSSamples  int           // samples per plateau (median)
	SampleGap   time.Duration
	FileLimit   uint64 // RLIMIT_NOFILE to set before starting anything

	// FanoutConns idle authenticated connections per server for the
	// fan-out run, on a fresh process of each server and of the floor (0
	// skips it); FanoutBroadcasts broadcasts per round (Rounds rounds).
	FanoutConns      int
	FanoutBroadcasts int

	ServerEnv []string // extra KEY=VALUE for every server
	LogDir    string   // when set, a copy of each server's output goes to LogDir/NAME.log

	JSONPath string // "" writes none
	SVGPath  string // "" writes none
	Log      io.Writer
}

// DefaultOptions are `make bench`'s.
func DefaultOptions() Options {
	return Options{
		Servers:     []string{"a", "b", "c"},
		Sessions:    256,
		Concurrency: 50,
		Warmup:      3000,
		Handshakes:  10000,
		Hold:        3000,
		PhaseLimit:  120 * time.Second,
		HoldFresh:   true,
		Rounds:      3,
		QuietWait:   30 * time.Second,
		QuietCores:  0.3,
		Settle:      2 * time.Second,
		RSSSamples:  5,
		SampleGap:   200 * time.Millisecond,
		FileLimit:   65536,

		FanoutConns:      10000,
		FanoutBroadcasts: 10,
		Log:              os.Stderr,
	}
}

// secrets of the run: the first signs, both verify (as in a rotation).
var runSecrets = "bench-secret-current-0b7e1c\nbench-secret-previous-51f2aa\n"

// Run starts one redis-server, logs the users in through one Express app
// (node-app/server.js, then stopped), then runs each server in turn: start,
// warm-up, measured handshakes, hold, stop. It writes the JSON and SVG
// when asked and returns the results.
func Run(ctx context.Context, o Options) (*Results, error) {
	began := time.Now()
	logf := func(format string, a ...any) { fmt.Fprintf(o.Log, "ebload: "+format+"\n", a...) }
	if o.Concurrency < 1 || o.Sessions < 1 {
		return nil, errors.New("concurrency and sessions must be at least 1")
	}
	var specs []ServerSpec
	servers := o.Servers
	if o.BaselineBridge != "" && !slices.Contains(servers, BaselineKey) {
		servers = append(slices.Clone(servers), BaselineKey)
	}
	for _, k := range servers {
		if k == BaselineKey {
			specs = append(specs, ServerSpec{Key: BaselineKey, Name: "bridge, baseline build", Proto: PlainWS, Path: "/ws"})
			continue
		}
		found := false
		for _, s := range slices.Concat(Specs, SocketIOSpecs()) {
			if s.Key == k {
				specs, found = append(specs, s), true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown server %q (a to f)", k)
		}
	}
	limit, err := RaiseFileLimit(o.FileLimit)
	if err != nil {
		logf("RLIMIT_NOFILE is %d, not %d: %v", limit, o.FileLimit, err)
	}
	if need := uint64(max(o.Hold, o.FanoutConns) + o.Concurrency + 200); limit < need {
		return nil, fmt.Errorf("RLIMIT_NOFILE is %d, the hold of %d connections needs about %d: raise the hard limit (ulimit -Hn)", limit, o.Hold, need)
	}

	res := &Results{
		Machine: machine(o.Node, limit),
		Config: RunConfig{
			Sessions: o.Sessions, Concurrency: o.Concurrency, Warmup: o.Warmup, Handshakes: o.Handshakes,
			Hold: o.Hold, PhaseLimitSeconds: o.PhaseLimit.Seconds(), SettleSeconds: o.Settle.Seconds(),
			RSSSamples: o.RSSSamples, Origin: "none sent (not a browser), for every server",
			HoldFreshProcess: o.HoldFresh, Rounds: max(o.Rounds, 1), QuietWaitSeconds: o.QuietWait.Seconds(), QuietCores: o.QuietCores,
			FanoutConns: o.FanoutConns, FanoutBroadcasts: o.FanoutBroadcasts,
		},
	}

	env, err := prepare(ctx, o, "ebload-", logf)
	if err != nil {
		return nil, err
	}
	defer env.close()
	sh, redis, appDir, sessions := env.sh, env.redis, env.appDir, env.sessions

	for i, spec := range specs {
		if i > 0 {
			time.Sleep(time.Second) // let the previous server's sockets and CPU settle
		}
		sr := runServer(ctx, o, spec, sh, appDir, redis, sessions, logf)
		if sr.Error != "" {
			logf("(%s) %s: %s", spec.Key, spec.Name, sr.Error)
		}
		res.Servers = append(res.Servers, sr)
	}
	if o.FanoutConns > 0 {
		for _, spec := range append(specs, ServerSpec{Key: FloorKey, Name: "floor", Proto: Bare, Path: "/ws"}) {
			time.Sleep(time.Second)
			fr := runFanout(o, spec, sh, appDir, sessions, logf)
			if fr.Error != "" {
				logf("(%s) fan-out: %s", spec.Key, fr.Error)
			}
			res.Fanout = append(res.Fanout, fr)
		}
	}
	res.Generated = time.Now().UTC().Format(time.RFC3339)
	res.WallSeconds = round(Num(time.Since(began).Seconds()), 1).f()
	res.Finish()
	if o.JSONPath != "" {
		if err := res.WriteJSON(o.JSONPath); err != nil {
			return res, err
		}
	}
	if o.SVGPath != "" {
		if err := res.WriteSVG(o.SVGPath); err != nil {
			return res, err
		}
	}
	return res, nil
}

// bridgeBin is the binary of a bridge spec.
func (o Options) bridgeBin(spec ServerSpec) string {
	if spec.Key == BaselineKey {
		return o.BaselineBridge
	}
	return o.Bridge
}

func (n Num) f() float64 { return float64(n) }

// loginUsers starts the Express app, logs o.Sessions users in, stops it.
// prepared is what every run starts from: a redis-server of its own, the
// settings the servers share, and users logged in through the Express app.
type prepared struct {
	sh       Shared
	redis    *Proc
	appDir   string
	sessions []Session
	close    func() // stops Redis and removes the temp folder
}

// prepare starts Redis in a new temp folder named after prefix and logs
// o.Sessions users in through the Express app.
func prepare(ctx context.Context, o Options, prefix string, logf func(string, ...any)) (*prepared, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, err
	}
	p := &prepared{close: func() { os.RemoveAll(dir) }}
	fail := func(err error) (*prepared, error) { p.close(); return nil, err }
	p.sh = Shared{SecretsFile: filepath.Join(dir, "session-secrets"), Prefix: "sess:", Env: o.ServerEnv, LogDir: o.LogDir}
	if err := os.WriteFile(p.sh.SecretsFile, []byte(runSecrets), 0o600); err != nil {
		return fail(err)
	}
	redisDir := filepath.Join(dir, "redis")
	if err := os.Mkdir(redisDir, 0o700); err != nil {
		return fail(err)
	}
	redis, redisURL, err := StartRedis(redisDir)
	if err != nil {
		return fail(err)
	}
	p.redis, p.sh.RedisURL = redis, redisURL
	p.close = func() { redis.Stop(stopGrace); os.RemoveAll(dir) }
	logf("redis-server %s (pid %d)", redisURL, redis.PID())
	p.appDir = filepath.Join(o.Repo, "node-app")
	if p.sessions, err = loginUsers(ctx, o, p.appDir, p.sh, logf); err != nil {
		return fail(err)
	}
	return p, nil
}

func loginUsers(ctx context.Context, o Options, appDir string, sh Shared, logf func(string, ...any)) ([]Session, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	app, err := StartNode(o.Node, appDir, "server.js", port, sh)
	if err != nil {
		return nil, err
	}
	defer app.Stop(stopGrace)
	t0 := time.Now()
	sessions, err := Login(ctx, "http://127.0.0.1:"+strconv.Itoa(port), "bench-user", o.Sessions)
	if err != nil {
		return nil, fmt.Errorf("%v\n%s", err, app.Tail(20))
	}
	logf("logged in %d users through node-app/server.js in %.1f s", len(sessions), time.Since(t0).Seconds())
	return sessions, nil
}

// runServer measures one server; failures to start or a server that dies
// are reported in the result's Error.
func runServer(ctx context.Context, o Options, spec ServerSpec, sh Shared, appDir string, redis *Proc,
	sessions []Session, logf func(string, ...any)) (sr ServerResult) {
	sr = ServerResult{Key: spec.Key, Name: spec.Name, Protocol: spec.Proto.String(), StoppedCleanly: true}
	var p *Proc
	var client *Client
	start := func() bool {
		port, err := FreePort()
		if err == nil {
			if spec.Script == "" {
				p, err = StartBridge(o.bridgeBin(spec), port, sh)
			} else {
				p, err = StartNode(o.Node, appDir, spec.Script, port, sh)
			}
		}
		if err != nil {
			sr.Error = err.Error()
			return false
		}
		client = NewClient("ws://127.0.0.1:"+strconv.Itoa(port), spec.Path, spec.Proto)
		return true
	}
	stop := func() {
		if p != nil && !p.Stop(stopGrace) {
			sr.StoppedCleanly = false
			logf("(%s) did not exit within %v of SIGTERM; killed\n%s", spec.Key, stopGrace, p.Tail(10))
		}
		p = nil
	}
	dead := func() bool {
		if p.Exited() {
			sr.Error = fmt.Sprintf("the server exited (%v)\n%s", p.ExitErr(), p.Tail(20))
			return true
		}
		return ctx.Err() != nil
	}
	defer func() {
		sr.Failures = sr.Warmup.Failures.Total + sr.Measure.Failures.Total +
			sr.Hold.OpenFailures.Total + sr.Hold.CloseFailures.Total
		stop()
	}()

	if !start() {
		return sr
	}
	sr.URL = client.URL()
	sr.RSSStartKB, _ = ReadRSSKB(p.PID())
	logf("(%s) %s: pid %d, %s, RSS %d KB", spec.Key, spec.Name, p.PID(), sr.URL, sr.RSSStartKB)

	if o.Warmup > 0 {
		sr.Warmup = RunHandshakes(client, sessions, o.Warmup, o.Concurrency, o.PhaseLimit)
		logf("(%s) warm-up: %d/%d in %.1f s (%.0f/s), %d failed", spec.Key, sr.Warmup.Succeeded, o.Warmup,
			sr.Warmup.Seconds, sr.Warmup.PerSecond, sr.Warmup.Failures.Total)
		if dead() {
			return sr
		}
		if sr.Warmup.Aborted {
			sr.Error = fmt.Sprintf("the warm-up ran out of time (%v) after %d handshakes", o.PhaseLimit, sr.Warmup.Succeeded)
			return sr
		}
	}

	if o.Handshakes > 0 {
		quietLeft := o.QuietWait
		var rounds []Round
		for i := range max(o.Rounds, 1) {
			if quietLeft > 0 {
				busy, waited := WaitQuiet(quietLeft, o.QuietCores)
				quietLeft -= waited
				sr.QuietWait.Seconds = round(Num(sr.QuietWait.Seconds+waited.Seconds()), 1).f()
				sr.QuietWait.BusyCores = max(sr.QuietWait.BusyCores, busy)
				if busy >= o.QuietCores {
					logf("(%s) the machine is busy with other work (%.2f cores used while the benchmark idles): measuring anyway", spec.Key, busy)
				}
			}
			rd := measureRound(o, client, p.PID(), redis.PID(), sessions)
			rounds = append(rounds, rd)
			u, mc := rd.CPU, rd.Contention
			logf("(%s) measured round %d: %d/%d in %.1f s: %.0f/s, p50 %.2f ms, p99 %.2f ms, %d failed; CPU µs/handshake: server %.0f (kernel %.0f), loadgen %.0f (kernel %.0f), redis %.0f; cores busy %.2f: bench %.2f, softirq %.2f, other processes %.2f",
				spec.Key, i+1, rd.Phase.Succeeded, o.Handshakes, rd.Phase.Seconds, rd.Phase.PerSecond, rd.Phase.P50Ms, rd.Phase.P99Ms,
				rd.Phase.Failures.Total, u.Server, u.ServerSys, u.LoadGen, u.LoadGenSys, u.Redis,
				mc.BusyCores, mc.BenchCores, mc.SoftIRQCores, mc.OtherCores)
			if dead() {
				break
			}
			if rd.Phase.Aborted {
				logf("(%s) round %d ran out of time (%v): no more rounds", spec.Key, i+1, o.PhaseLimit)
				break
			}
		}
		sr.setRounds(rounds)
		if sr.Error != "" || sr.Measure.Aborted {
			return sr
		}
	}
	sr.RSSAfterMeasureKB, _ = ReadRSSKB(p.PID())

	if o.Hold > 0 {
		fresh := o.HoldFresh && (o.Warmup > 0 || o.Handshakes > 0)
		if fresh {
			// A process that has just done thousands of handshakes holds
			// their garbage, and Node's GC may free it between the two
			// plateaus, which makes the slope meaningless (even negative):
			// hold on a fresh process of the same server instead.
			stop()
			if !start() {
				return sr
			}
			logf("(%s) hold on a fresh process: pid %d, RSS %d KB", spec.Key, p.PID(), mustRSS(p.PID()))
		}
		sr.Hold = hold(o, client, p.PID(), sessions, spec, logf)
		sr.Hold.FreshProcess = fresh
		sr.RSSPerConnKB = holdSlope(&sr.Hold)
		if dead() {
			return sr
		}
	}
	return sr
}

// Round is one measured run of handshakes with the CPU it cost and how busy
// the machine was.
type Round struct {
	Phase
	CPU        CPUUse     `json:"cpu_us_per_handshake"`
	Contention Contention `json:"contention"`
}

// measureRound runs o.Handshakes handshakes and reads the CPU counters of
// the server, redis, this process and the machine around them.
func measureRound(o Options, client *Client, pid, redisPID int, sessions []Session) Round {
	s0, _ := CPUTime(pid)
	r0, _ := CPUTime(redisPID)
	l0 := SelfCPUTime()
	m0, _ := ReadMachineCPU()
	t0 := time.Now()
	ph := RunHandshakes(client, sessions, o.Handshakes, o.Concurrency, o.PhaseLimit)
	wall := time.Since(t0)
	m1, _ := ReadMachineCPU()
	s1, _ := CPUTime(pid)
	r1, _ := CPUTime(redisPID)
	l1 := SelfCPUTime()
	sv, lg, rd := s1.Sub(s0), l1.Sub(l0), r1.Sub(r0)
	out := Round{Phase: ph, Contention: contention(m0, m1, wall, sv.Total()+lg.Total()+rd.Total())}
	if n := ph.Succeeded; n > 0 {
		per := func(d time.Duration) float64 { return round(Num(float64(d.Microseconds())/float64(n)), 1).f() }
		out.CPU = CPUUse{
			Server: per(sv.Total()), ServerSys: per(sv.Sys),
			LoadGen: per(lg.Total()), LoadGenSys: per(lg.Sys),
			Redis: per(rd.Total()),
		}
	}
	return out
}

// setRounds keeps every round and takes the headline figures from the
// round with the median server CPU per handshake (the lower middle one of
// an even count), so that one round disturbed by the shared machine does
// not move them.
// Failures of every round count.
func (sr *ServerResult) setRounds(rounds []Round) {
	if len(rounds) == 0 {
		return
	}
	sr.Rounds = rounds
	order := make([]int, len(rounds))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int { return cmp.Compare(rounds[x].CPU.Server, rounds[y].CPU.Server) })
	med := rounds[order[(len(order)-1)/2]]
	sr.Measure = med.Phase
	sr.Measure.Failures = Failures{}
	for _, r := range rounds {
		sr.Measure.Failures.merge(r.Phase.Failures)
	}
	sr.CPUMicrosPerHandshake = med.CPU
	sr.CPUMicros = med.CPU.Server
	sr.MeasureContention = med.Contention
	sr.HandshakesPerSec = round(Num(med.Phase.PerSecond), 1).f()
	sr.P50Ms, sr.P99Ms = med.Phase.P50Ms, med.Phase.P99Ms
}

func mustRSS(pid int) int64 {
	kb, _ := ReadRSSKB(pid)
	return kb
}

func holdSlope(h *HoldResult) float64 {
	if h.Low.Conns == 0 && h.High.Conns == 0 {
		return 0
	}
	s, err := Slope(h.Low, h.High)
	if err != nil {
		return 0
	}
	return round(Num(s), 2).f()
}

// hold opens N/3 connections, samples RSS, opens the rest, samples again,
// and closes them all.
func hold(o Options, client *Client, pid int, sessions []Session, spec ServerSpec, logf func(string, ...any)) HoldResult {
	h := HoldResult{Target: o.Hold}
	holder := NewHolder(client)
	lowN := o.Hold / 3
	t0 := time.Now()
	var aborted bool
	for _, step := range []struct {
		n  int
		at *Plateau
	}{{lowN, &h.Low}, {o.Hold - lowN, &h.High}} {
		f, ab := holder.Open(sessions, step.n, o.Concurrency, o.PhaseLimit)
		h.OpenFailures.merge(f)
		aborted = aborted || ab
		held := holder.Len()
		median, samples, err := SettledRSS(pid, o.Settle, o.RSSSamples, o.SampleGap)
		if err != nil {
			logf("(%s) reading RSS: %v", spec.Key, err)
		}
		*step.at = Plateau{Conns: held, RSSKB: median, Samples: samples}
		logf("(%s) holding %d idle connections: RSS %d KB (samples %v)", spec.Key, held, median, samples)
	}
	h.Held = holder.Len()
	h.Aborted = aborted
	h.OpenSeconds = round(Num(time.Since(t0).Seconds()), 1).f()
	h.CloseFailures = holder.CloseAll(o.Concurrency, o.PhaseLimit)
	if s, err := Slope(h.Low, h.High); err == nil {
		logf("(%s) RSS per idle connection: %.2f KB; %d open and %d close failures", spec.Key, s, h.OpenFailures.Total, h.CloseFailures.Total)
	}
	return h
}

func machine(node string, fileLimit uint64) Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), FileLimit: fileLimit}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if out, err := exec.Command(node, "--version").Output(); err == nil {
		m.Node = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("redis-server", "--version").Output(); err == nil {
		f := strings.Fields(string(out))
		for _, x := range f {
			if v, ok := strings.CutPrefix(x, "v="); ok {
				m.Redis = v
			}
		}
	}
	return m
}
