package bridge_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/bridge"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// Redis faults, each test with a redis-server of its own (newHarness's):
// killed under load, restarted with or without its data, and the option
// that closes connections while it is down.

const (
	// outage is how long Redis stays down under load.
	outage = 3 * time.Second
	// resyncWait bounds the bridge's return to normal after Redis restarts:
	// go-redis redials and resubscribes within a second, Express within a
	// few; generous for -race on a loaded machine.
	resyncWait = 15 * time.Second
)

// TestRedisOutageUnderHandshakeLoad kills Redis while clients keep opening
// connections, keeps it down 3 s and restarts it with its data (SAVE before
// the kill). Every handshake must end within the handshake timeout with
// either an accepted connection or 503 store-unavailable (never a 401 nor
// another code, never a hang); the connections opened before the outage
// stay open through it (the default); afterwards the same bridge accepts
// again, /healthz is 200, and its keyspace subscription is back: a logout
// through Express closes a connection by the push (within revokeLimit).
func TestRedisOutageUnderHandshakeLoad(t *testing.T) {
	h := newHarness(t)
	b := h.serve(bridge.Config{Watch: h.store.Watch})
	runLive(t, b)
	watching(t, h)
	stayCookie, _ := h.login("Stay")
	leaveCookie, _ := h.login("Leave")
	stay := mustDial(t, b.ws, stayCookie, "Stay")
	leave := mustDial(t, b.ws, leaveCookie, "Leave")
	sids := seedSessions(t, h, "load", 64)
	rc := h.redis.Client(t)
	if err := rc.Save(h.ctx).Err(); err != nil { // the restart below reloads this
		t.Fatalf("SAVE: %v", err)
	}

	load := startHandshakeLoad(t, b, h, sids, 4)
	testenv.WaitFor(t, 10*time.Second, "handshakes before the outage", func() bool { return load.accepted.Load() >= 50 })

	h.redis.Kill(t)
	killed := time.Now()
	testenv.WaitFor(t, 10*time.Second, "503s during the outage", func() bool { return load.unavailable.Load() >= 20 })
	time.Sleep(time.Until(killed.Add(outage))) // the outage's length, not a wait for an event
	acceptedDuringOutage := load.accepted.Load()
	h.redis.Start(t)
	restarted := time.Now()
	testenv.WaitFor(t, resyncWait, "handshakes accepted after the restart", func() bool {
		return load.accepted.Load() >= acceptedDuringOutage+50
	})
	load.stop()
	t.Logf("load: %d accepted, %d refused 503 store-unavailable; slowest answer %v; Redis down %v",
		load.accepted.Load(), load.unavailable.Load(), load.slowest(), restarted.Sub(killed))
	for _, f := range load.failures() {
		t.Error(f)
	}

	// The connections opened before the outage are still served.
	for _, c := range []*websocket.Conn{stay, leave} {
		send(t, c, map[string]string{"type": "whoami"})
		if m := readMsg(t, c); m.Type != "session" {
			t.Fatalf("a connection opened before the outage: %+v", m)
		}
	}
	expectHealth(t, b, http.StatusOK)

	// The keyspace subscription is back on the new server, notifications
	// switched on again (a restart resets them), and Express reconnected.
	testenv.WaitFor(t, resyncWait, "the bridge to resubscribe", func() bool {
		return countOf(h.logs.String(), "watching session changes") >= 2 && notificationsOn(rc)
	})
	testenv.WaitFor(t, resyncWait, "Express to store sessions again", func() bool {
		st, _ := h.app.PostJSON(h.ctx, t, "/test/set", "", map[string]any{"probe": true})
		return st == http.StatusOK
	})
	if contains(h.logs.String(), "cannot be watched") {
		t.Errorf("the bridge fell back to polling after the restart")
	}
	start := time.Now()
	h.app.Logout(h.ctx, t, leaveCookie)
	expectEnded(t, leave, revokeLimit, bridge.ReasonLoggedOut)
	t.Logf("logout after the restart to close frame: %v", time.Since(start))
	send(t, stay, map[string]string{"type": "whoami"})
	if m := readMsg(t, stay); m.Type != "session" {
		t.Fatalf("the other connection after the logout: %+v", m)
	}
}

// TestRedisRestartWithoutDataClosesLostSessions restarts Redis with only
// part of its sessions on disk (SAVE, then more logins): on resubscription
// the bridge revalidates every open session and closes, with 4401
// logged-out, exactly the connections whose session the restart lost.
func TestRedisRestartWithoutDataClosesLostSessions(t *testing.T) {
	h := newHarness(t)
	b := h.serve(bridge.Config{Watch: h.store.Watch})
	runLive(t, b)
	watching(t, h)
	keptCookie, _ := h.login("Kept")
	keptSIDs := seedSessions(t, h, "kept", 20)
	rc := h.redis.Client(t)
	if err := rc.Save(h.ctx).Err(); err != nil {
		t.Fatalf("SAVE: %v", err)
	}
	lostCookie, _ := h.login("Lost") // after the SAVE: gone with the restart
	lostSIDs := seedSessions(t, h, "lost", 100)

	kept := make([]*websocket.Conn, len(keptSIDs))
	dialAll(t, b, h, keptSIDs, kept)
	lost := make([]*websocket.Conn, len(lostSIDs))
	dialAll(t, b, h, lostSIDs, lost)
	kept = append(kept, mustDial(t, b.ws, keptCookie, "Kept"))
	lost = append(lost, mustDial(t, b.ws, lostCookie, "Lost"))

	h.redis.Kill(t)
	h.redis.Start(t)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, len(lost))
	for _, c := range lost {
		wg.Add(1)
		go func(c *websocket.Conn) {
			defer wg.Done()
			code, reason, err := closeOf(c, resyncWait)
			if err != nil || code != bridge.CloseUnauthorized || reason != bridge.ReasonLoggedOut {
				errs <- fmt.Errorf("a lost session's connection ended with %d %q (%v), want %d %q",
					code, reason, err, bridge.CloseUnauthorized, bridge.ReasonLoggedOut)
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("restart → %d connections of lost sessions closed in %v", len(lost), time.Since(start))
	testenv.WaitFor(t, ioWait, "the server to drop them", func() bool { return b.srv.Len() == len(kept) })
	for _, c := range kept {
		send(t, c, map[string]string{"type": "whoami"})
		if m := readMsg(t, c); m.Type != "session" {
			t.Fatalf("a session the restart kept: %+v", m)
		}
	}
}

// TestCloseOnStoreUnavailable: with the option, Redis going down closes
// every connection with 4503 store-unavailable within about a second;
// after the restart the bridge accepts again and keeps the new connections.
// A store that cannot be pinged makes the option a logged no-op.
func TestCloseOnStoreUnavailable(t *testing.T) {
	h := newHarness(t)
	b := h.serve(bridge.Config{Watch: h.store.Watch, CloseOnStoreUnavailable: true})
	runLive(t, b)
	zoeCookie, _ := h.login("Zoë")
	bobCookie, _ := h.login("Bob")
	conns := []*websocket.Conn{
		mustDial(t, b.ws, zoeCookie, "Zoë"),
		mustDial(t, b.ws, zoeCookie, "Zoë"), // a second tab
		mustDial(t, b.ws, bobCookie, "Bob"),
	}

	h.redis.Kill(t)
	start := time.Now()
	for _, c := range conns {
		code, reason, err := closeOf(c, 5*time.Second)
		if err != nil || code != bridge.CloseUnavailable || reason != connectsid.CodeStoreUnavailable {
			t.Fatalf("with Redis down the connection ended with %d %q (%v), want %d %q",
				code, reason, err, bridge.CloseUnavailable, connectsid.CodeStoreUnavailable)
		}
	}
	t.Logf("Redis killed → %d connections closed 4503 in %v", len(conns), time.Since(start))
	testenv.WaitFor(t, ioWait, "the server to drop them", func() bool { return b.srv.Len() == 0 })
	_, resp, err := dial(t, b.ws, zoeCookie)
	expectRefusal(t, resp, err, http.StatusServiceUnavailable, connectsid.CodeStoreUnavailable)

	h.redis.Start(t)
	testenv.WaitFor(t, resyncWait, "the bridge to see Redis again", func() bool {
		return contains(h.logs.String(), "session store answers again")
	})
	testenv.WaitFor(t, resyncWait, "Express to store sessions again", func() bool {
		st, _ := h.app.PostJSON(h.ctx, t, "/test/set", "", map[string]any{"probe": true})
		return st == http.StatusOK
	})
	cookie, _ := h.login("Back")
	c := mustDial(t, b.ws, cookie, "Back")
	// Three more pings of a healthy store (Redis counts them) leave it open.
	n := countOf(h.logs.String(), "session store unavailable")
	rc := h.redis.Client(t)
	pings := pingCalls(t, rc)
	testenv.WaitFor(t, 10*time.Second, "three pings", func() bool { return pingCalls(t, rc) >= pings+3 })
	send(t, c, map[string]string{"type": "whoami"})
	if m := readMsg(t, c); m.Type != "session" {
		t.Fatalf("a connection after the restart: %+v", m)
	}
	if m := countOf(h.logs.String(), "session store unavailable"); m != n {
		t.Fatalf("%d more outages logged with Redis up", m-n)
	}

	t.Run("store without Ping", func(t *testing.T) {
		b := h.serve(bridge.Config{Gate: h.gate(auth.Config{Store: getOnly{h.store}}), CloseOnStoreUnavailable: true})
		runLive(t, b)
		testenv.WaitFor(t, ioWait, "the warning", func() bool {
			return contains(h.logs.String(), "CloseOnStoreUnavailable has no effect")
		})
		mustDial(t, b.ws, cookie, "Back")
	})
}

// getOnly hides every method of a store but Get.
type getOnly struct{ auth.Store }

// closeOf reads until c ends and returns its close frame, or the error
// when it ends without one.
func closeOf(c *websocket.Conn, limit time.Duration) (code int, reason string, err error) {
	deadline := time.Now().Add(limit)
	for {
		c.SetReadDeadline(deadline)
		if _, _, err = c.ReadMessage(); err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Text, nil
		}
		return 0, "", err
	}
}

// notificationsOn reports whether Redis sends the keyspace events the
// bridge needs (a restarted Redis starts without them).
func notificationsOn(rc *redis.Client) bool {
	cur, err := rc.ConfigGet(context.Background(), "notify-keyspace-events").Result()
	flags := cur["notify-keyspace-events"]
	return err == nil && strings.Contains(flags, "K") && strings.ContainsAny(flags, "gA")
}

// pingCalls returns how many PINGs Redis has answered since it started.
func pingCalls(t *testing.T, rc *redis.Client) int {
	t.Helper()
	info, err := rc.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatalf("INFO commandstats: %v", err)
	}
	_, rest, ok := strings.Cut(info, "cmdstat_ping:calls=")
	if !ok {
		return 0
	}
	n := 0
	for _, c := range rest {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// handshakeLoad is clients opening connections in a loop and sorting the
// answers: accepted, 503 store-unavailable, or a failure.
type handshakeLoad struct {
	accepted    atomic.Int64
	unavailable atomic.Int64
	cancel      context.CancelFunc
	wg          sync.WaitGroup

	mu       sync.Mutex
	fails    []string
	slowestD time.Duration
}

// Bounds of the load: each worker stops after maxHandshakes or when the
// test's load window closes, whichever comes first.
const (
	maxHandshakes = 5000
	loadWindow    = 40 * time.Second
	// answerWithin is the most a handshake may take, Redis down or not:
	// the bridge's handshake timeout (its store lookup is bounded by it).
	answerWithin = bridge.DefaultHandshakeTimeout
)

func startHandshakeLoad(t *testing.T, b *bridgeServer, h *harness, sids []string, workers int) *handshakeLoad {
	ctx, cancel := context.WithTimeout(context.Background(), loadWindow)
	l := &handshakeLoad{cancel: cancel}
	t.Cleanup(l.stop)
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; i < maxHandshakes && ctx.Err() == nil; i++ {
				sid := sids[(w+i*workers)%len(sids)]
				l.one(b.ws, cookieName+"="+h.verifier.Sign(sid))
			}
		}()
	}
	return l
}

// one opens one connection and files the answer.
func (l *handshakeLoad) one(url, cookie string) {
	d := websocket.Dialer{HandshakeTimeout: 2 * answerWithin} // measure a slow answer, don't cut it
	start := time.Now()
	c, resp, err := d.Dial(url, http.Header{"Cookie": {cookie}})
	took := time.Since(start)
	l.mu.Lock()
	l.slowestD = max(l.slowestD, took)
	l.mu.Unlock()
	if took > answerWithin {
		l.fail("a handshake took %v, more than %v", took, answerWithin)
	}
	if err == nil {
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(ioWait))
		if _, _, err := c.ReadMessage(); err != nil {
			l.fail("accepted, then no hello: %v", err)
			return
		}
		l.accepted.Add(1)
		return
	}
	if resp == nil {
		l.fail("a handshake failed without an answer: %v", err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var rb refusalBody
	if resp.StatusCode != http.StatusServiceUnavailable || json.Unmarshal(body, &rb) != nil ||
		rb.Error != connectsid.CodeStoreUnavailable || resp.Header.Get("Retry-After") == "" {
		l.fail("refused with %s %s (Retry-After %q), want 503 store-unavailable",
			resp.Status, body, resp.Header.Get("Retry-After"))
		return
	}
	l.unavailable.Add(1)
}

func (l *handshakeLoad) fail(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.fails) < 20 {
		l.fails = append(l.fails, fmt.Sprintf(format, args...))
	}
}

// stop ends the load and waits for its workers.
func (l *handshakeLoad) stop() {
	l.cancel()
	l.wg.Wait()
}

func (l *handshakeLoad) failures() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.fails...)
}

func (l *handshakeLoad) slowest() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.slowestD
}
