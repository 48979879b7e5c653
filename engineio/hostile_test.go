//go:build unix

package engineio_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/engineio"
	"github.com/expressbridge/expressbridge/internal/testenv"
	"github.com/expressbridge/expressbridge/internal/testrig"
	"github.com/expressbridge/expressbridge/liveness"
)

// The long-polling door under hostile clients: the time limits on bodies
// and responses. The limits are short here; slack is what a loaded
// 2-core machine under -race may add to them.
const (
	testReadTimeout  = time.Second
	testWriteTimeout = time.Second
	slack            = 3 * time.Second
)

// hostileServer serves an echo on ln with readTimeout and
// testWriteTimeout; closed hears each session's close reason.
func hostileServer(t *testing.T, ln net.Listener, readTimeout time.Duration) (url string, closed <-chan string) {
	t.Helper()
	reasons := make(chan string, 1000)
	srv, err := engineio.New(engineio.Config{Insecure: true, ReadTimeout: readTimeout, WriteTimeout: testWriteTimeout,
		Logger: logger(newLogs(t)), Handler: func(s *engineio.Session) engineio.Handler {
			return &recorder{echo: echo{s}, closed: reasons}
		}})
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("engineio Shutdown: %v", err)
		}
		if err := hs.Shutdown(ctx); err != nil {
			t.Errorf("http Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String() + "/engine.io/?EIO=4&transport=polling", reasons
}

// recorder is the echo, telling each close.
type recorder struct {
	echo
	closed chan<- string
}

func (r *recorder) Closed(reason string) { r.closed <- reason }

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// handshake opens a polling session and returns its URL.
func handshake(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(b), `0{"sid":"`) {
		t.Fatalf("handshake: %d %q %v", resp.StatusCode, b, err)
	}
	return base + "&sid=" + string(b[len(`0{"sid":"`):strings.Index(string(b), `","`)])
}

// status is what a plain request to url gets.
func status(t *testing.T, method, url, body string) int {
	t.Helper()
	st, _ := do(t, method, url, body)
	return st
}

// rawPost sends a POST's headers to url on a connection of its own, then
// hands the connection to body, on its own goroutine, to write (or not)
// what it will; it returns the connection.
func rawPost(t *testing.T, url string, header string, body func(net.Conn)) net.Conn {
	t.Helper()
	addr, path, _ := strings.Cut(strings.TrimPrefix(url, "http://"), "/")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := fmt.Fprintf(c, "POST /%s HTTP/1.1\r\nHost: %s\r\nContent-Type: text/plain\r\n%s\r\n", path, addr, header); err != nil {
		t.Fatal(err)
	}
	go body(c)
	return c
}

// cutBody is what a POST cut for its slow body gets: its answer and how
// long it took from the headers.
type cutBody struct {
	status  int
	took    time.Duration
	readErr error
}

// readCut reads the answer to a POST sent at start, waiting until
// timeout plus slack.
func readCut(c net.Conn, start time.Time, timeout time.Duration) cutBody {
	var out cutBody
	c.SetReadDeadline(start.Add(timeout + slack))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		out.readErr = err
		return out
	}
	defer resp.Body.Close()
	out.status, out.took = resp.StatusCode, time.Since(start)
	_, out.readErr = io.Copy(io.Discard, resp.Body)
	return out
}

// hungUp reports whether the server closes c within slack, reading and
// dropping what comes before.
func hungUp(c net.Conn) bool {
	_, closed := readAll(c)
	return closed
}

// readAll reads c for up to slack, and reports how much came and whether
// the server then closed it.
func readAll(c net.Conn) (n int64, closed bool) {
	c.SetReadDeadline(time.Now().Add(slack))
	n, err := io.Copy(io.Discard, c)
	var ne net.Error
	return n, !(errors.As(err, &ne) && ne.Timeout())
}

// trickle writes chunk every period until the connection fails.
func trickle(chunk string, period time.Duration) func(net.Conn) {
	return func(c net.Conn) {
		for {
			if _, err := io.WriteString(c, chunk); err != nil {
				return
			}
			time.Sleep(period)
		}
	}
}

// TestSlowBodiesAreCut: a POST whose body stalls or trickles, whatever its
// length header or chunking, is answered 408 within the read timeout
// (plus slack, never before it), its connection is closed, and so is its
// session ("transport error", as engine.io closes on a transport error).
func TestSlowBodiesAreCut(t *testing.T) {
	url, closed := hostileServer(t, listen(t), testReadTimeout)
	almost := "4" + strings.Repeat("x", 999_000-1)
	for _, tc := range []struct {
		name   string
		header string
		body   func(net.Conn)
	}{
		{"999 KB of an announced 1 MB, then a stall", "Content-Length: 1000000\r\n",
			func(c net.Conn) { io.WriteString(c, almost) }},
		{"an announced body that never comes", "Content-Length: 100\r\n", func(net.Conn) {}},
		{"a byte every 50 ms of an announced 1 KB", "Content-Length: 1000\r\n", trickle("x", 50*time.Millisecond)},
		{"a chunked body that never ends", "Transfer-Encoding: chunked\r\n", trickle("1\r\nx\r\n", 50*time.Millisecond)},
		{"a chunked body that stalls", "Transfer-Encoding: chunked\r\n",
			func(c net.Conn) { io.WriteString(c, "4\r\n4abc\r\n") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sess := handshake(t, url)
			start := time.Now()
			c := rawPost(t, sess, tc.header, tc.body)
			got := readCut(c, start, testReadTimeout)
			switch {
			case got.readErr != nil:
				t.Fatalf("no answer within %v: %v", testReadTimeout+slack, got.readErr)
			case got.status != http.StatusRequestTimeout:
				t.Errorf("status %d, want 408", got.status)
			case got.took < testReadTimeout-50*time.Millisecond:
				t.Errorf("cut after %v, before the read timeout (%v)", got.took, testReadTimeout)
			case !hungUp(c):
				t.Errorf("the connection stays open after the 408")
			}
			select {
			case r := <-closed:
				if r != "transport error" {
					t.Errorf("session closed with %q, want transport error", r)
				}
			case <-time.After(slack):
				t.Fatal("the session stays open")
			}
			if s := status(t, "GET", sess, ""); s != http.StatusBadRequest {
				t.Errorf("a GET after: %d, want 400 (closed)", s)
			}
		})
	}
	t.Run("a whole body in time", func(t *testing.T) {
		sess := handshake(t, url)
		start := time.Now()
		c := rawPost(t, sess, "Content-Length: 6\r\n", func(c net.Conn) {
			io.WriteString(c, "4abc")
			time.Sleep(testReadTimeout / 2)
			io.WriteString(c, "de")
		})
		got := readCut(c, start, testReadTimeout)
		if got.readErr != nil || got.status != http.StatusOK {
			t.Fatalf("a body of 6 bytes over %v: %d %v, want 200", testReadTimeout/2, got.status, got.readErr)
		}
	})
}

// TestStalledBodiesAreReleased: 50 POSTs of 999 KB of an announced 1 MB,
// stalled, hold about 50 MB and 50 goroutines until the read timeout; then
// the heap and the goroutines are back near where they started.
func TestStalledBodiesAreReleased(t *testing.T) {
	// Time for the bodies to be read before the timeout cuts them.
	const readTimeout = 3 * time.Second
	url, _ := hostileServer(t, listen(t), readTimeout)
	const n = 50
	almost := "4" + strings.Repeat("x", 999_000-1)
	sessions := make([]string, n)
	for i := range sessions {
		sessions[i] = handshake(t, url)
	}
	heap0, goroutines0 := heapInUse(), runtime.NumGoroutine()

	start := time.Now()
	var wg sync.WaitGroup
	sent := make(chan struct{}, n)
	conns := make([]net.Conn, n)
	for i, sess := range sessions {
		conns[i] = rawPost(t, sess, "Content-Length: 1000000\r\n", func(c net.Conn) {
			io.WriteString(c, almost)
			sent <- struct{}{}
		})
	}
	for range n {
		<-sent
	}
	// What the server holds while they stall: their bodies, read. The
	// cut at readTimeout ends the wait too, so the largest heap seen
	// before it is what counts; on a loaded machine under -race the
	// server may not have read them all by then, but it must have read
	// many for the test to mean anything.
	var peak uint64
	for time.Since(start) < readTimeout-200*time.Millisecond && peak <= heap0+n*500_000 {
		peak = max(peak, heapInUse())
		time.Sleep(20 * time.Millisecond)
	}
	if peak <= heap0+n*100_000 {
		t.Fatalf("heap in use %d MB while %d bodies of 999 KB stalled, %d MB before: the server never read them", peak>>20, n, heap0>>20)
	}
	cut := make([]cutBody, n)
	for i, c := range conns {
		wg.Add(1)
		go func() { defer wg.Done(); cut[i] = readCut(c, start, readTimeout) }()
	}
	wg.Wait()
	for i, got := range cut {
		if got.readErr != nil || got.status != http.StatusRequestTimeout || got.took < readTimeout-50*time.Millisecond {
			t.Fatalf("POST %d: %d after %v, %v; want 408 after %v", i, got.status, got.took, got.readErr, readTimeout)
		}
	}
	for _, c := range conns {
		c.Close()
	}
	testenv.WaitFor(t, slack, "the goroutines and the heap to come back", func() bool {
		return runtime.NumGoroutine() <= goroutines0+5 && heapInUse() < heap0+8<<20
	})
	t.Logf("heap in use: %d MB before, %d MB while stalled, %d MB after; goroutines %d before, %d after",
		heap0>>20, peak>>20, heapInUse()>>20, goroutines0, runtime.NumGoroutine())
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// smallBuffers sets a socket's kernel buffer for the direction opt names
// to a few kilobytes, so that a peer that does not read blocks a writer
// at once rather than after megabytes (loopback's autotuned buffers).
func smallBuffers(opt int) func(network, address string, c syscall.RawConn) error {
	return func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, opt, 4096) }); err != nil {
			return err
		}
		return serr
	}
}

// smallBufferServer is hostileServer on a listener whose connections
// have small send buffers (smallBuffers).
func smallBufferServer(t *testing.T) (url string, closed <-chan string) {
	t.Helper()
	lc := net.ListenConfig{Control: smallBuffers(syscall.SO_SNDBUF)}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return hostileServer(t, ln, testReadTimeout)
}

// dialSmall dials url's server with a small receive buffer, closed at
// cleanup, and returns the connection and a GET of url to write on it.
func dialSmall(t *testing.T, url string) (net.Conn, string) {
	t.Helper()
	d := net.Dialer{Control: smallBuffers(syscall.SO_RCVBUF)}
	addr, path, _ := strings.Cut(strings.TrimPrefix(url, "http://"), "/")
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, fmt.Sprintf("GET /%s HTTP/1.1\r\nHost: %s\r\n\r\n", path, addr)
}

// TestUnreadPollIsCut: a GET of a 900 KB queued payload whose client never
// reads does not hold its handler, its connection or the payload past the
// write timeout: the response is cut, and the session closed ("transport
// error": its packets are lost).
func TestUnreadPollIsCut(t *testing.T) {
	url, closed := smallBufferServer(t)
	sess := handshake(t, url)
	const size = 900_000
	if s := status(t, "POST", sess, "4"+strings.Repeat("x", size)); s != http.StatusOK {
		t.Fatalf("POST of the message the echo queues: %d", s)
	}

	c, get := dialSmall(t, sess)
	start := time.Now()
	if _, err := io.WriteString(c, get); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-closed:
		took := time.Since(start)
		if r != "transport error" {
			t.Errorf("session closed with %q, want transport error", r)
		}
		if took < testWriteTimeout-50*time.Millisecond {
			t.Errorf("cut after %v, before the write timeout (%v)", took, testWriteTimeout)
		}
		t.Logf("unread GET cut after %v", took)
	case <-time.After(testWriteTimeout + slack):
		t.Fatalf("an unread GET still holds its session after %v", testWriteTimeout+slack)
	}
	// What reached the client is less than the payload, and then the
	// connection ends.
	n, gone := readAll(c)
	if !gone {
		t.Fatalf("the connection stays open after the cut (%d bytes read)", n)
	}
	if n >= size {
		t.Errorf("the client got %d bytes: the whole payload, not a cut response", n)
	}
	if s := status(t, "GET", sess, ""); s != http.StatusBadRequest {
		t.Errorf("a GET after: %d, want 400 (closed)", s)
	}
}

// TestPipelinedHandshakesUnread: a client that pipelines handshakes on
// one connection and reads none of the answers holds its connection only
// until the write timeout, and the sessions it opened are closed.
func TestPipelinedHandshakesUnread(t *testing.T) {
	url, closed := smallBufferServer(t)
	c, req := dialSmall(t, url)
	start := time.Now()
	go func() {
		for i := 0; i < 2000; i++ {
			if _, err := io.WriteString(c, req); err != nil {
				return
			}
		}
	}()
	select {
	case r := <-closed:
		if r != "transport error" {
			t.Errorf("a session closed with %q, want transport error", r)
		}
		t.Logf("unread handshake cut after %v", time.Since(start))
	case <-time.After(testWriteTimeout + slack):
		t.Fatalf("unread handshakes still hold their connection after %v", testWriteTimeout+slack)
	}
	if !hungUp(c) {
		t.Fatal("the connection stays open after the cut")
	}
}

// TestRefusedSessionReads: a session the gate refused exists only to tell
// its refusal. Opened without a cookie, it still takes its client's small
// POSTs without one (socket.io-client's CONNECT, which the connect_error
// answers), but none over 8 KiB, on either transport; with a cookie, only
// with that cookie. A session the gate accepted is bound to its cookie
// and reads up to maxHttpBufferSize.
func TestRefusedSessionReads(t *testing.T) {
	rig := testrig.Start(t, testrig.Config{NoApp: true})
	live, err := liveness.New(liveness.Config{Gate: rig.Gate, Watch: rig.Store.Watch, Logger: logger(newLogs(t))})
	if err != nil {
		t.Fatal(err)
	}
	// Pings soon: a GET with nothing queued gets one at once.
	srv, err := engineio.New(engineio.Config{Handler: newEcho, Live: live, PingInterval: 100 * time.Millisecond,
		Logger: logger(newLogs(t))})
	if err != nil {
		t.Fatal(err)
	}
	addr := testenv.ServeHTTP(t, srv)
	base := "http://" + addr + "/engine.io/?EIO=4&transport=polling"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})

	// A login, as Express would store it.
	const sid = "acceptedSessionAAAAAAAAAAAAAAAAA"
	record := `{"cookie":{"originalMaxAge":3600000,"httpOnly":true,"path":"/"},"loggedIn":true,"username":"Ann"}`
	if err := rig.Client.Set(rig.Ctx, "sess:"+sid, record, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	good := "connect.sid=" + rig.Verifier.Sign(sid)
	forged := "connect.sid=" + rig.Verifier.Sign("someoneElseAAAAAAAAAAAAAAAAAAAAA")[:40]

	do := func(method, url, cookie, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		resp, err := http.DefaultClient.Do(req)
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
	open := func(cookie string) string {
		t.Helper()
		status, b := do("GET", base, cookie, "")
		if status != http.StatusOK || !strings.HasPrefix(b, `0{"sid":"`) {
			t.Fatalf("handshake with %q: %d %q", cookie, status, b)
		}
		return base + "&sid=" + b[len(`0{"sid":"`):strings.Index(b, `","`)]
	}
	const limit = 8 << 10
	for _, tc := range []struct {
		name           string
		opened, posted string // the cookies of the handshake and of the POST
		size           int    // of the MESSAGE's data
		want           int
		open           bool // the session is still open after
	}{
		{"no cookie: a CONNECT-sized POST without one", "", "", 100, http.StatusOK, true},
		{"no cookie: a POST of exactly 8 KiB", "", "", limit - 1, http.StatusOK, true},
		{"no cookie: a POST of 8 KiB + 1", "", "", limit, http.StatusRequestEntityTooLarge, false},
		{"no cookie: a POST of 999 KB", "", "", 999_000, http.StatusRequestEntityTooLarge, false},
		{"no cookie: a POST with someone's cookie", "", good, 100, http.StatusForbidden, true},
		{"forged cookie: a POST of 8 KiB + 1 with it", forged, forged, limit, http.StatusRequestEntityTooLarge, false},
		{"forged cookie: a POST without it", forged, "", 100, http.StatusForbidden, true},
		{"accepted: a POST of 999 KB", good, good, 999_000, http.StatusOK, true},
		{"accepted: a POST without the cookie", good, "", 100, http.StatusForbidden, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := open(tc.opened)
			msg := "4" + strings.Repeat("x", tc.size)
			if status, b := do("POST", url, tc.posted, msg); status != tc.want {
				t.Fatalf("POST of %d bytes: %d %.100s, want %d", len(msg), status, b, tc.want)
			}
			status, b := do("GET", url, tc.opened, "")
			switch {
			case tc.open && tc.want == http.StatusOK && (status != http.StatusOK || !strings.Contains(b, msg)):
				t.Errorf("GET after: %d %.20q…, want 200 and the echo (maybe beside a ping)", status, b)
			case tc.open && tc.want != http.StatusOK && (status != http.StatusOK || !strings.HasPrefix(b, "2")):
				t.Errorf("GET after: %d %.20q, want 200 and a ping (nothing was taken)", status, b)
			case !tc.open && status != http.StatusBadRequest:
				t.Errorf("GET after: %d, want 400 (closed)", status)
			}
		})
	}
	t.Run("no cookie: a WebSocket message of 8 KiB + 1", func(t *testing.T) {
		c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/engine.io/?EIO=4&transport=websocket", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		testenv.ReadPrefix(t, c, "0")
		if err := c.WriteMessage(websocket.TextMessage, []byte("4"+strings.Repeat("x", limit-1))); err != nil {
			t.Fatal(err)
		}
		testenv.ReadPrefix(t, c, "4xxx")
		if err := c.WriteMessage(websocket.TextMessage, []byte("4"+strings.Repeat("x", limit))); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(slack))
		_, _, err = c.ReadMessage()
		if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
			t.Errorf("after 8 KiB + 1: %v, want close 1009", err)
		}
	})
}
