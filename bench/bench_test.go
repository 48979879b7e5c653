package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/bridge"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/examples/chat"
	"github.com/expressbridge/expressbridge/internal/testenv"
	"github.com/expressbridge/expressbridge/internal/testrig"
)

// The secrets of the tests' Express app and peers: the first signs, both
// verify.
var testSecrets = []string{"bench-test-current", "bench-test-previous"}

// peerEnv is one redis-server, the Express app and sessions logged in
// through it, shared by the peer tests.
type peerEnv struct {
	rig      *testrig.Rig
	shared   Shared
	appDir   string
	node     string
	sessions []Session // logged in
	out      Session   // logged in, then logged out
	notIn    Session   // a stored session whose loggedIn is false
	previous Session   // sessions[0]'s sid signed with the previous secret
}

func startPeerEnv(t *testing.T) *peerEnv {
	t.Helper()
	rig := testrig.Start(t, testrig.Config{Secrets: testSecrets})
	app := rig.App
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sessions, err := Login(ctx, app.URL(), "Zoë", 4)
	if err != nil {
		t.Fatal(err)
	}
	outs, err := Login(ctx, app.URL(), "gone", 1)
	if err != nil {
		t.Fatal(err)
	}
	app.Logout(ctx, t, outs[0].Cookie)
	notIns, err := Login(ctx, app.URL(), "not-in", 1)
	if err != nil {
		t.Fatal(err)
	}
	if code, body := app.PostJSON(ctx, t, "/test/set", notIns[0].Cookie, map[string]any{"loggedIn": false}); code != 200 {
		t.Fatalf("POST /test/set loggedIn=false: %d %s", code, body)
	}

	sid, _, err := rig.Verifier.FromHeader(sessions[0].Cookie, CookieName)
	if err != nil {
		t.Fatalf("the Express app's cookie %q does not verify: %v", sessions[0].Cookie, err)
	}
	old, _ := connectsid.NewVerifier(testSecrets[1])

	secrets := filepath.Join(t.TempDir(), "secrets")
	if err := os.WriteFile(secrets, []byte(strings.Join(testSecrets, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &peerEnv{
		rig:      rig,
		shared:   Shared{RedisURL: rig.Redis.URL(), SecretsFile: secrets, Prefix: "sess:"},
		appDir:   filepath.Join(testenv.RepoRoot(t), "node-app"),
		node:     testenv.Node(t),
		sessions: sessions,
		out:      outs[0],
		notIn:    notIns[0],
		previous: NewSession(sessions[0].User, CookieName+"="+old.Sign(sid)),
	}
}

// startPeer starts node-app/peers/SCRIPT and checks at cleanup that it
// exits on SIGTERM.
func (e *peerEnv) startPeer(t *testing.T, script string) string {
	t.Helper()
	// A port free a moment ago may be taken by a parallel test before node
	// binds it: then another one is tried.
	var p *Proc
	var port int
	for try := 1; ; try++ {
		port = testenv.FreePort(t)
		var err error
		if p, err = StartNode(e.node, e.appDir, script, port, e.shared); err == nil {
			break
		} else if try == 3 || !strings.Contains(err.Error(), "EADDRINUSE") {
			t.Fatal(err)
		}
		t.Logf("%s: port %d was taken before node bound it; trying another", script, port)
	}
	t.Cleanup(func() {
		if !p.Stop(5 * time.Second) {
			t.Errorf("%s did not exit within 5 s of SIGTERM\n%s", script, p.Tail(20))
		}
		if t.Failed() {
			t.Log(p.Tail(30))
		}
	})
	return "ws://127.0.0.1:" + strconv.Itoa(port)
}

// TestPeers checks the load generator's client against the real Node peers:
// the hello for logged-in sessions (also one signed with the previous
// secret), refusals otherwise, a clean close, a small run and a hold.
func TestPeers(t *testing.T) {
	testenv.EnsureNodeModules(t)
	e := startPeerEnv(t)
	for _, tc := range []struct {
		script string
		proto  Protocol
		path   string
		refuse string // in every refusal's message
	}{
		{"peers/socketio.js", SocketIO, "", `CONNECT_ERROR {"message":"unauthorized"}`},
		{"peers/ws.js", PlainWS, "/ws", "HTTP 401"},
	} {
		t.Run(tc.script, func(t *testing.T) {
			t.Parallel()
			base := e.startPeer(t, tc.script)
			checkClient(t, e, NewClient(base, tc.path, tc.proto), tc.refuse)
			if tc.proto == PlainWS { // like the bridge, only its path upgrades
				off := NewClient(base, "/elsewhere", PlainWS)
				if conn, err := off.Open(&e.sessions[0]); err == nil || !strings.Contains(err.Error(), "HTTP 404") {
					if conn != nil {
						conn.Close()
					}
					t.Errorf("Open off /ws: %v, want HTTP 404", err)
				}
			}
		})
	}
}

// TestBridgeClient checks the plain WebSocket client against the real Go
// bridge (package bridge, in process, on the same Redis and sessions).
func TestBridgeClient(t *testing.T) {
	testenv.EnsureNodeModules(t)
	e := startPeerEnv(t)
	srv, err := bridge.New(bridge.Config{Gate: e.rig.Gate, Protocol: chat.WebSocket{}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", srv)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Close()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("bridge Shutdown: %v", err)
		}
	})
	checkClient(t, e, NewClient("ws"+strings.TrimPrefix(hs.URL, "http"), "/ws", PlainWS), "HTTP 401")
}

// checkClient runs the client through hellos (also for a cookie signed
// with the previous secret), refusals (each message must contain refuse),
// a hello for the wrong user, a small run and a hold.
func checkClient(t *testing.T, e *peerEnv, c *Client, refuse string) {
	t.Helper()
	for _, s := range []Session{e.sessions[0], e.previous} {
		conn, err := c.Open(&s)
		if err != nil {
			t.Fatalf("Open(%s): %v", s.Cookie, err)
		}
		if err := conn.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}

	// The signature's last three characters changed: to AAA, unless they
	// are AAA already.
	good := e.sessions[1].Cookie
	tail := "AAA"
	if strings.HasSuffix(good, tail) {
		tail = "BBB"
	}
	tampered := good[:len(good)-3] + tail
	for name, s := range map[string]Session{
		"logged out":     e.out,
		"loggedIn false": e.notIn,
		"no cookie":      NewSession("x", ""),
		"bad signature":  NewSession(e.sessions[1].User, tampered),
		"unknown cookie": NewSession("x", "other=1"),
	} {
		conn, err := c.Open(&s)
		var fe *Error
		if err == nil {
			conn.Close()
			t.Errorf("%s: Open succeeded, want a refusal", name)
		} else if !errors.As(err, &fe) || fe.Kind != FailRefused || !strings.Contains(err.Error(), refuse) {
			t.Errorf("%s: Open: %v, want a %s failure with %q", name, err, FailRefused, refuse)
		}
	}

	// A hello for another user is a failure, not a success.
	wrong := NewSession("someone-else", e.sessions[2].Cookie)
	if conn, err := c.Open(&wrong); err == nil {
		conn.Close()
		t.Error("Open accepted a hello naming another user")
	} else if fe := (*Error)(nil); !errors.As(err, &fe) || fe.Kind != FailHello {
		t.Errorf("wrong user: %v, want a %s failure", err, FailHello)
	}

	ph := RunHandshakes(c, e.sessions, 40, 4, 20*time.Second)
	if ph.Succeeded != 40 || ph.Failures.Total != 0 || ph.Aborted || ph.P99Ms <= 0 || ph.PerSecond <= 0 {
		t.Errorf("RunHandshakes = %+v, want 40 clean handshakes", ph)
	}

	h := NewHolder(c)
	if f, aborted := h.Open(e.sessions, 6, 3, 20*time.Second); f.Total != 0 || aborted || h.Len() != 6 {
		t.Fatalf("Holder.Open: %+v aborted=%v, holding %d; want 6", f, aborted, h.Len())
	}
	if f := h.CloseAll(3, 20*time.Second); f.Total != 0 {
		t.Errorf("Holder.CloseAll: %+v", f)
	}
}

func TestSlope(t *testing.T) {
	s, err := Slope(Plateau{Conns: 1000, RSSKB: 50_000}, Plateau{Conns: 3000, RSSKB: 70_000})
	if err != nil || s != 10 {
		t.Errorf("Slope = %v, %v; want 10 KB per connection", s, err)
	}
	s, err = Slope(Plateau{Conns: 1000, RSSKB: 50_000}, Plateau{Conns: 3000, RSSKB: 49_000})
	if err != nil || s != -0.5 {
		t.Errorf("shrinking RSS: Slope = %v, %v; want -0.5", s, err)
	}
	for _, hi := range []int{1000, 10} {
		if _, err := Slope(Plateau{Conns: 1000}, Plateau{Conns: hi}); err == nil {
			t.Errorf("Slope from 1000 to %d connections: no error", hi)
		}
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []int64
		want int64
	}{{nil, 0}, {[]int64{7}, 7}, {[]int64{9, 1, 5}, 5}, {[]int64{4, 1, 3, 2}, 2}, {[]int64{100, 1, 100, 100, 2}, 100}} {
		in := append([]int64(nil), tc.in...)
		if got := Median(tc.in); got != tc.want {
			t.Errorf("Median(%v) = %d, want %d", tc.in, got, tc.want)
		}
		if !slicesEqual(in, tc.in) {
			t.Errorf("Median modified its input: %v", tc.in)
		}
	}
}

func slicesEqual(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 200; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{50, 100 * time.Millisecond}, {99, 198 * time.Millisecond}, {100, 200 * time.Millisecond}, {0, time.Millisecond}} {
		if got := Percentile(d, tc.p); got != tc.want {
			t.Errorf("Percentile(1..200 ms, %v) = %v, want %v", tc.p, got, tc.want)
		}
	}
	if Percentile(nil, 99) != 0 {
		t.Error("Percentile of nothing is not 0")
	}
}

func TestProcFigures(t *testing.T) {
	kb, err := ReadRSSKB(os.Getpid())
	if err != nil || kb <= 0 {
		t.Errorf("ReadRSSKB(self) = %d, %v", kb, err)
	}
	med, samples, err := SettledRSS(os.Getpid(), 0, 3, time.Millisecond)
	if err != nil || len(samples) != 3 || med <= 0 {
		t.Errorf("SettledRSS(self) = %d, %v, %v", med, samples, err)
	}
	// Burn a little CPU so that the 10 ms clock ticks move.
	deadline := time.Now().Add(60 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ {
		_ = x * x
	}
	cpu, err := CPUTime(os.Getpid())
	if err != nil || cpu.User <= 0 || cpu.Sys < 0 {
		t.Errorf("CPUTime(self) = %+v, %v", cpu, err)
	}
	if self := SelfCPUTime(); self.Total() < cpu.Total() {
		t.Errorf("SelfCPUTime() = %+v, less than /proc's %+v read earlier", self, cpu)
	}
	if _, err := ReadRSSKB(1 << 30); err == nil {
		t.Error("ReadRSSKB of no process: no error")
	}
}

// sampleResults is a run's results with odd values: a name needing XML
// escaping and a Go RSS slope of 0 (an infinite ratio).
func sampleResults() *Results {
	r := &Results{
		Generated: "2026-01-02T03:04:05Z",
		Machine:   Machine{CPUs: 2},
		Config:    RunConfig{Sessions: 256, Concurrency: 50, Warmup: 3000, Handshakes: 10000, Hold: 3000},
		Servers: []ServerResult{
			{Key: "a", Name: "expressbridge <Go> & co", CPUMicros: 60, HandshakesPerSec: 4000, P50Ms: 5, P99Ms: 20, RSSPerConnKB: 0, StoppedCleanly: true,
				CPUMicrosPerHandshake: CPUUse{Server: 250, LoadGen: 180, Redis: 20}},
			{Key: "b", Name: "Socket.IO 4 (Node)", CPUMicros: 400, HandshakesPerSec: 700, P50Ms: 60, P99Ms: 120, RSSPerConnKB: 16.5, StoppedCleanly: true},
			{Key: "c", Name: "ws (Node)", CPUMicros: 100, HandshakesPerSec: 1500, P50Ms: 30, P99Ms: 70, RSSPerConnKB: 9, Failures: 2, StoppedCleanly: true},
		},
	}
	r.Finish()
	return r
}

func TestFinishTargets(t *testing.T) {
	r := sampleResults()
	want := []struct {
		prefix string
		got    float64
		met    bool
	}{
		{"server CPU per handshake of (a) at most half of (c)'s", 0.6, false},
		{"server CPU per handshake of (a) at most a fifth of (b)'s", 0.15, true},
		{"RSS/conn of (a)", 0, false}, // (a)'s slope is 0: no measurement, never met
		{"failed handshakes", 2, false},
		{"servers with an error", 0, true},
		{"servers whose RSS did not grow", 1, false},
	}
	if len(r.Targets) != len(want) {
		t.Fatalf("%d targets, want %d: %+v", len(r.Targets), len(want), r.Targets)
	}
	for i, w := range want {
		tg := r.Targets[i]
		if !strings.HasPrefix(tg.Name, w.prefix) || math.Abs(float64(tg.Got)-w.got) > 1e-9 || tg.Met != w.met {
			t.Errorf("target %d = %+v, want %q… got %v met %v", i, tg, w.prefix, w.got, w.met)
		}
	}
	if r.Servers[1].RatioToGo == nil || r.Servers[1].RatioToGo.HandshakesPerSec != 0.175 || r.Servers[1].RatioToGo.CPUPerHandshake != 6.667 {
		t.Errorf("(b)'s ratio to Go = %+v", r.Servers[1].RatioToGo)
	}

	// With every slope positive the RSS target is judged on the ratio.
	r.Servers[0].RSSPerConnKB = 9
	r.Finish()
	if tg := r.Targets[2]; float64(tg.Got) != 1 || !tg.Met {
		t.Errorf("RSS target with (a) = (c) = 9 KB: %+v, want got 1, met", tg)
	}
	r.Servers[2].RSSPerConnKB = -1.5 // a Node slope that went down
	r.Finish()
	if tg := r.Targets[2]; tg.Met {
		t.Errorf("RSS target against a negative slope: %+v, want not met", tg)
	}
}

func TestSetRounds(t *testing.T) {
	mk := func(rate, p99 float64, fails int) Round {
		r := Round{Phase: Phase{PerSecond: rate, P99Ms: p99}, CPU: CPUUse{Server: rate / 10}}
		for range fails {
			r.Phase.Failures.add(&Error{FailHello, errors.New("x")})
		}
		return r
	}
	var sr ServerResult
	sr.setRounds([]Round{mk(3000, 10, 0), mk(1000, 90, 1), mk(2000, 20, 2)})
	if sr.HandshakesPerSec != 2000 || sr.P99Ms != 20 || sr.CPUMicros != 200 || sr.CPUMicrosPerHandshake.Server != 200 || len(sr.Rounds) != 3 {
		t.Errorf("setRounds took %v/s, p99 %v, CPU %v from %d rounds; want the median round (2000/s, p99 20, CPU 200) of 3",
			sr.HandshakesPerSec, sr.P99Ms, sr.CPUMicrosPerHandshake.Server, len(sr.Rounds))
	}
	if sr.Measure.Failures.Total != 3 || sr.Measure.Failures.ByKind[FailHello] != 3 {
		t.Errorf("failures %+v, want every round's 3", sr.Measure.Failures)
	}
	sr = ServerResult{}
	sr.setRounds([]Round{mk(3000, 10, 0), mk(1000, 90, 0)})
	if sr.HandshakesPerSec != 1000 {
		t.Errorf("of two rounds setRounds took %v/s, want the lower, 1000", sr.HandshakesPerSec)
	}
}

func TestResultsJSON(t *testing.T) {
	r := sampleResults()
	path := filepath.Join(t.TempDir(), "results.json")
	if err := r.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	var back struct {
		Servers []struct {
			Key       string              `json:"key"`
			RatioToGo map[string]*float64 `json:"ratio_to_go"`
		} `json:"servers"`
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("results.json does not decode: %v\n%s", err, b)
	}
	if len(back.Servers) != 3 || back.Servers[1].RatioToGo["rss_per_conn"] != nil {
		t.Errorf("want (b)'s RSS ratio to a zero Go figure as null, got %s", b)
	}
}

// TestSVG checks that the chart is well-formed XML with an <svg> root and
// nine bars (three metrics × three servers), escaping the names.
func TestSVG(t *testing.T) {
	r := sampleResults()
	svg := r.SVG()
	dec := xml.NewDecoder(bytes.NewReader(svg))
	var root string
	bars, depth := 0, 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, svg)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				root = el.Name.Space + " " + el.Name.Local
			}
			depth++
			if el.Name.Local == "title" {
				bars++
			}
		case xml.EndElement:
			depth--
		}
	}
	if root != "http://www.w3.org/2000/svg svg" {
		t.Errorf("root element %q, want svg in the SVG namespace", root)
	}
	if bars != 9 {
		t.Errorf("%d bars, want 9", bars)
	}
	if !bytes.Contains(svg, []byte("expressbridge &lt;Go&gt; &amp; co")) {
		t.Error("the server name is not escaped in the SVG")
	}
	var table strings.Builder
	r.WriteTable(&table)
	for _, want := range []string{"(a) expressbridge <Go> & co", "0.17×", "NOT MET", "failed handshakes"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
}
