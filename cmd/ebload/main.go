// Command ebload is the load generator and orchestrator of the side-by-side
// benchmark: expressbridge serve (Go) beside a Socket.IO 4 peer and a `ws`
// peer (node-app/peers), sharing one Redis and the Express app's sessions.
//
//	ebload bench   warm-up, 10,000 handshakes at 50 concurrent and a hold of
//	               3,000 idle connections for each server, then the fan-out
//	               (one broadcast to 10,000 connections, and the same frame
//	               written by a bare loop: the floor); writes
//	               bench/results.json and bench/results.svg (make bench)
//	ebload scale   the Go bridge alone holding -hold (100,000) idle
//	               authenticated connections from the raw client, 2,000
//	               sessions shared by them, then a reconnect storm after a
//	               restart of the bridge; writes bench/results-scale.json
//	ebload socketio
//	               the Socket.IO comparison: (b) Node's Socket.IO 4 and (d)
//	               the bridge's Socket.IO endpoint over WebSocket only, (e)
//	               the bridge's and (f) Node's over long-polling then the
//	               upgrade, as socket.io-client connects by default; the
//	               same phases as bench, no fan-out; writes
//	               bench/results-socketio.json (make bench runs it after bench)
//	ebload attack [NAME …]
//	               issue #25's hostile clients, one after another (all, or
//	               those named), against expressbridge serve at its defaults
//	               beside the Express app and Redis, at the issue's sizes
//	               (-scale divides them): serve's RSS and goroutines before,
//	               at the peak and after, and a legitimate login's time
//	               during each; prints a Markdown table (make soak-hostile)
//	ebload floor   the fan-out floor server (started by ebload bench)
//
// It needs bin/expressbridge (go build -o bin/expressbridge ./cmd/expressbridge),
// node with node-app/node_modules, and redis-server; scripts/bench-peers.sh
// sees to all three. Run it from inside the module.
//
// Exit status: 0 when every server was measured with no failed handshake
// (whether or not the performance targets are met: they are reported, not
// enforced), 1 when a handshake failed or a server could not be measured,
// 2 on a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/expressbridge/expressbridge/bench"
	"github.com/expressbridge/expressbridge/bench/attack"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func usage() {
	fmt.Fprintln(os.Stderr, `usage: ebload bench [flags]   # (a) Go bridge, (b) Socket.IO, (c) ws, side by side
       ebload socketio [flags] # (d) Go Socket.IO vs (b) Node's over WebSocket, (e) Go vs (f) Node polling then upgrade
       ebload scale [flags]   # the Go bridge alone holding 100,000 idle connections, then a reconnect storm
       ebload attack [-scale N] [NAME ...] # issue #25's hostile clients against serve, one after another
       ebload CMD -h          # the flags`)
}

func run(args []string) int {
	if len(args) == 0 {
		usage()
		return 2
	}
	o := bench.DefaultOptions()
	jsonName, svgName := "results.json", "results.svg"
	switch args[0] {
	case "bench":
	case "floor":
		return floor(args[1:])
	case "attack":
		return attacks(args[1:])
	case "socketio":
		o.Servers = bench.SocketIOServers()
		o.FanoutConns = 0
		jsonName, svgName = "results-socketio.json", ""
	case "scale":
		o.Servers = []string{"a"}
		o.FanoutConns = 0
		o.Warmup = 0
		o.Handshakes = 0
		o.Hold = 100000
		o.Sessions = 2000
		o.PhaseLimit = 300 * time.Second
		jsonName, svgName = "results-scale.json", ""
	case "-h", "-help", "--help", "help":
		usage()
		return 0
	default:
		fmt.Fprintf(os.Stderr, "ebload: unknown command %q\n", args[0])
		usage()
		return 2
	}

	repo, err := bench.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ebload:", err)
		return 2
	}
	fs := flag.NewFlagSet("ebload "+args[0], flag.ContinueOnError)
	servers := fs.String("servers", strings.Join(o.Servers, ","), "servers to run, in order: a (Go bridge), b (Socket.IO), c (ws); d, e, f: see ebload socketio")
	fs.IntVar(&o.Sessions, "sessions", o.Sessions, "users logged in through the Express app; handshakes use them round-robin")
	fs.IntVar(&o.Concurrency, "concurrency", o.Concurrency, "connections in flight")
	fs.IntVar(&o.Warmup, "warmup", o.Warmup, "warm-up handshakes per server")
	fs.IntVar(&o.Handshakes, "handshakes", o.Handshakes, "measured handshakes per server (0 skips)")
	fs.IntVar(&o.Rounds, "rounds", o.Rounds, "measured runs of -handshakes each per server; the one with the median rate is reported")
	fs.IntVar(&o.Hold, "hold", o.Hold, "idle connections held; RSS/conn is the slope between N/3 and N (0 skips)")
	fs.DurationVar(&o.PhaseLimit, "phase-limit", o.PhaseLimit, "time bound of each phase")
	fs.BoolVar(&o.HoldFresh, "hold-fresh", o.HoldFresh, "hold on a freshly started server process (false: on the one that ran the handshakes)")
	fs.DurationVar(&o.QuietWait, "quiet-wait", o.QuietWait, "before each measured run, wait up to this long for other processes to leave the CPUs idle (0: don't)")
	fs.DurationVar(&o.Settle, "settle", o.Settle, "wait before sampling RSS at a plateau")
	fs.IntVar(&o.RSSSamples, "rss-samples", o.RSSSamples, "RSS samples per plateau (the median counts)")
	fs.IntVar(&o.FanoutConns, "fanout-conns", o.FanoutConns, "connections per server of the fan-out run (0 skips it)")
	fs.IntVar(&o.FanoutBroadcasts, "fanout-broadcasts", o.FanoutBroadcasts, "broadcasts per fan-out round")
	fs.Uint64Var(&o.FileLimit, "nofile", o.FileLimit, "RLIMIT_NOFILE for the load generator and the servers it starts")
	fs.StringVar(&o.Bridge, "bridge", filepath.Join(repo, "bin", "expressbridge"), "expressbridge binary")
	fs.StringVar(&o.Node, "node", "node", "node binary")
	fs.StringVar(&o.BaselineBridge, "baseline-bridge", "", "another expressbridge binary (an earlier build) measured as server z in the same run")
	jsonPath := fs.String("json", filepath.Join(repo, "bench", jsonName), "results JSON (empty: none)")
	svgPath := fs.String("svg", svgPathOrEmpty(repo, svgName), "results chart SVG (empty: none)")
	fs.StringVar(&o.LogDir, "server-logs", "", "directory to copy each server's output to (NAME.log)")
	serverEnv := fs.String("server-env", "", "extra environment for every server, space-separated KEY=VALUE (e.g. GODEBUG=gctrace=1)")
	sources := fs.Int("sources", 4, "scale: loopback source addresses the connections spread over (127.0.0.2, 127.0.0.3, …)")
	storm := fs.Int("storm-workers", 200, "scale: concurrent handshakes of the reconnect storm")
	cpuProfile := fs.String("cpuprofile", "", "write the load generator's own CPU profile to this file")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "ebload: unexpected arguments %q\n", fs.Args())
		return 2
	}
	o.Servers = strings.Split(*servers, ",")
	o.ServerEnv = strings.Fields(*serverEnv)
	o.Repo, o.JSONPath, o.SVGPath = repo, *jsonPath, *svgPath
	if p, err := exec.LookPath(o.Node); err == nil {
		o.Node = p
	} else {
		fmt.Fprintf(os.Stderr, "ebload: node not found (%v): scripts/ensure.sh node\n", err)
		return 2
	}
	if needsBridge(o.Servers) {
		if _, err := os.Stat(o.Bridge); err != nil {
			fmt.Fprintf(os.Stderr, "ebload: %v: build it with go build -o bin/expressbridge ./cmd/expressbridge\n", err)
			return 2
		}
	}

	// The load generator shares two cores with the server: keep its GC quiet.
	debug.SetGCPercent(400)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "ebload:", err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "ebload:", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	if args[0] == "scale" {
		if *sources < 1 || *sources > 250 {
			fmt.Fprintln(os.Stderr, "ebload: -sources must be 1 to 250 (127.0.0.2 to 127.0.0.251)")
			return 2
		}
		sr, err := bench.RunScale(context.Background(), o, *sources, *storm)
		if sr != nil {
			sr.WriteTable(os.Stdout)
			if o.JSONPath != "" {
				if err := sr.WriteJSON(o.JSONPath); err != nil {
					fmt.Fprintln(os.Stderr, "ebload:", err)
					return 1
				}
				fmt.Fprintf(os.Stderr, "ebload: wrote %s\n", o.JSONPath)
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "ebload:", err)
			return 1
		}
		if sr.Error != "" || sr.OpenFailures.Total > 0 || sr.StormFailures.Total > 0 || sr.StormBack != sr.StormEnded {
			return 1
		}
		return 0
	}
	res, err := bench.Run(context.Background(), o)
	if res != nil {
		res.WriteTable(os.Stdout)
		if o.JSONPath != "" {
			fmt.Fprintf(os.Stderr, "ebload: wrote %s\n", o.JSONPath)
		}
		if o.SVGPath != "" && err == nil {
			fmt.Fprintf(os.Stderr, "ebload: wrote %s\n", o.SVGPath)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ebload:", err)
		return 1
	}
	for _, t := range res.Targets {
		if t.Validity && !t.Met {
			fmt.Fprintf(os.Stderr, "ebload: %s: %v (want %s)\n", t.Name, float64(t.Got), t.Want)
			return 1
		}
	}
	return 0
}

// attacks runs the hostile clients of issue #25 against serve.
func attacks(args []string) int {
	repo, err := bench.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ebload:", err)
		return 2
	}
	fs := flag.NewFlagSet("ebload attack", flag.ContinueOnError)
	bin := fs.String("bridge", filepath.Join(repo, "bin", "expressbridge"), "expressbridge binary")
	node := fs.String("node", "node", "node binary")
	scale := fs.Int("scale", 1, "divide the issue's counts by this (1: the issue's sizes)")
	idle := fs.Int("idle-conns", 0, "idle keep-alive connections (0: the issue's 20,000, less what the file limit leaves)")
	handshakes := fs.Int("handshakes", 0, "handshakes without a cookie (0: the issue's 500,000)")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: ebload attack [flags] [NAME ...]\nattacks:")
		for _, a := range attack.All {
			fmt.Fprintf(os.Stderr, "  %-20s %s\n", a.Name, a.What)
		}
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	list := attack.All
	if fs.NArg() > 0 {
		list = nil
		for _, name := range fs.Args() {
			a, ok := attack.Find(name)
			if !ok {
				fmt.Fprintf(os.Stderr, "ebload: no attack %q\n", name)
				fs.Usage()
				return 2
			}
			list = append(list, a)
		}
	}
	if _, err := os.Stat(*bin); err != nil {
		fmt.Fprintf(os.Stderr, "ebload: %v: build it with make build\n", err)
		return 2
	}
	nodePath, err := exec.LookPath(*node)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ebload: node not found (%v): scripts/ensure.sh node\n", err)
		return 2
	}
	s := attack.Issue
	if *scale > 1 {
		for _, n := range []*int{&s.StalledPosts, &s.LoginStalled, &s.ChunkedBodies, &s.IdleConns, &s.UnreadPolls,
			&s.UnreadSays, &s.BurstSays, &s.PacketPosts, &s.AuthSessions, &s.Handshakes} {
			*n = max(1, *n / *scale)
		}
	}
	// Both ends need a descriptor per idle connection, each process
	// under its own limit; the rest is for everything else.
	limit, lerr := bench.RaiseFileLimit(uint64(s.IdleConns) + 1000)
	if *idle > 0 {
		s.IdleConns = *idle
	}
	if spare := 500; uint64(s.IdleConns+spare) > limit {
		fmt.Fprintf(os.Stderr, "ebload: RLIMIT_NOFILE is %d (%v): holding %d idle connections, not %d\n",
			limit, lerr, int(limit)-spare, s.IdleConns)
		s.IdleConns = int(limit) - spare
	}
	if *handshakes > 0 {
		s.Handshakes = *handshakes
	}
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "%s ebload: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
	start := time.Now()
	res, err := attack.RunServe(context.Background(), attack.ServeOptions{Bridge: *bin, Node: nodePath, Repo: repo,
		Attacks: list, Sizes: s, Logf: logf})
	fmt.Printf("expressbridge serve at its defaults, %s, %d cores; %.0f s\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		runtime.NumCPU(), time.Since(start).Seconds())
	attack.WriteTable(os.Stdout, "RSS", res)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ebload:", err)
		return 1
	}
	for _, r := range res {
		if r.Err != nil {
			return 1
		}
	}
	return 0
}

// floor serves the fan-out floor (bench.ServeFloor) until killed.
func floor(args []string) int {
	fs := flag.NewFlagSet("ebload floor", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on (loopback only)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ebload floor:", err)
		return 1
	}
	if ap, err := netip.ParseAddrPort(ln.Addr().String()); err != nil || !ap.Addr().IsLoopback() {
		fmt.Fprintln(os.Stderr, "ebload floor: listens on loopback addresses only")
		return 2
	}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	if err := bench.ServeFloor(ln, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "ebload floor:", err)
		return 1
	}
	return 0
}

func svgPathOrEmpty(repo, name string) string {
	if name == "" {
		return ""
	}
	return filepath.Join(repo, "bench", name)
}

func needsBridge(keys []string) bool {
	for _, k := range keys {
		if k == "a" || k == "d" || k == "e" {
			return true
		}
	}
	return false
}
