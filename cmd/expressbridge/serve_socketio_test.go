package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

func do(t *testing.T, method, url, cookie, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// pollOnce GETs url with cookie, closes sent once the request is written,
// and returns the body, or "error: …" (it runs outside the test's
// goroutine, where t.Fatal would leave the test waiting).
func pollOnce(url, cookie string, sent chan<- struct{}) string {
	var once sync.Once
	trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { once.Do(func() { close(sent) }) }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", url, nil)
	if err != nil {
		return "error: " + err.Error()
	}
	req.Header.Set("Cookie", cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "error: " + err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "error: " + err.Error()
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("error: %d %s", resp.StatusCode, b)
	}
	return string(b)
}

// TestServeSocketIO: serve answers Socket.IO at --socketio-path with the
// chat, for a user logged in through Express (the long-polling exchange
// socket.io-client makes: handshake, CONNECT, hello).
func TestServeSocketIO(t *testing.T) {
	secret := "serve socket.io secret"
	r := testenv.StartRedis(t)
	app := testenv.StartNodeApp(t, testenv.NodeAppConfig{RedisURL: r.URL(), Secrets: []string{secret}})
	sv := startServe(t, []string{secret}, map[string]string{"REDIS_URL": r.URL()}, "--log-level", "debug")
	base, stderr := "http://"+sv.base, &sv.stderr
	stop := func() int {
		sv.stop()
		select {
		case code := <-sv.exited:
			return code
		case <-time.After(15 * time.Second):
			t.Error("serve did not stop")
			return -1
		}
	}
	cookie := app.Login(context.Background(), t, "Zoë")

	url := base + "/socket.io/?EIO=4&transport=polling"
	status, body := do(t, "GET", url, cookie, "")
	if status != 200 || !strings.HasPrefix(body, `0{"sid":"`) || !strings.Contains(body, `"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000`) {
		t.Fatalf("handshake: %d %s", status, body)
	}
	sid := body[len(`0{"sid":"`):strings.Index(body, `","`)]
	url += "&sid=" + sid
	// The sid alone is not enough: polls must carry the handshake's cookie.
	if status, body = do(t, "GET", url, "", ""); status != 403 || !strings.Contains(body, "session cookie") {
		t.Fatalf("a poll without the cookie: %d %s", status, body)
	}
	if status, body = do(t, "POST", url, cookie, "40"); status != 200 || body != "ok" {
		t.Fatalf("CONNECT: %d %s", status, body)
	}
	status, body = do(t, "GET", url, cookie, "")
	if status != 200 || !strings.HasPrefix(body, `40{"sid":"`) || !strings.HasSuffix(body, "\x1e"+`42["hello",{"user":"Zoë"}]`) {
		t.Fatalf("after CONNECT: %d %q", status, body)
	}
	// No cookie: the handshake succeeds, the CONNECT is refused.
	_, body = do(t, "GET", base+"/socket.io/?EIO=4&transport=polling", "", "")
	sid2 := body[len(`0{"sid":"`):strings.Index(body, `","`)]
	url2 := base + "/socket.io/?EIO=4&transport=polling&sid=" + sid2
	do(t, "POST", url2, "", "40")
	if _, body = do(t, "GET", url2, "", ""); body != `44{"message":"no-cookie","data":{"step":"cookie","message":"no session cookie"}}` {
		t.Fatalf("CONNECT without a cookie: %q", body)
	}
	if status, body = do(t, "GET", base+"/socket.io/?EIO=3&transport=polling", cookie, ""); status != 400 || !strings.Contains(body, `"error":"bad-request"`) {
		t.Fatalf("EIO=3: %d %s", status, body)
	}
	// A pending poll does not hold up a graceful stop: it gets CLOSE.
	// Nothing outside serve shows that the poll is pending: stop waits for
	// the request to be written, then 1 s for serve to take it.
	polled, sent := make(chan string, 1), make(chan struct{})
	go func() { polled <- pollOnce(url, cookie, sent) }()
	select {
	case <-sent:
	case body := <-polled:
		t.Fatalf("the poll ended before the stop: %q", body)
	}
	time.Sleep(time.Second)
	t0 := time.Now()
	if code := stop(); code != exitOK {
		t.Fatalf("serve exited %d:\n%s", code, stderr.String())
	}
	if d := time.Since(t0); d > 3*time.Second {
		t.Errorf("serve took %v to stop with a pending poll", d)
	}
	if body := <-polled; body != "1" {
		t.Errorf("the pending poll got %q at shutdown, want CLOSE (1)", body)
	}
	// Both long-polling sessions (Zoë's, and the one refused at CONNECT)
	// are counted at shutdown.
	if !strings.Contains(stderr.String(), "socketio_sessions=2") {
		t.Errorf("the shutdown log does not count the Socket.IO sessions:\n%s", stderr.String())
	}
	ver, _ := connectsid.NewVerifier(secret)
	expressSID, _, err := ver.FromHeader(cookie, "connect.sid")
	if err != nil {
		t.Fatal(err)
	}
	logs := stderr.String()
	for _, s := range []string{secret, strings.TrimPrefix(cookie, "connect.sid="), expressSID, sid} {
		if strings.Contains(logs, s) {
			t.Errorf("serve's log holds %.10q…", s)
		}
	}
	for _, want := range []string{"socketio=http://", "socket.io session opened", "socket.io handshake refused"} {
		if !strings.Contains(logs, want) {
			t.Errorf("serve's log lacks %q:\n%s", want, logs)
		}
	}
}

// TestServeSocketIOOff: an empty --socketio-path serves no Socket.IO.
func TestServeSocketIOOff(t *testing.T) {
	r := testenv.StartRedis(t)
	sv := startServe(t, []string{"s"}, map[string]string{"REDIS_URL": r.URL()}, "--socketio-path", "")
	base := "http://" + sv.base
	if status, _ := do(t, "GET", base+"/socket.io/?EIO=4&transport=polling", "", ""); status != 404 {
		t.Fatalf("with --socketio-path '': %d, want 404", status)
	}
}
