package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/bridge"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// TestServeKeepsSecrets runs `expressbridge serve` in-process at debug
// level, with two secrets and a Redis password, beside the real Express
// app, and walks every path a user or an attacker can take: an accepted
// connection, each refusal code (plain and with ?explain=1), net/http's own
// refusals, a logout that closes a connection, Redis going down
// (--close-on-store-failure closes connections; handshakes and /healthz get
// 503) and coming back, and the shutdown. Then no log line, stdout, HTTP
// body, frame, close reason or exit status may hold a secret, the Redis
// password or URL, a whole cookie (encoded or decoded), a whole sid or a
// mac; nor may anything have panicked.
func TestServeKeepsSecrets(t *testing.T) {
	sec := []string{"serve secrets ✓ signing " + randomHex(t), "serve secrets retired " + randomHex(t)}
	pw := "redis-pw-" + randomHex(t)
	r := testenv.StartRedis(t, testenv.WithRedisArgs("--requirepass", pw))
	redisURL := "redis://:" + pw + "@" + r.Addr()
	app := testenv.StartNodeApp(t, testenv.NodeAppConfig{RedisURL: redisURL, Secrets: sec})
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr(), Password: pw})
	t.Cleanup(func() { rdb.Close() })
	ver, err := connectsid.NewVerifier(sec...)
	if err != nil {
		t.Fatal(err)
	}
	forger, err := connectsid.NewVerifier("a forger's guess " + randomHex(t))
	if err != nil {
		t.Fatal(err)
	}
	p := &secretsProbe{t: t, ver: ver, app: app}
	p.sensitive(sec...)
	p.sensitive(pw, redisURL)

	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secrets")
	if err := os.WriteFile(secretFile, []byte(strings.Join(sec, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr testenv.Buffer
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	exited := make(chan int, 1)
	go func() {
		// A port of the kernel's choosing, read from the log (startServe).
		exited <- run(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--secret-file", secretFile,
			"--log-level", "debug", "--allow-origin", app.URL(), "--close-on-store-failure", "--handshake-timeout", "2s"},
			strings.NewReader(""), &stdout, &stderr,
			func(k string) string { return map[string]string{"REDIS_URL": redisURL}[k] })
	}()
	waitUntil(t, 10*time.Second, "serve to log where it listens", func() bool {
		if len(exited) > 0 {
			t.Fatalf("serve exited:\n%s", stderr.String())
		}
		p.base = loggedAddr(stderr.String(), servingLine)
		return p.base != ""
	})
	p.waitHealth(http.StatusOK, &stderr)

	// Accepted, and a look at its own session.
	zoe, zoeSID := p.login("Zoë")
	c := p.mustDial(zoe, "Zoë")
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := c.WriteJSON(map[string]string{"type": "whoami"}); err != nil {
		t.Fatal(err)
	}
	p.readText(c)

	// Every refusal code, plain and explained.
	gone, _ := p.login("Gone")
	app.Logout(context.Background(), t, gone)
	quitter, _ := p.login("Quitter")
	if st, body := app.PostJSON(context.Background(), t, "/test/set", quitter, map[string]any{"loggedIn": false}); st != http.StatusOK {
		t.Fatalf("/test/set: %d %s", st, body)
	}
	forged := "connect.sid=" + forger.Sign(zoeSID)
	p.sensitive(forged, strings.TrimPrefix(forged, "connect.sid="), forger.SignRaw(zoeSID))
	late := p.record("late-0123456789abcdefghijklmn", rdb,
		`{"cookie":{"originalMaxAge":1000,"expires":"2001-02-03T04:05:06.789Z","httpOnly":true,"path":"/"},"loggedIn":true,"username":"Late"}`)
	junk := p.record("junk-0123456789abcdefghijklmn", rdb, `{"loggedIn":true, not JSON`)
	refusals := []struct {
		cookie string
		header []string
		status int
		code   string
	}{
		{"", nil, 401, connectsid.CodeNoCookie},
		{"connect.sid=" + zoeSID, nil, 401, connectsid.CodeNotSigned},
		{forged, nil, 401, connectsid.CodeBadSignature},
		{"connect.sid=s%3A" + zoeSID, nil, 401, connectsid.CodeMalformed},
		{gone, nil, 401, connectsid.CodeNoSession},
		{late, nil, 401, connectsid.CodeExpired},
		{junk, nil, 401, connectsid.CodeMalformedSession},
		{quitter, nil, 401, auth.CodeNotLoggedIn},
		{zoe, []string{"Origin", "https://evil.example"}, 403, auth.CodeBadOrigin},
	}
	for _, rf := range refusals {
		p.refused(rf.cookie, rf.status, rf.code, rf.header...)
		closeCode := bridge.CloseUnauthorized
		if rf.status == 403 {
			closeCode = bridge.CloseForbidden
		}
		p.explained(rf.cookie, rf.code, closeCode, rf.header...)
	}
	// What is not a handshake, and what net/http refuses itself.
	p.rawHTTP("POST /ws HTTP/1.1\r\nHost: "+p.base+"\r\nCookie: "+zoe+"\r\nContent-Length: 0\r\n\r\n", 405)
	p.rawHTTP("GET /ws HTTP/1.1\r\nHost: "+p.base+"\r\nCookie: "+zoe+"\r\n\r\n", 400)
	p.rawHTTP("GET /ws HTTP/1.1\r\nHost: "+p.base+"\r\nCookie: "+strings.Repeat("junk=x; ", 8<<10)+zoe+"\r\n\r\n", 431)
	p.rawHTTP("GET /ws HTTP/1.1\r\nHost: "+p.base+"\r\nCookie: "+zoe+"\x00\r\n\r\n", 400)

	// A logout through Express closes its connection.
	leaver, _ := p.login("Leaver")
	lc := p.mustDial(leaver, "Leaver")
	app.Logout(context.Background(), t, leaver)
	p.closedWith(lc, bridge.CloseUnauthorized, bridge.ReasonLoggedOut, 5*time.Second)

	// Redis down: the open connection is closed (the option), handshakes
	// and /healthz get 503.
	r.Kill(t)
	p.closedWith(c, bridge.CloseUnavailable, connectsid.CodeStoreUnavailable, 5*time.Second)
	p.refused(zoe, http.StatusServiceUnavailable, connectsid.CodeStoreUnavailable)
	p.explained(zoe, connectsid.CodeStoreUnavailable, bridge.CloseUnavailable)
	p.waitHealth(http.StatusServiceUnavailable, &stderr)

	// Back: healthy, Express saves again, a new login is accepted.
	r.Start(t)
	p.waitHealth(http.StatusOK, &stderr)
	waitUntil(t, 15*time.Second, "the bridge's pings to succeed again", func() bool {
		return strings.Contains(stderr.String(), "session store answers again")
	})
	waitUntil(t, 15*time.Second, "Express to store sessions again", func() bool {
		st, _ := app.PostJSON(context.Background(), t, "/test/set", "", map[string]any{"probe": true})
		return st == http.StatusOK
	})
	again, _ := p.login("Again")
	ac := p.mustDial(again, "Again")

	// Shutdown: 1001, exit 0.
	stop()
	p.closedWith(ac, websocket.CloseGoingAway, auth.CodeShuttingDown, 10*time.Second)
	select {
	case code := <-exited:
		p.seen("exit status " + strconv.Itoa(code))
		if code != exitOK {
			t.Fatalf("serve exited %d\n%s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}

	logs := stderr.String()
	p.seen(logs, stdout.String())
	for _, want := range []string{
		"connection accepted", "handshake refused", "session ended; connections closed",
		"session store unavailable; connections closed", "session store answers again", "stopped",
		"code=" + connectsid.CodeNoCookie, "code=" + connectsid.CodeNotSigned, "code=" + connectsid.CodeBadSignature,
		"code=" + connectsid.CodeMalformed, "code=" + connectsid.CodeNoSession, "code=" + connectsid.CodeExpired,
		"code=" + connectsid.CodeMalformedSession, "code=" + auth.CodeNotLoggedIn, "code=" + auth.CodeBadOrigin,
		"code=" + auth.CodeBadRequest, "code=" + connectsid.CodeStoreUnavailable,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("serve's log lacks %q: the test did not walk that path", want)
		}
	}
	if strings.Contains(logs, "panic") {
		t.Errorf("serve's log shows a panic")
	}
	p.check()
	if t.Failed() {
		t.Logf("serve's log:\n%s", logs)
	}
}

// secretsProbe drives the serve command and keeps every text it shows.
type secretsProbe struct {
	t    *testing.T
	ver  *connectsid.Verifier
	app  *testenv.NodeApp
	base string // host:port of serve

	mu    sync.Mutex
	texts []string // everything a client or an operator saw
	never []string // what none of it may hold
}

func (p *secretsProbe) seen(s ...string) {
	p.mu.Lock()
	p.texts = append(p.texts, s...)
	p.mu.Unlock()
}

func (p *secretsProbe) sensitive(s ...string) {
	p.mu.Lock()
	p.never = append(p.never, s...)
	p.mu.Unlock()
}

// check fails the test for every sensitive string something showed.
func (p *secretsProbe) check() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	all := strings.Join(p.texts, "\n")
	if len(p.texts) < 40 {
		p.t.Errorf("only %d texts were collected", len(p.texts))
	}
	for _, s := range p.never {
		if s != "" && strings.Contains(all, s) {
			p.t.Errorf("something serve showed holds the sensitive string %.14q…", s)
		}
	}
}

// login logs in through Express; the cookie in each of its forms, the sid
// and the mac are sensitive from then on.
func (p *secretsProbe) login(user string) (cookie, sid string) {
	p.t.Helper()
	cookie = p.app.Login(context.Background(), p.t, user)
	sid, _, err := p.ver.FromHeader(cookie, "connect.sid")
	if err != nil {
		p.t.Fatalf("Express's cookie refused: %v", err)
	}
	p.sensitiveCookie(cookie, sid)
	return cookie, sid
}

func (p *secretsProbe) sensitiveCookie(cookie, sid string) {
	value := strings.TrimPrefix(cookie, "connect.sid=")
	raw, _ := connectsid.Lookup(cookie, "connect.sid")
	p.sensitive(cookie, value, raw, sid, raw[strings.LastIndexByte(raw, '.')+1:])
}

// record stores a record under a new sid and returns its signed cookie.
func (p *secretsProbe) record(sid string, rdb *redis.Client, value string) string {
	p.t.Helper()
	if err := rdb.Set(context.Background(), "sess:"+sid, value, time.Minute).Err(); err != nil {
		p.t.Fatalf("SET: %v", err)
	}
	cookie := "connect.sid=" + p.ver.Sign(sid)
	p.sensitiveCookie(cookie, sid)
	return cookie
}

func (p *secretsProbe) dial(query, cookie string, header ...string) (*websocket.Conn, *http.Response, error) {
	hdr := http.Header{}
	if cookie != "" {
		hdr.Set("Cookie", cookie)
	}
	for i := 0; i+1 < len(header); i += 2 {
		hdr.Set(header[i], header[i+1])
	}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	c, resp, err := d.Dial("ws://"+p.base+"/ws"+query, hdr)
	if c != nil {
		p.t.Cleanup(func() { c.Close() })
	}
	if err != nil {
		p.seen(err.Error())
	}
	return c, resp, err
}

// mustDial opens a connection and reads its hello for user.
func (p *secretsProbe) mustDial(cookie, user string) *websocket.Conn {
	p.t.Helper()
	c, resp, err := p.dial("", cookie)
	if err != nil {
		p.t.Fatalf("dial: %v (%v)", err, resp)
	}
	if hello := p.readText(c); !strings.Contains(hello, `"hello"`) || !strings.Contains(hello, user) {
		p.t.Fatalf("hello = %s, want %q", hello, user)
	}
	return c
}

func (p *secretsProbe) readText(c *websocket.Conn) string {
	p.t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, data, err := c.ReadMessage()
	if err != nil {
		p.t.Fatalf("read: %v", err)
	}
	p.seen(string(data))
	return string(data)
}

// refused checks a plain refusal's status and code, keeping its body.
func (p *secretsProbe) refused(cookie string, status int, code string, header ...string) {
	p.t.Helper()
	_, resp, err := p.dial("", cookie, header...)
	if err == nil || resp == nil {
		p.t.Fatalf("%s: not refused (%v)", code, err)
	}
	body, _ := io.ReadAll(resp.Body)
	p.seen(resp.Status, string(body))
	for k, v := range resp.Header {
		p.seen(k + ": " + strings.Join(v, ", "))
	}
	if resp.StatusCode != status || !strings.Contains(string(body), `"error":"`+code+`"`) {
		p.t.Fatalf("%s %s, want %d %s", resp.Status, body, status, code)
	}
}

// explained checks a refusal with ?explain=1: one frame, then the close.
func (p *secretsProbe) explained(cookie, code string, closeCode int, header ...string) {
	p.t.Helper()
	c, resp, err := p.dial("?explain=1", cookie, header...)
	if err != nil {
		p.t.Fatalf("explain %s: %v (%v)", code, err, resp)
	}
	if frame := p.readText(c); !strings.Contains(frame, `"error":"`+code+`"`) {
		p.t.Fatalf("explain frame %s, want %s", frame, code)
	}
	p.closedWith(c, closeCode, code, 5*time.Second)
}

// closedWith reads until c ends, keeping what it read, and checks the
// close frame.
func (p *secretsProbe) closedWith(c *websocket.Conn, code int, reason string, limit time.Duration) {
	p.t.Helper()
	c.SetReadDeadline(time.Now().Add(limit))
	for {
		_, data, err := c.ReadMessage()
		if err == nil {
			p.seen(string(data))
			continue
		}
		p.seen(err.Error())
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != code || ce.Text != reason {
			p.t.Fatalf("connection ended with %v, want close %d %q", err, code, reason)
		}
		return
	}
}

// rawHTTP sends one request byte for byte and checks the status.
func (p *secretsProbe) rawHTTP(req string, status int) {
	p.t.Helper()
	conn, err := net.DialTimeout("tcp", p.base, 5*time.Second)
	if err != nil {
		p.t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	written := make(chan struct{})
	go func() { defer close(written); io.WriteString(conn, req) }() // 431 comes before the end
	defer func() { conn.Close(); <-written }()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		p.t.Fatalf("no answer to %.40q…: %v", req, err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	p.seen(resp.Status, string(body))
	if resp.StatusCode != status {
		p.t.Fatalf("%.40q…: %s %s, want %d", req, resp.Status, body, status)
	}
}

// waitHealth polls /healthz until it answers status.
func (p *secretsProbe) waitHealth(status int, stderr *testenv.Buffer) {
	p.t.Helper()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := client.Get("http://" + p.base + "/healthz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			p.seen(string(body))
			if resp.StatusCode == status {
				return
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("/healthz never answered %d: %v\n%s", status, err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitUntil polls cond every 50 ms until it holds, failing after limit.
func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func randomHex(t *testing.T) string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}
