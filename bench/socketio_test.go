package bench

import (
	"math"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/internal/testenv"
)

// TestSocketIOModes runs each server of the Socket.IO comparison in
// small, against the real servers on the same Redis and sessions: (d) and
// (e), the Socket.IO endpoint of a real `expressbridge serve` started as
// the benchmark starts it, over WebSocket only and polling then upgrade;
// (f), Node's Socket.IO 4 peer, polling then upgrade. Each gets hellos,
// refusals, a wrong user, a few handshakes and a small hold (checkClient).
func TestSocketIOModes(t *testing.T) {
	testenv.EnsureNodeModules(t)
	e := startPeerEnv(t)

	bin := filepath.Join(t.TempDir(), "expressbridge")
	build := exec.Command("go", "build", "-o", bin, "./cmd/expressbridge")
	build.Dir = testenv.RepoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/expressbridge: %v\n%s", err, out)
	}
	port := testenv.FreePort(t)
	p, err := StartBridge(bin, port, e.shared)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !p.Stop(5 * time.Second) {
			t.Errorf("expressbridge serve did not exit within 5 s of SIGTERM\n%s", p.Tail(20))
		}
		if t.Failed() {
			t.Log(p.Tail(30))
		}
	})
	goBase := "ws://127.0.0.1:" + strconv.Itoa(port)

	specs := map[string]ServerSpec{}
	for _, s := range SocketIOSpecs() {
		specs[s.Key] = s
	}
	for _, key := range []string{"d", "e", "f"} {
		spec := specs[key]
		t.Run(key, func(t *testing.T) {
			base := goBase
			if spec.Script != "" {
				base = e.startPeer(t, spec.Script)
			}
			c := NewClient(base, spec.Path, spec.Proto)
			if spec.Proto == SocketIOPolling && !strings.HasPrefix(c.URL(), "http://127.0.0.1:") {
				t.Errorf("polling client URL %q, want http://127.0.0.1:…", c.URL())
			}
			checkClient(t, e, c, "CONNECT_ERROR")
		})
	}
}

// TestCompareSocketIO checks the Go ÷ Node ratios per transport.
func TestCompareSocketIO(t *testing.T) {
	r := &Results{Servers: []ServerResult{
		{Key: "b", CPUMicros: 1000, RSSPerConnKB: 20, StoppedCleanly: true},
		{Key: "d", CPUMicros: 200, RSSPerConnKB: 5, StoppedCleanly: true},
		{Key: "e", CPUMicros: 300, RSSPerConnKB: 0, Failures: 1, StoppedCleanly: true},
		{Key: "f", CPUMicros: 1500, RSSPerConnKB: 30, StoppedCleanly: true},
	}}
	r.Finish()
	if len(r.SocketIO) != 2 {
		t.Fatalf("%d comparisons, want 2: %+v", len(r.SocketIO), r.SocketIO)
	}
	ws, poll := r.SocketIO[0], r.SocketIO[1]
	if ws.Go != "d" || ws.Node != "b" || ws.CPURatio != 0.2 || ws.RSSRatio != 0.25 {
		t.Errorf("websocket comparison %+v, want (d)/(b): CPU 0.2, RSS 0.25", ws)
	}
	if poll.Go != "e" || poll.Node != "f" || poll.CPURatio != 0.2 || !math.IsNaN(float64(poll.RSSRatio)) || poll.Failures != 1 {
		t.Errorf("polling comparison %+v, want (e)/(f): CPU 0.2, no RSS ratio (a flat slope), 1 failure", poll)
	}
	var table strings.Builder
	r.WriteTable(&table)
	if !strings.Contains(table.String(), "polling then websocket") || !strings.Contains(table.String(), "0.20×") {
		t.Errorf("table lacks the Socket.IO comparison:\n%s", table.String())
	}
}
