// Package attack drives the hostile clients of issue #25 against a
// Socket.IO door (expressbridge's, at /socket.io/), one attack after
// another, and measures what each costs the server and a legitimate user:
// the server's memory and goroutines before, at the peak and after, and how
// long a real login (through the Express app, then a Socket.IO handshake
// that waits for the chat's hello) takes while the attack runs.
//
// The same attacks serve two callers: the soak test of `make test`
// (TestHostileSoak, at sizes scaled down for its budget) and `ebload attack`
// (make soak-hostile), against the real `expressbridge serve` at the sizes
// the issue gives. Nothing here knows which server it attacks but its
// address and how to log a user in.
package attack

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/bench"
)

// Target is the server under attack.
type Target struct {
	// Addr is the bridge's host:port (it serves /socket.io/ and /healthz).
	Addr string
	// AppURL is the Express app's base URL, where users log in.
	AppURL string
}

// Sizes are how hard each attack hits. Issue is the issue's; a test
// scales them down.
type Sizes struct {
	StalledPosts     int // no-cookie sessions POSTing StalledBytes of an announced 1 MB, then stalling
	StalledBytes     int
	LoginStalled     int // the same from one login's sessions (as many as it may open)
	ChunkedBodies    int // one login's sessions POSTing a chunked body that never ends
	IdleConns        int // keep-alive connections, one GET /healthz each, then idle
	UnreadPolls      int // one login's polling sessions whose GETs are never read
	UnreadSays       int // says of UnreadSayBytes each, sent meanwhile
	UnreadSayBytes   int
	BurstSays        int // one-character says at once over WebSocket, one user
	PacketPosts      int // concurrent POSTs of PacketBytes of "6␞6␞…"
	PacketBytes      int
	AuthSessions     int // WebSocket sessions of one login, each CONNECTing with AuthBytes of auth
	AuthBytes        int
	Handshakes       int // handshakes without a cookie
	SessionsPerLogin int // the server's --socketio-max-sessions-per-login (100)
	// Workers is how many connections an attack opens, or requests it
	// sends, at once (32 when zero; the concurrent POSTs go all at once).
	Workers int
}

func (s Sizes) workers() int {
	if s.Workers > 0 {
		return s.Workers
	}
	return defaultWorkers
}

// Issue are the sizes of issue #25's probe.
var Issue = Sizes{
	StalledPosts: 1000, StalledBytes: 999_000, LoginStalled: 100, ChunkedBodies: 100, IdleConns: 20_000,
	UnreadPolls: 20, UnreadSays: 60, UnreadSayBytes: 900_000, BurstSays: 2000,
	PacketPosts: 200, PacketBytes: 1_000_000, AuthSessions: 2000, AuthBytes: 990_000,
	Handshakes: 500_000, SessionsPerLogin: 100,
}

// Attack is one hostile client.
type Attack struct {
	Name string // as `ebload attack NAME` takes it
	What string // one line: what it does at sizes s (for the table)
	// Start begins the attack. It returns a Run once the attack is under
	// way; Run.Sent is closed when the attacker has sent all it will.
	Start func(ctx context.Context, tg Target, s Sizes) (*Run, error)
}

// Run is an attack under way.
type Run struct {
	// Sent is closed when everything is sent (and, for an attack that
	// holds connections, every connection is open and holding).
	Sent chan struct{}
	// Released is closed when the server has let go of every connection
	// the attack holds (closed it, or answered and ended it); nil for an
	// attack whose connections the server has no reason to end by itself.
	Released chan struct{}
	// stop ends the attack (closes every connection) and waits for its
	// goroutines.
	stop   func()
	counts sync.Map // outcome → *atomic.Int64
}

func newRun() *Run { return &Run{Sent: make(chan struct{})} }

// count records one outcome ("200", "429 too-many-refused", "cut", …).
func (r *Run) count(outcome string) {
	v, _ := r.counts.LoadOrStore(outcome, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

// Outcomes are the counted outcomes, "outcome ×n" sorted.
func (r *Run) Outcomes() string {
	var out []string
	r.counts.Range(func(k, v any) bool {
		out = append(out, fmt.Sprintf("%s ×%d", k, v.(*atomic.Int64).Load()))
		return true
	})
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// Stop ends the attack and waits for its goroutines.
func (r *Run) Stop() {
	if r.stop != nil {
		r.stop()
	}
}

// All are the attacks of the issue, in the order a soak runs them.
var All = []Attack{
	{"stalled-post", "no cookie: StalledPosts sessions each POST StalledBytes of an announced 1 MB, then stall", stalledPost},
	{"stalled-post-login", "one login: as many sessions as it may open each POST StalledBytes of 1 MB, then stall", loginStalled},
	{"chunked", "one login: ChunkedBodies chunked POSTs trickling a byte every 100 ms, never ending", chunked},
	{"idle-keepalive", "IdleConns connections, one GET /healthz each, then idle", idleKeepAlive},
	{"unread-polls", "one login: UnreadPolls polls never read, UnreadSays says of UnreadSayBytes", unreadPolls},
	{"say-burst", "one login: BurstSays one-character says at once over WebSocket", sayBurst},
	{"many-packets", "PacketPosts concurrent POSTs of PacketBytes of 6␞6␞… (logged in)", manyPackets},
	{"connect-auth", "one login: AuthSessions WebSocket sessions, each a CONNECT with AuthBytes of auth", connectAuth},
	{"handshake-flood", "Handshakes handshakes without a cookie, 64 at once", handshakeFlood},
	{"origin-slash", "a login's handshake with Origin http://host:port/ (trailing slash)", originSlash},
}

// Find returns the attack named name.
func Find(name string) (Attack, bool) {
	for _, a := range All {
		if a.Name == name {
			return a, true
		}
	}
	return Attack{}, false
}

// --- what the attacks share ---

const (
	eioPath = "/socket.io/?EIO=4&transport="
	// ioTimeout bounds every exchange an attack waits for.
	ioTimeout = 30 * time.Second
	// defaultWorkers is how many connections an attack opens at once
	// unless Sizes.Workers says otherwise.
	defaultWorkers = 32
)

// httpClient is the attackers' client: many connections, no cookie jar.
func httpClient() *http.Client {
	return &http.Client{Timeout: ioTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: defaultWorkers, MaxConnsPerHost: 4 * defaultWorkers}}
}

// request does one request and returns its status, body and the error
// code of a refusal ("" when none).
func request(ctx context.Context, c *http.Client, method, url, cookie, origin, body string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	return resp.StatusCode, string(b), err
}

// outcome names an answer: its status, and its refusal's code if any.
func outcome(status int, body string) string {
	var r struct{ Error string }
	if status != http.StatusOK && json.Unmarshal([]byte(body), &r) == nil && r.Error != "" {
		return fmt.Sprintf("%d %s", status, r.Error)
	}
	return fmt.Sprint(status)
}

// handshake opens a polling session and returns its URL (sid included),
// or "" and the outcome when refused.
func handshake(ctx context.Context, c *http.Client, tg Target, cookie string) (string, string, error) {
	base := "http://" + tg.Addr + eioPath + "polling"
	status, body, err := request(ctx, c, http.MethodGet, base, cookie, "", "")
	if err != nil {
		return "", "", err
	}
	sid, ok := strings.CutPrefix(body, `0{"sid":"`)
	if status != http.StatusOK || !ok || !strings.Contains(sid, `"`) {
		return "", outcome(status, body), nil
	}
	return base + "&sid=" + sid[:strings.IndexByte(sid, '"')], "open", nil
}

// login logs a fresh user in through the Express app.
func login(ctx context.Context, tg Target, who string) (string, error) {
	ss, err := bench.Login(ctx, tg.AppURL, who, 1)
	if err != nil {
		return "", err
	}
	return ss[0].Cookie, nil
}

var logins atomic.Int64

// user names a fresh attacker.
func user(what string) string { return fmt.Sprintf("%s-%d", what, logins.Add(1)) }

// parallel runs f(i) for i < n, workers at once, until ctx ends.
func parallel(ctx context.Context, workers, n int, f func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}

// holder keeps raw connections until the server ends them or Stop.
type holder struct {
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup // the readers
}

// hold reads c until the server ends it, dropping what comes, and counts
// the end on r.
func (h *holder) hold(r *Run, c net.Conn) {
	h.mu.Lock()
	h.conns = append(h.conns, c)
	h.mu.Unlock()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		br := bufio.NewReader(c)
		first := ""
		if resp, err := http.ReadResponse(br, nil); err == nil {
			first = fmt.Sprint(resp.StatusCode)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		io.Copy(io.Discard, br)
		if first == "" {
			first = "no answer"
		}
		r.count("ended: " + first)
	}()
}

// released closes r.Released once every held connection has ended.
func (h *holder) released(r *Run) {
	r.Released = make(chan struct{})
	go func() { h.wg.Wait(); close(r.Released) }()
}

func (h *holder) closeAll() {
	h.mu.Lock()
	for _, c := range h.conns {
		c.Close()
	}
	h.mu.Unlock()
	h.wg.Wait()
}

// dial connects to the target with a small receive buffer when small, so
// that a client that does not read stops the server's writes at once
// rather than after loopback's megabytes.
func dial(ctx context.Context, tg Target, small bool) (net.Conn, error) {
	d := net.Dialer{Timeout: ioTimeout}
	if small {
		d.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			if err := c.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
			}); err != nil {
				return err
			}
			return serr
		}
	}
	return d.DialContext(ctx, "tcp", tg.Addr)
}

// rawRequest writes a request's head on c for url (http://host/path…).
func rawRequest(c net.Conn, method, url, header string) error {
	_, path, _ := strings.Cut(strings.TrimPrefix(url, "http://"), "/")
	_, err := fmt.Fprintf(c, "%s /%s HTTP/1.1\r\nHost: %s\r\nContent-Type: text/plain\r\n%s\r\n", method, path, c.RemoteAddr(), header)
	return err
}

// --- the attacks ---

// stalledPost: sessions without a cookie, each sent a POST that announces
// 1 MB, StalledBytes of it, then nothing.
func stalledPost(ctx context.Context, tg Target, s Sizes) (*Run, error) {
	return stalled(ctx, tg, s, s.StalledPosts, s.StalledBytes, func(int) string { return "" })
}

// loginStalled: the same from one login's sessions.
func loginStalled(ctx context.Context, tg Target, s Sizes) (*Run, error) {
	cookie, err := login(ctx, tg, user("stall"))
	if err != nil {
		return nil, err
	}
	return stalled(ctx, tg, s, s.LoginStalled, s.StalledBytes, func(int) string { return cookie })
}

func stalled(ctx context.Context, tg Target, s Sizes, n, size int, cookie func(i int) string) (*Run, error) {
	r, h, c := newRun(), &holder{}, httpClient()
	body := "4" + strings.Repeat("x", size-1)
	go func() {
		defer close(r.Sent)
		parallel(ctx, s.workers(), n, func(i int) {
			url, out, err := handshake(ctx, c, tg, cookie(i))
			if err != nil || url == "" {
				r.count("handshake " + out + errString(err))
				return
			}
			conn, err := dial(ctx, tg, false)
			if err != nil {
				r.count("dial " + err.Error())
				return
			}
			hdr := "Content-Length: 1000000\r\n"
			if cookie(i) != "" {
				hdr += "Cookie: " + cookie(i) + "\r\n"
			}
			if rawRequest(conn, http.MethodPost, url, hdr) != nil {
				conn.Close()
				return
			}
			h.hold(r, conn)
			// Written beside the reader: a server that answers early
			// (413) may leave this write blocked until it closes.
			io.WriteString(conn, body)
		})
		h.released(r)
	}()
	r.stop = func() { <-r.Sent; h.closeAll(); c.CloseIdleConnections() }
	return r, nil
}

// chunked: one login's sessions, each POSTing a chunked body a byte every
// 100 ms, never ending.
func chunked(ctx context.Context, tg Target, s Sizes) (*Run, error) {
	cookie, err := login(ctx, tg, user("chunk"))
	if err != nil {
		return nil, err
	}
	r, h, c := newRun(), &holder{}, httpClient()
	done := make(chan struct{})
	var writers sync.WaitGroup
	go func() {
		defer close(r.Sent)
		parallel(ctx, s.workers(), s.ChunkedBodies, func(int) {
			url, out, err := handshake(ctx, c, tg, cookie)
			if err != nil || url == "" {
				r.count("handshake " + out + errString(err))
				return
			}
			conn, err := dial(ctx, tg, false)
			if err != nil || rawRequest(conn, http.MethodPost, url, "Transfer-Encoding: chunked\r\nCookie: "+cookie+"\r\n") != nil {
				r.count("dial failed")
				return
			}
			h.hold(r, conn)
			writers.Add(1)
			go func() {
				defer writers.Done()
				t := time.NewTicker(100 * time.Millisecond)
				defer t.Stop()
				for {
					if _, err := io.WriteString(conn, "1\r\nx\r\n"); err != nil {
						return
					}
					select {
					case <-done:
						return
					case <-t.C:
					}
				}
			}()
		})
		h.released(r)
	}()
	r.stop = func() { <-r.Sent; close(done); h.closeAll(); writers.Wait(); c.CloseIdleConnections() }
	return r, nil
}

// idleKeepAlive: connections that each GET /healthz once, then keep the
// connection open and idle.
func idleKeepAlive(ctx context.Context, tg Target, s Sizes) (*Run, error) {
	r, h := newRun(), &holder{}
	go func() {
		defer close(r.Sent)
		parallel(ctx, s.workers(), s.IdleConns, func(int) {
			conn, err := dial(ctx, tg, false)
			if err != nil {
				r.count("dial " + shortErr(err))
				return
			}
			if _, err := fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", tg.Addr); err != nil {
				conn.Close()
				r.count("write failed")
				return
			}
			h.hold(r, conn)
		})
		h.released(r)
	}()
	r.stop = func() { <-r.Sent; h.closeAll() }
	return r, nil
}

// unreadPolls: one login's polling sessions, joined to the chat, whose
// GETs are sent and never read, while the first session says
// UnreadSays texts of UnreadSayBytes (relayed to all of them if the chat
// took them).
func unreadPolls(ctx context.Context, tg Target, s Sizes) (*Run, error) {
	cookie, err := login(ctx, tg, user("unread"))
	if err != nil {
		return nil, err
	}
	r, h, c := newRun(), &holder{}, httpClient()
	urls := make([]string, s.UnreadPolls)
	go func() {
		defer close(r.Sent)
		parallel(ctx, s.workers(), s.UnreadPolls, func(i int) {
			url, out, err := handshake(ctx, c, tg, cookie)
			if err != nil || url == "" {
				r.count("handshake " + out + errString(err))
				return
			}
			// CONNECT, then read its answer (and the hello).
			if st, _, err := request(ctx, c, http.MethodPost, url, cookie, "", "40"); err != nil || st != http.StatusOK {
				r.count("connect failed")
				return
			}
			if _, _, err := request(ctx, c, http.MethodGet, url, cookie, "", ""); err != nil {
				r.count("connect answer failed")
				return
			}
			urls[i] = url
			conn, err := dial(ctx, tg, true)
			if err != nil || rawRequest(conn, http.MethodGet, url, "Cookie: "+cookie+"\r\n") != nil {
				r.count("dial failed")
				return
			}
			h.hold(r, conn) // reads nothing until Stop: the reader is blocked on a 4 KB buffer
		})
		text := strings.Repeat("x", s.UnreadSayBytes)
		say := `42["say",` + strconvQuote(text) + `]`
		for i := 0; i < s.UnreadSays && urls[0] != ""; i++ {
			st, body, err := request(ctx, c, http.MethodPost, urls[0], cookie, "", say)
			if err != nil {
				r.count("say " + shortErr(err))
				break
			}
			r.count("say " + outcome(st, body))
		}
	}()
	r.stop = func() { <-r.Sent; h.closeAll(); c.CloseIdleConnections() }
	return r, nil
}

// sayBurst: one user's WebSocket, BurstSays one-character says at once.
func sayBurst(ctx context.Context, tg Target, s Sizes) (*Run, error) {
	cookie, err := login(ctx, tg, user("burst"))
	if err != nil {
		return nil, err
	}
	r := newRun()
	ws, err := wsConnect(ctx, tg, cookie, "40")
	if err != nil {
		return nil, err
	}
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			_, msg, err := ws.ReadMessage()
			if err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					r.count(fmt.Sprintf("closed %d %s", ce.Code, ce.Text))
				}
				return
			}
			switch {
			case bytes.HasPrefix(msg, []byte(`42["message"`)):
				r.count("relayed")
			case bytes.HasPrefix(msg, []byte("41")):
				r.count("disconnected")
			}
		}
	}()
	go func() {
		defer close(r.Sent)
		frame := []byte(`42["say","x"]`)
		for i := 0; i < s.BurstSays; i++ {
			if ws.WriteMessage(websocket.TextMessage, frame) != nil {
				r.count("write failed")
				return
			}
		}
	}()
	r.Released = readerDone
	r.stop = func() { <-r.Sent; ws.Close(); <-readerDone }
	return r, nil
}

// manyPackets: concurrent POSTs of 6␞6␞… (a noop per two bytes) to
// logged-in sessions (as many logins as the per-login cap asks for).
func manyPackets(ctx context.Context, tg Target, s Sizes) (*Run, error) {
	cookies := make([]string, (s.PacketPosts+s.SessionsPerLogin-1)/s.SessionsPerLogin)
	for i := range cookies {
		var err error
		if cookies[i], err = login(ctx, tg, user("packets")); err != nil {
			return nil, err
		}
	}
	r, c := newRun(), httpClient()
	c.Transport.(*http.Transport).MaxConnsPerHost = 0
	urls := make([]string, s.PacketPosts)
	parallel(ctx, s.workers(), s.PacketPosts, func(i int) {
		urls[i], _, _ = handshake(ctx, c, tg, cookies[i/s.SessionsPerLogin])
	})
	body := strings.Repeat("6\x1e", s.PacketBytes/2)
	body = body[:len(body)-1]
	released := make(chan struct{})
	r.Released = released
	go func() {
		defer close(released)
		var wg sync.WaitGroup
		for i, url := range urls {
			if url == "" {
				r.count("handshake refused")
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				st, b, err := request(ctx, c, http.MethodPost, url, cookies[i/s.SessionsPerLogin], "", body)
				if err != nil {
					r.count("POST " + shortErr(err))
					return
				}
				r.count("POST " + outcome(st, b))
			}()
		}
		close(r.Sent)
		wg.Wait()
	}()
	r.stop = func() { <-released; c.CloseIdleConnections() }
	return r, nil
}

// connectAuth: one login's WebSocket sessions, each CONNECTing with an
// auth of AuthBytes, then held.
func connectAuth(ctx context.Context, tg Target, s Sizes) (*Run, error) {
	cookie, err := login(ctx, tg, user("auth"))
	if err != nil {
		return nil, err
	}
	r := newRun()
	connect := `40{"token":"` + strings.Repeat("x", s.AuthBytes-len(`40{"token":""}`)) + `"}`
	var mu sync.Mutex
	var conns []*websocket.Conn
	go func() {
		defer close(r.Sent)
		parallel(ctx, s.workers(), s.AuthSessions, func(int) {
			ws, _, err := dialWS(ctx, tg, cookie)
			if err != nil {
				r.count("dial " + shortErr(err))
				return
			}
			ws.SetReadDeadline(time.Now().Add(ioTimeout))
			if _, _, err := ws.ReadMessage(); err != nil { // OPEN
				r.count("open " + shortErr(err))
				ws.Close()
				return
			}
			if err := ws.WriteMessage(websocket.TextMessage, []byte(connect)); err != nil {
				r.count("write " + shortErr(err))
				ws.Close()
				return
			}
			_, msg, err := ws.ReadMessage()
			switch {
			case err != nil:
				r.count("answer " + shortErr(err))
			case bytes.HasPrefix(msg, []byte("44")):
				var ce struct{ Message string }
				json.Unmarshal(msg[2:], &ce)
				r.count("connect_error " + ce.Message)
			default:
				r.count(fmt.Sprintf("%.2s", msg))
			}
			ws.SetReadDeadline(time.Time{})
			mu.Lock()
			conns = append(conns, ws)
			mu.Unlock()
		})
	}()
	r.stop = func() {
		<-r.Sent
		mu.Lock()
		for _, ws := range conns {
			ws.Close()
		}
		mu.Unlock()
	}
	return r, nil
}

// handshakeFlood: polling handshakes without a cookie, never followed up.
func handshakeFlood(ctx context.Context, tg Target, s Sizes) (*Run, error) {
	r, c := newRun(), httpClient()
	go func() {
		defer close(r.Sent)
		parallel(ctx, s.workers(), s.Handshakes, func(int) {
			_, out, err := handshake(ctx, c, tg, "")
			if err != nil {
				out = shortErr(err)
			}
			r.count(out)
		})
	}()
	r.Released = r.Sent
	r.stop = func() { <-r.Sent; c.CloseIdleConnections() }
	return r, nil
}

// originSlash: a logged-in handshake whose Origin is the server's own
// with a trailing slash.
func originSlash(ctx context.Context, tg Target, s Sizes) (*Run, error) {
	cookie, err := login(ctx, tg, user("origin"))
	if err != nil {
		return nil, err
	}
	r, c := newRun(), httpClient()
	for _, origin := range []string{"http://" + tg.Addr + "/", "http://" + tg.Addr + "/path", "http://evil.example"} {
		st, body, err := request(ctx, c, http.MethodGet, "http://"+tg.Addr+eioPath+"polling", cookie, origin, "")
		if err != nil {
			return nil, err
		}
		r.count(outcome(st, body))
	}
	close(r.Sent)
	r.Released = r.Sent
	r.stop = c.CloseIdleConnections
	return r, nil
}

// dialWS opens an Engine.IO WebSocket with cookie.
func dialWS(ctx context.Context, tg Target, cookie string) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{HandshakeTimeout: ioTimeout, ReadBufferSize: 1024, WriteBufferSize: 1024}
	return d.DialContext(ctx, "ws://"+tg.Addr+eioPath+"websocket", http.Header{"Cookie": {cookie}})
}

// wsConnect opens a WebSocket session, sends connect and reads its
// answer, which must be a CONNECT.
func wsConnect(ctx context.Context, tg Target, cookie, connect string) (*websocket.Conn, error) {
	ws, _, err := dialWS(ctx, tg, cookie)
	if err != nil {
		return nil, err
	}
	ws.SetReadDeadline(time.Now().Add(ioTimeout))
	defer ws.SetReadDeadline(time.Time{})
	if _, _, err := ws.ReadMessage(); err != nil {
		ws.Close()
		return nil, err
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte(connect)); err != nil {
		ws.Close()
		return nil, err
	}
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			ws.Close()
			return nil, err
		}
		if bytes.HasPrefix(msg, []byte("40")) {
			return ws, nil
		}
		if bytes.HasPrefix(msg, []byte("44")) {
			ws.Close()
			return nil, fmt.Errorf("connect_error %s", msg[2:])
		}
	}
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

func errString(err error) string {
	if err == nil {
		return ""
	}
	return shortErr(err)
}

// shortErr is an error's last part ("connection reset by peer").
func shortErr(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		s = s[i+2:]
	}
	return s
}
