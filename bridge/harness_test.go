package bridge_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/bridge"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/redisstore"
	"github.com/expressbridge/expressbridge/examples/chat"
	"github.com/expressbridge/expressbridge/internal/testenv"
	"github.com/expressbridge/expressbridge/internal/testrig"
)

// The app's secrets: the first signs, both verify. Non-ASCII on purpose, so
// the bridge and Node must agree on the secret's bytes.
var secrets = []string{"bridge test secret ✓ new", "bridge test secret old"}

const (
	cookieName = "connect.sid"
	// ioWait bounds every single read, write or handshake of a test client:
	// generous for -race on a loaded machine, short enough to fail fast.
	ioWait = 5 * time.Second
	// goroutineWait is how long the leak check polls.
	goroutineWait = 2 * time.Second
)

// harness is one test function's real parts: a redis-server, the Express
// app on it, and the bridge's store on the same Redis.
type harness struct {
	t        *testing.T
	rig      *testrig.Rig
	ctx      context.Context
	redis    *testenv.Redis
	app      *testenv.NodeApp
	rdb      redis.UniversalClient // the bridge's store client
	store    *redisstore.Store
	verifier *connectsid.Verifier
	logs     *testenv.Buffer
	logger   *slog.Logger

	mu        sync.Mutex
	sensitive []string // strings no log line may hold
}

// newHarness starts Redis (with opts) and the Express app and opens the
// bridge's store. Its cleanups, in order: the bridges started by serve shut
// down, the store client closes, Express and Redis stop, no log held a
// sensitive string, and the goroutine count is back to where it was before
// the harness.
func newHarness(t *testing.T, opts ...testenv.RedisOption) *harness {
	t.Helper()
	h := bareHarness(t)
	h.use(testrig.Config{Secrets: secrets, RedisOptions: opts})
	return h
}

// bareHarness is a harness without its real parts yet: its logger and the
// checks of its cleanups; use adds the rest.
func bareHarness(t *testing.T) *harness {
	checkGoroutines(t)
	h := &harness{t: t, logs: &testenv.Buffer{}}
	h.sensitive = append(h.sensitive, secrets...)
	t.Cleanup(h.checkLogs)
	h.logger = slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return h
}

// use starts the harness's rig with cfg.
func (h *harness) use(cfg testrig.Config) {
	h.t.Helper()
	h.rig = testrig.Start(h.t, cfg)
	h.ctx, h.redis, h.app, h.rdb, h.store, h.verifier = h.rig.Ctx, h.rig.Redis, h.rig.App, h.rig.Client, h.rig.Store, h.rig.Verifier
}

// login logs username in through Express and returns the Cookie header
// value and the session ID; both count as sensitive from now on.
func (h *harness) login(username string) (cookie, sid string) {
	h.t.Helper()
	cookie, sess := h.rig.Login(username)
	h.addSensitive(h.rig.Sensitive(cookie)...)
	return cookie, sess.ID
}

func (h *harness) addSensitive(s ...string) {
	h.mu.Lock()
	h.sensitive = append(h.sensitive, s...)
	h.mu.Unlock()
}

// checkLogs fails the test when a log line holds a secret, a whole cookie
// or a whole session ID.
func (h *harness) checkLogs() {
	logs := h.logs.String()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.sensitive {
		if s != "" && strings.Contains(logs, s) {
			h.t.Errorf("the bridge's log holds the sensitive string %.12q…:\n%s", s, logs)
		}
	}
	if h.t.Failed() {
		h.t.Logf("bridge log:\n%s", logs)
	}
}

// bridgeServer is one bridge.Server behind an httptest.Server: the bridge
// at /ws, its health check at /healthz.
type bridgeServer struct {
	srv   *bridge.Server
	hs    *httptest.Server
	ws    string // ws://127.0.0.1:PORT/ws
	http  string // http://127.0.0.1:PORT
	host  string // 127.0.0.1:PORT
	close func()
}

// serve starts a bridge with cfg; Gate, Logger and Protocol (the demo chat)
// default to the harness's. It is shut down (then its listener closed) at
// cleanup, or earlier by close.
func (h *harness) serve(cfg bridge.Config) *bridgeServer {
	h.t.Helper()
	if cfg.Gate == nil {
		cfg.Gate = h.gate(auth.Config{})
	}
	if cfg.Logger == nil {
		cfg.Logger = h.logger
	}
	if cfg.Protocol == nil {
		cfg.Protocol = chat.WebSocket{TextLimit: -1} // what most tests speak; texts up to the read limit
	}
	srv, err := bridge.New(cfg)
	if err != nil {
		h.t.Fatalf("bridge.New: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", srv)
	mux.Handle("/healthz", srv.Healthz())
	hs := httptest.NewServer(mux)
	b := &bridgeServer{srv: srv, hs: hs, http: hs.URL, host: hs.Listener.Addr().String()}
	b.ws = "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws"
	var once sync.Once
	b.close = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				h.t.Errorf("Shutdown: %v (connections left: %d)", err, srv.Len())
			}
			hs.Close()
		})
	}
	h.t.Cleanup(b.close)
	return b
}

// gate returns a gate with the harness's verifier and store unless ac
// names others.
func (h *harness) gate(ac auth.Config) *auth.Gate {
	h.t.Helper()
	return h.rig.NewGate(ac)
}

// dial opens a WebSocket to url with an optional Cookie header value and
// extra headers (pairs of name, value). The connection is closed at cleanup.
func dial(t *testing.T, url, cookie string, header ...string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	hdr := http.Header{}
	if cookie != "" {
		hdr.Set("Cookie", cookie)
	}
	for i := 0; i+1 < len(header); i += 2 {
		hdr.Set(header[i], header[i+1])
	}
	d := websocket.Dialer{HandshakeTimeout: ioWait}
	ctx, cancel := context.WithTimeout(context.Background(), ioWait)
	defer cancel()
	c, resp, err := d.DialContext(ctx, url, hdr)
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, resp, err
}

// mustDial is dial for a handshake that must be accepted; it returns the
// connection after reading its hello, which must name user.
func mustDial(t *testing.T, url, cookie, user string, header ...string) *websocket.Conn {
	t.Helper()
	c, resp, err := dial(t, url, cookie, header...)
	if err != nil {
		t.Fatalf("dial %s: %v (%s)", url, err, describe(resp))
	}
	hello := readMsg(t, c)
	if hello.Type != "hello" || hello.User == nil || *hello.User != user {
		t.Fatalf("first frame = %+v, want hello for %q", hello, user)
	}
	return c
}

// describe summarises a refused handshake for failure messages.
func describe(resp *http.Response) string {
	if resp == nil {
		return "no response"
	}
	body, _ := io.ReadAll(resp.Body)
	return resp.Status + " " + string(body)
}

// msg is any frame of the Chat protocol.
type msg struct {
	Type    string          `json:"type"`
	User    *string         `json:"user"`
	Text    *string         `json:"text"`
	Error   string          `json:"error"`
	Message string          `json:"message"`
	Session json.RawMessage `json:"session"`
}

// readMsg reads one text frame and decodes it, failing the test on any
// error (a close included).
func readMsg(t *testing.T, c *websocket.Conn) msg {
	t.Helper()
	m, err := tryReadMsg(c)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return m
}

func tryReadMsg(c *websocket.Conn) (msg, error) {
	var m msg
	c.SetReadDeadline(time.Now().Add(ioWait))
	typ, data, err := c.ReadMessage()
	if err != nil {
		return m, err
	}
	if typ != websocket.TextMessage {
		return m, errors.New("not a text frame")
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, errors.New("frame is not JSON: " + string(data))
	}
	return m, nil
}

func send(t *testing.T, c *websocket.Conn, v any) {
	t.Helper()
	c.SetWriteDeadline(time.Now().Add(ioWait))
	if err := c.WriteJSON(v); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// expectClose reads until the connection ends (skipping data frames),
// fails unless it ends with a close frame of code, and returns its reason.
func expectClose(t *testing.T, c *websocket.Conn, code int) string {
	t.Helper()
	got, reason := waitClosed(t, c, ioWait)
	if got != code {
		t.Fatalf("close code %d (%q), want %d", got, reason, code)
	}
	return reason
}

// refusalBody is the JSON body of a refused handshake.
type refusalBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// expectRefusal checks a refused handshake: status, JSON body with code and
// a non-empty message, and Retry-After on 503s. It returns the message.
func expectRefusal(t *testing.T, resp *http.Response, err error, status int, code string) string {
	t.Helper()
	if err == nil {
		t.Fatalf("handshake accepted, want %d %s", status, code)
	}
	if resp == nil {
		t.Fatalf("handshake failed without a response (%v), want %d %s", err, status, code)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("status %s %s, want %d %s", resp.Status, body, status, code)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var rb refusalBody
	if err := json.Unmarshal(body, &rb); err != nil {
		t.Fatalf("body %q is not JSON: %v", body, err)
	}
	if rb.Error != code || rb.Message == "" {
		t.Fatalf("body %s, want error %q and a message", body, code)
	}
	if ra := resp.Header.Get("Retry-After"); (status == http.StatusServiceUnavailable) != (ra != "") {
		t.Errorf("status %d with Retry-After %q", status, ra)
	}
	return rb.Message
}

// expectExplain dials with ?explain=1 and checks for one error frame of code
// followed by a close of closeCode.
func expectExplain(t *testing.T, url, cookie, code string, closeCode int, header ...string) {
	t.Helper()
	c, resp, err := dial(t, url+"?explain=1", cookie, header...)
	if err != nil {
		t.Fatalf("explain handshake: %v (%s)", err, describe(resp))
	}
	m := readMsg(t, c)
	if m.Type != "error" || m.Error != code || m.Message == "" {
		t.Fatalf("explain frame %+v, want error %q with a message", m, code)
	}
	expectClose(t, c, closeCode)
}

// checkGoroutines registers a cleanup, run after every cleanup registered
// later, that fails the test unless the goroutine count comes back to
// today's within goroutineWait.
func checkGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() { expectGoroutines(t, before) })
}

func expectGoroutines(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(goroutineWait)
	for {
		n := runtime.NumGoroutine()
		if n <= want {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("%d goroutines, want at most %d:\n%s", n, want, buf)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// httpDo sends one plain HTTP request on a connection of its own, closed
// afterwards, and returns the response with its body read.
func httpDo(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: ioWait}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return resp, body
}

// rawHandshake performs a WebSocket handshake over a plain TCP connection,
// so that the test controls every byte afterwards (no automatic pongs). It
// returns the connection and a reader positioned after the 101 response.
func rawHandshake(t *testing.T, host, path, cookie string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", host, ioWait)
	if err != nil {
		t.Fatalf("dial %s: %v", host, err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(ioWait))
	req := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nCookie: " + cookie + "\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatalf("write handshake: %v", err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read handshake response: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %s, want 101", resp.Status)
	}
	conn.SetDeadline(time.Time{})
	return conn, br
}

// readFrame reads one unmasked server frame and returns its opcode and
// payload.
func readFrame(br *bufio.Reader) (opcode byte, payload []byte, err error) {
	var hdr [2]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := int(hdr[1] & 0x7f)
	switch n {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(br, ext[:]); err != nil {
			return 0, nil, err
		}
		n = int(ext[0])<<8 | int(ext[1])
	case 127:
		return 0, nil, errors.New("unexpectedly large frame")
	}
	payload = make([]byte, n)
	_, err = io.ReadFull(br, payload)
	return hdr[0] & 0x0f, payload, err
}
