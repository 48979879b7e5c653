package engineio_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/engineio"
	"github.com/expressbridge/expressbridge/engineio/parser"
	"github.com/expressbridge/expressbridge/internal/testenv"
	"github.com/expressbridge/expressbridge/liveness"
	"github.com/expressbridge/expressbridge/wsconn"
)

// Bytes, not counts: the tests of the bounds in bytes (the send queues,
// a GET's payload) and in packets (a POST's payload).

// pusher is a server that sends what a client asks for: "4push N S"
// sends N text messages of S bytes, each beginning with its index
// ("000042xxx…"); "4same N S" sends one message of S bytes N times. It
// reports how many went before a Send failed, and the error.
type pusher struct {
	s      *engineio.Session
	pushed chan<- pushed
}

type pushed struct {
	n   int
	err error
}

func (pusher) Opened()                   {}
func (h pusher) End(r liveness.Reason)   { h.s.CloseWith(wsconn.CloseFor(r)) }
func (pusher) Closed(string)             {}
func (h pusher) Message(p parser.Packet) { h.pushed <- h.push(string(p.Data)) }

func (h pusher) push(cmd string) pushed {
	var mode string
	var n, size int
	if _, err := fmt.Sscanf(cmd, "%s %d %d", &mode, &n, &size); err != nil {
		return pushed{err: err}
	}
	same := append([]byte("4"), bytes.Repeat([]byte("x"), size)...)
	for i := range n {
		msg := same
		if mode == "push" {
			msg = fmt.Appendf(nil, "4%06d%s", i, bytes.Repeat([]byte("x"), max(size-6, 0)))
		}
		if err := h.s.SendMessage(msg, nil); err != nil {
			return pushed{i, err}
		}
	}
	return pushed{n, nil}
}

// reasons is an Observer that keeps why each session closed.
type reasons struct {
	mu  sync.Mutex
	got []string
}

func (*reasons) ConnectionOpened(string) {}
func (r *reasons) ConnectionClosed(_, reason string) {
	r.mu.Lock()
	r.got = append(r.got, reason)
	r.mu.Unlock()
}

// waitFor waits until a session has closed for reason.
func (r *reasons) waitFor(t *testing.T, reason string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		r.mu.Lock()
		got := append([]string(nil), r.got...)
		r.mu.Unlock()
		for _, g := range got {
			if g == reason {
				return
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	t.Fatalf("no session closed %s; closes: %v", reason, r.got)
}

// pushServer serves a pusher with cfg; it returns the polling URL, the
// pushes' results and the reasons sessions closed.
func pushServer(t *testing.T, cfg engineio.Config) (string, <-chan pushed, *reasons) {
	t.Helper()
	ch := make(chan pushed, 16)
	obs := &reasons{}
	cfg.Handler = func(s *engineio.Session) engineio.Handler { return pusher{s, ch} }
	cfg.Insecure, cfg.Observer, cfg.Logger = true, obs, logger(newLogs(t))
	srv, err := engineio.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return "http://" + testenv.ServeHTTP(t, srv) + "/engine.io/?EIO=4&transport=polling", ch, obs
}

// do makes one request and returns its status and body.
func do(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	r, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// openPolling opens a long-polling session and returns its URL.
func openPolling(t *testing.T, base string) string {
	t.Helper()
	status, body := do(t, "GET", base, "")
	i, j := strings.Index(body, `"sid":"`), strings.Index(body, `","`)
	if status != 200 || i < 0 || j < i {
		t.Fatalf("handshake: %d %s", status, body)
	}
	return base + "&sid=" + body[i+len(`"sid":"`):j]
}

// TestPayloadOfManyPackets: a POST of 500,000 NOOPs (1 MB of "6␞6␞…",
// within maxHttpBufferSize) is refused before its packets are made, and
// ends the session; MaxPackets of them are taken.
func TestPayloadOfManyPackets(t *testing.T) {
	noops := func(n int) string { return strings.Repeat("6\x1e", n-1) + "6" }
	t.Run("the decoder refuses without allocating", func(t *testing.T) {
		in := []byte(noops(500_000))
		var err error
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		allocs := testing.AllocsPerRun(10, func() { _, err = parser.DecodePayload(in, 1_000_000) })
		runtime.ReadMemStats(&after)
		if !errors.Is(err, parser.ErrTooManyPackets) {
			t.Fatalf("DecodePayload of 500,000 NOOPs: %v, want ErrTooManyPackets", err)
		}
		if allocs != 0 {
			t.Errorf("DecodePayload of 500,000 NOOPs: %v allocations, want 0", allocs)
		}
		// 11 runs; unbounded, each would make 500,000 Packets (20 MB).
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<10 {
			t.Errorf("DecodePayload of 500,000 NOOPs: %d bytes allocated over 11 runs, want < 64 KiB", grew)
		}
	})
	base, _, obs := pushServer(t, engineio.Config{})
	for _, tc := range []struct {
		name   string
		n      int
		status int
	}{
		{"MaxPackets", parser.MaxPackets, http.StatusOK},
		{"MaxPackets + 1", parser.MaxPackets + 1, http.StatusBadRequest},
		{"500,000", 500_000, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := openPolling(t, base)
			status, body := do(t, "POST", url, noops(tc.n))
			if status != tc.status {
				t.Fatalf("POST of %d NOOPs: %d %s, want %d", tc.n, status, body, tc.status)
			}
			if tc.status == http.StatusOK {
				return
			}
			if !strings.Contains(body, parser.ErrTooManyPackets.Error()) {
				t.Errorf("POST of %d NOOPs: %s, want it to say %q", tc.n, body, parser.ErrTooManyPackets)
			}
			if status, _ := do(t, "GET", url, ""); status != http.StatusBadRequest {
				t.Errorf("GET after: %d, want 400 (closed)", status)
			}
		})
	}
	obs.waitFor(t, wsconn.ReasonClientClosed) // parse error
}

// TestPollingQueueBytes: a client that does not poll is closed as slow
// once what waits for it passes SendQueueBytes, whatever the count; the
// count still bounds small packets. Each queued packet counts its payload
// and a separator.
func TestPollingQueueBytes(t *testing.T) {
	for _, tc := range []struct {
		name       string
		cfg        engineio.Config
		n, size    int
		wantQueued int // packets queued before the slow-client close
	}{
		// SendQueueBytes 4 × 100,000 by default: 7 packets of 50,002.
		{"large packets stop at the byte bound", engineio.Config{MaxHTTPBufferSize: 100_000}, 60, 50_000, 7},
		{"the default count still bounds small ones", engineio.Config{MaxHTTPBufferSize: 100_000}, 100, 10, engineio.DefaultSendQueue},
		{"an explicit byte bound", engineio.Config{SendQueueBytes: 10_000}, 60, 998, 10},
		{"one packet over the bound goes alone", engineio.Config{SendQueueBytes: 10_000}, 2, 20_000, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, ch, obs := pushServer(t, tc.cfg)
			url := openPolling(t, base)
			if status, body := do(t, "POST", url, fmt.Sprintf("4same %d %d", tc.n, tc.size)); status != 200 {
				t.Fatalf("POST: %d %s", status, body)
			}
			got := <-ch
			if got.n != tc.wantQueued || !errors.Is(got.err, engineio.ErrSlowClient) {
				t.Fatalf("%d of %d packets of %d bytes queued, then %v; want %d, then ErrSlowClient",
					got.n, tc.n, tc.size, got.err, tc.wantQueued)
			}
			obs.waitFor(t, wsconn.ReasonSlowClient)
			if status, _ := do(t, "GET", url, ""); status != http.StatusBadRequest {
				t.Errorf("GET after: %d, want 400 (closed)", status)
			}
		})
	}
}

// TestPollPayloadBound: a GET carries a payload of maxHttpBufferSize at
// most (one packet at least, however large), and the rest comes on the
// next GETs, in order.
func TestPollPayloadBound(t *testing.T) {
	const limit = 10_000
	base, ch, _ := pushServer(t, engineio.Config{MaxHTTPBufferSize: limit, SendQueue: 1000, SendQueueBytes: 1 << 20})
	for _, tc := range []struct {
		name        string
		n, size     int
		maxPerGET   int // packets
		wantMinGETs int
	}{
		{"small packets", 500, 20, 454, 2}, // 21 bytes and a separator each
		{"packets of a tenth", 50, 1000, 9, 6},
		{"packets over the bound: one a GET", 5, 3 * limit, 1, 5},
		{"exactly the bound", 2, limit - 1, 1, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := openPolling(t, base)
			if status, body := do(t, "POST", url, fmt.Sprintf("4push %d %d", tc.n, tc.size)); status != 200 {
				t.Fatalf("POST: %d %s", status, body)
			}
			if got := <-ch; got.err != nil || got.n != tc.n {
				t.Fatalf("pushed %d of %d: %v", got.n, tc.n, got.err)
			}
			next, gets := 0, 0
			for next < tc.n {
				status, body := do(t, "GET", url, "")
				gets++
				if status != 200 {
					t.Fatalf("GET %d: %d %s", gets, status, body)
				}
				ps, err := parser.DecodePayload([]byte(body), 0)
				if err != nil {
					t.Fatalf("GET %d: %v", gets, err)
				}
				if len(ps) > 1 && len(body) > limit {
					t.Errorf("GET %d: %d packets in %d bytes, over %d", gets, len(ps), len(body), limit)
				}
				if len(ps) > tc.maxPerGET {
					t.Errorf("GET %d: %d packets, want %d at most", gets, len(ps), tc.maxPerGET)
				}
				for _, p := range ps {
					if want := fmt.Sprintf("%06d", next); p.Type != parser.Message || !bytes.HasPrefix(p.Data, []byte(want)) {
						t.Fatalf("GET %d: packet %.12q, want message %s", gets, p.Data, want)
					}
					next++
				}
			}
			if gets < tc.wantMinGETs {
				t.Errorf("%d packets in %d GETs, want %d at least", tc.n, gets, tc.wantMinGETs)
			}
		})
	}
}

// TestWebSocketQueueBytes: a WebSocket client that does not read is
// closed as slow (1008) once what waits for it passes SendQueueBytes,
// long before the count would have closed it.
func TestWebSocketQueueBytes(t *testing.T) {
	const n, size = 400, 100_000 // 40 MB offered: more than the kernel's socket buffers hold
	base, ch, obs := pushServer(t, engineio.Config{SendQueue: 100_000, SendQueueBytes: 500_000})
	ws := "ws" + strings.TrimPrefix(strings.Replace(base, "transport=polling", "transport=websocket", 1), "http")
	c, _, err := websocket.DefaultDialer.Dial(ws, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, msg, err := c.ReadMessage(); err != nil || msg[0] != '0' {
		t.Fatalf("OPEN: %q %v", msg, err)
	}
	if err := c.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, "4same %d %d", n, size)); err != nil {
		t.Fatal(err)
	}
	got := <-ch // while the client reads nothing
	if got.n >= n || !errors.Is(got.err, wsconn.ErrSlowConsumer) {
		t.Fatalf("%d of %d messages of %d bytes queued, then %v; want ErrSlowConsumer before the end", got.n, n, size, got.err)
	}
	t.Logf("closed slow with %d messages of %d bytes queued", got.n, size)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue // what the kernel held
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation {
			t.Errorf("after %d messages: %v, want close 1008", got.n, err)
		}
		break
	}
	obs.waitFor(t, wsconn.ReasonSlowClient)
}
