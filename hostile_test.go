//go:build unix

package expressbridge_test

import (
	"context"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge"
	"github.com/expressbridge/expressbridge/bench/attack"
	"github.com/expressbridge/expressbridge/examples/chat"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// soakSizes are issue #25's attacks scaled down to fit `make test` (about
// 30 s under -race on 2 cores): a tenth of the stalled POSTs (still far
// over the 16 refused sessions an address may hold), a fifth of the
// logged-in stalled and chunked bodies, 500 idle connections instead of
// 20,000 (both ends are in this process), 5 unread polls of 10 says
// instead of 20 of 60, a twentieth of the concurrent packet POSTs, 104 CONNECTs
// with a big auth (over the 100 sessions a login may open) instead of
// 2,000, and 2,000 handshakes without a cookie instead of 500,000. The
// burst of 2,000 says and each payload's size are the issue's; the
// attacker opens 4 connections at once, not 32 (it shares this process
// and its race detector with the server).
// `make soak-hostile` runs them at the sizes against the real serve.
var soakSizes = attack.Sizes{
	StalledPosts: 100, StalledBytes: 999_000, LoginStalled: 20, ChunkedBodies: 20, IdleConns: 500,
	UnreadPolls: 5, UnreadSays: 10, UnreadSayBytes: 900_000, BurstSays: 2000,
	PacketPosts: 10, PacketBytes: 1_000_000, AuthSessions: 104, AuthBytes: 990_000,
	Handshakes: 2000, SessionsPerLogin: 100, Workers: 4,
}

// TestHostileSoak runs issue #25's attacks one after another against what
// serve runs (expressbridge.New with the demo chat, the real Express app,
// real Redis), each at soakSizes. The time limits are shortened (2 s read
// timeout, 1 s write timeout, 2 s idle timeout) so that the attacks the server
// cuts by itself are cut within the test's budget. While each attack runs
// and after it, a legitimate user logs in through the Express app and
// opens a Socket.IO session (up to the chat's hello); after each, the heap
// and the goroutines are back near where they started. The bounds are
// generous for a loaded machine (a login under 2 s, the heap within 50 MB);
// the figures are logged.
func TestHostileSoak(t *testing.T) {
	rds := testenv.StartRedis(t)
	const secret = "hostile soak secret"
	app := testenv.StartNodeApp(t, testenv.NodeAppConfig{RedisURL: rds.URL(), Secrets: []string{secret}})
	logs := &testenv.Buffer{}
	srv, err := expressbridge.New(context.Background(), expressbridge.Config{
		StoreURL: rds.URL(), Secrets: []string{secret}, SingleInstance: true, WebSocket: chat.WebSocket{},
		SocketIOReadTimeout: 2 * time.Second, SocketIOWriteTimeout: time.Second, IdleTimeout: 2 * time.Second,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	chat.SocketIO(srv.Of("/"))
	tg := attack.Target{Addr: testenv.RunServer(t, srv.Serve), AppURL: app.URL()}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := attack.Legit(ctx, tg); err != nil { // warms the paths up
		t.Fatalf("a legitimate login before any attack: %v", err)
	}
	o := attack.Options{
		Sizes: soakSizes,
		Probe: func() (int64, int, error) {
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			return int64(m.HeapInuse), runtime.NumGoroutine(), nil
		},
		Sample: func() (int64, int, error) {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			return int64(m.HeapInuse), runtime.NumGoroutine(), nil
		},
		ReleaseWait: 15 * time.Second, Hold: time.Second,
		BackWait: 15 * time.Second, MemSlack: 50 << 20, GoroutineSlack: 20,
		LoginEvery: 250 * time.Millisecond,
	}
	const loginBound = 2 * time.Second
	var results []attack.Result
	for _, a := range attack.All {
		r := attack.Measure(ctx, tg, a, o)
		results = append(results, r)
		switch {
		case r.Err != nil:
			t.Errorf("%s: %v", a.Name, r.Err)
		case len(r.LoginFails) > 0:
			t.Errorf("%s: %d legitimate logins failed, the first: %s", a.Name, len(r.LoginFails), r.LoginFails[0])
		case r.LoginMax() > loginBound || r.LoginAfter > loginBound:
			t.Errorf("%s: a legitimate login took %v during the attack, %v after; want under %v", a.Name, r.LoginMax(), r.LoginAfter, loginBound)
		case !r.Back:
			t.Errorf("%s: heap %d MB, goroutines %d after; %d MB, %d before", a.Name, r.MemAfter>>20, r.GAfter, r.MemBefore>>20, r.GBefore)
		}
		t.Logf("%s (%.1f s): heap %d → %d → %d MB, goroutines %d → %d → %d, logins during %v max (%d), after %v; %s",
			a.Name, r.Took.Seconds(), r.MemBefore>>20, r.MemPeak>>20, r.MemAfter>>20, r.GBefore, r.GPeak, r.GAfter,
			r.LoginMax().Round(time.Millisecond), len(r.Logins), r.LoginAfter.Round(time.Millisecond), r.Outcomes)
	}
	var table strings.Builder
	attack.WriteTable(&table, "heap", results)
	t.Logf("\n%s", table.String())
	if l := logs.String(); strings.Contains(l, "s%3A") || strings.Contains(l, "connect.sid=") || strings.Contains(l, secret) {
		t.Errorf("a cookie or the secret reached the log")
	}
}
