package bridge_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/bridge"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// TestAcceptAndWhoami accepts a user logged in through Express, greets
// them by their unicode name, and answers whoami with exactly the app
// fields Express stored (the cookie object left out), also for the rich
// fields of /test/fixture. Messages the protocol does not know get
// bad-message and the connection stays open.
func TestAcceptAndWhoami(t *testing.T) {
	h := newHarness(t)
	b := h.serve(bridge.Config{})
	const name = "Zoë 🚀"
	cookie, _ := h.login(name)
	c := mustDial(t, b.ws, cookie, name)
	expectWhoami(t, h, c, cookie)

	if st, body := h.app.PostJSON(h.ctx, t, "/test/fixture", cookie, nil); st != http.StatusOK {
		t.Fatalf("/test/fixture: %d %s", st, body)
	}
	// A connection holds the session it was accepted with: connect again.
	rich := mustDial(t, b.ws, cookie, name)
	fields := expectWhoami(t, h, rich, cookie)
	for _, k := range []string{"profile", "at", "big", "quote", "nul", "arr", "obj"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("whoami after /test/fixture has no %q field", k)
		}
	}

	for _, in := range []string{
		`not JSON`,
		`[]`,
		`"say"`,
		`{}`,
		`{"type":"say"}`,
		`{"type":"say","text":null}`,
		`{"type":"say","text":5}`,
		`{"type":"SAY","text":"x"}`,
		`{"type":"nope"}`,
		`{"type":"say","text":"unterminated`,
	} {
		t.Run(in, func(t *testing.T) {
			rich.SetWriteDeadline(time.Now().Add(ioWait))
			if err := rich.WriteMessage(websocket.TextMessage, []byte(in)); err != nil {
				t.Fatal(err)
			}
			if m := readMsg(t, rich); m.Type != "error" || m.Error != "bad-message" {
				t.Fatalf("answer %+v, want error bad-message", m)
			}
		})
	}
	send(t, rich, map[string]string{"type": "whoami"}) // still open
	if m := readMsg(t, rich); m.Type != "session" {
		t.Fatalf("whoami after bad messages: %+v", m)
	}
}

// expectWhoami asks c whoami and compares the answer, field by field and in
// order, with the session Express reports for cookie minus its cookie
// object. It returns the fields.
func expectWhoami(t *testing.T, h *harness, c *websocket.Conn, cookie string) map[string]any {
	t.Helper()
	send(t, c, map[string]string{"type": "whoami"})
	m := readMsg(t, c)
	if m.Type != "session" || m.Session == nil {
		t.Fatalf("whoami answer %+v, want a session", m)
	}
	gotKeys, got := orderedFields(t, m.Session)
	express := h.app.WhoAmI(h.ctx, t, cookie)
	wantKeys, want := orderedFields(t, express.Session)
	if _, ok := want["cookie"]; !ok {
		t.Fatalf("Express's session has no cookie object: %s", express.Session)
	}
	if _, ok := got["cookie"]; ok {
		t.Errorf("whoami holds the cookie object: %s", m.Session)
	}
	delete(want, "cookie")
	wantKeys = deleteKey(wantKeys, "cookie")
	if !reflect.DeepEqual(gotKeys, wantKeys) {
		t.Errorf("whoami fields %q, Express has %q", gotKeys, wantKeys)
	}
	for _, k := range wantKeys {
		if !reflect.DeepEqual(got[k], want[k]) {
			t.Errorf("whoami field %q = %.200v, Express has %.200v", k, got[k], want[k])
		}
	}
	return got
}

// orderedFields decodes a JSON object, numbers kept as written, and returns
// its keys in order and its values.
func orderedFields(t *testing.T, raw json.RawMessage) ([]string, map[string]any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %.200s", raw)
	}
	var keys []string
	vals := map[string]any{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("decode %.200s: %v", raw, err)
		}
		k := tok.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("decode %.200s: %v", raw, err)
		}
		keys = append(keys, k)
		vals[k] = v
	}
	return keys, vals
}

func deleteKey(keys []string, k string) []string {
	out := keys[:0:0]
	for _, x := range keys {
		if x != k {
			out = append(out, x)
		}
	}
	return out
}

// TestBroadcast has three users, logged in through Express, talk at once:
// every say reaches all three (the sender too), named by its sender, and
// each sender's messages arrive in the order they were sent.
func TestBroadcast(t *testing.T) {
	h := newHarness(t)
	const perSender = 25
	names := []string{"Ann", "Bo ✓", "Zoë 🚀"}
	// The whole conversation fits in every send queue: a burst larger than
	// SendQueue may legitimately close a reader whose writer goroutine has
	// not run yet, and this test is about delivery and order only.
	b := h.serve(bridge.Config{SendQueue: 2 * perSender * len(names)})
	conns := make([]*websocket.Conn, len(names))
	for i, n := range names {
		cookie, _ := h.login(n)
		conns[i] = mustDial(t, b.ws, cookie, n)
	}
	total := perSender * len(names)

	// Each client reads in its own goroutine what it is told.
	type result struct {
		got []msg
		err error
	}
	results := make([]result, len(conns))
	var readers sync.WaitGroup
	for i, c := range conns {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for len(results[i].got) < total {
				m, err := tryReadMsg(c)
				if err != nil {
					results[i].err = err
					return
				}
				results[i].got = append(results[i].got, m)
			}
		}()
	}
	// All three send at once; a connection's writes stay in this goroutine.
	var senders sync.WaitGroup
	sendErrs := make([]error, len(conns))
	for i, c := range conns {
		senders.Add(1)
		go func() {
			defer senders.Done()
			for j := range perSender {
				c.SetWriteDeadline(time.Now().Add(ioWait))
				if err := c.WriteJSON(map[string]string{"type": "say", "text": fmt.Sprintf("%s #%d", names[i], j)}); err != nil {
					sendErrs[i] = err
					return
				}
			}
		}()
	}
	senders.Wait()
	readers.Wait()
	for i, err := range sendErrs {
		if err != nil {
			t.Fatalf("%s: write: %v", names[i], err)
		}
	}

	for i, r := range results {
		if r.err != nil {
			t.Fatalf("%s: read after %d messages: %v", names[i], len(r.got), r.err)
		}
		next := map[string]int{} // sender → next number expected
		for _, m := range r.got {
			if m.Type != "said" || m.User == nil || m.Text == nil {
				t.Fatalf("%s got %+v, want said", names[i], m)
			}
			want := fmt.Sprintf("%s #%d", *m.User, next[*m.User])
			if *m.Text != want {
				t.Fatalf("%s got %q from %q, want %q (in order)", names[i], *m.Text, *m.User, want)
			}
			next[*m.User]++
		}
		for _, n := range names {
			if next[n] != perSender {
				t.Errorf("%s got %d messages from %s, want %d", names[i], next[n], n, perSender)
			}
		}
	}
}

// TestSlowConsumer has one client stop reading while two others go on
// talking in 60 KB messages: the server drops the slow one (its queue of 4
// overflows, and its blocked write times out) while the others receive
// every message, none of them waiting on the slow one.
func TestSlowConsumer(t *testing.T) {
	h := newHarness(t)
	const writeTimeout = 2 * time.Second
	b := h.serve(bridge.Config{SendQueue: 4, WriteTimeout: writeTimeout})
	names := []string{"Fast A", "Fast B", "Slow"}
	conns := make([]*websocket.Conn, len(names))
	for i, n := range names {
		cookie, _ := h.login(n)
		conns[i] = mustDial(t, b.ws, cookie, n)
	}
	fastA, fastB, slow := conns[0], conns[1], conns[2]
	testenv.WaitFor(t, ioWait, "3 connections", func() bool { return b.srv.Len() == 3 })

	big := strings.Repeat("x", 60<<10)
	var slowest time.Duration
	// round sends message i from A and waits until both fast clients have it.
	round := func(i int) {
		t.Helper()
		start := time.Now()
		text := fmt.Sprintf("%06d %s", i, big)
		send(t, fastA, map[string]string{"type": "say", "text": text})
		for _, c := range []*websocket.Conn{fastA, fastB} {
			m := readMsg(t, c)
			if m.Type != "said" || m.Text == nil || *m.Text != text {
				got := fmt.Sprintf("%+v", m)
				t.Fatalf("message %d: got %.80s, want said %.20s…", i, got, text)
			}
		}
		slowest = max(slowest, time.Since(start))
	}
	sent := 0
	deadline := time.Now().Add(20 * time.Second)
	for b.srv.Len() == 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the slow client is still connected after %d messages of 60 KB", sent)
		}
		round(sent)
		sent++
	}
	for range 5 { // and the talk goes on
		round(sent)
		sent++
	}
	if n := b.srv.Len(); n != 2 {
		t.Fatalf("Len() = %d, want the 2 fast clients", n)
	}
	if slowest >= writeTimeout {
		t.Errorf("a round took %v: the fast clients waited on the slow one (WriteTimeout %v)", slowest, writeTimeout)
	}
	t.Logf("slow client dropped after %d messages; slowest round %v", sent-5, slowest)

	// Reading at last, the slow client finds its stream cut short: a 1008
	// close if the frame got through, else the connection simply ends.
	got := 0
	for {
		slow.SetReadDeadline(time.Now().Add(ioWait))
		_, _, err := slow.ReadMessage()
		if err == nil {
			got++
			continue
		}
		var ce *websocket.CloseError
		var ne net.Error
		switch {
		case errors.As(err, &ce) && (ce.Code == websocket.ClosePolicyViolation || ce.Code == websocket.CloseAbnormalClosure):
		case errors.As(err, &ne) && ne.Timeout():
			t.Fatalf("the slow client's connection is still open after %d messages", got)
		case errors.As(err, &ce):
			t.Fatalf("slow client closed with %d, want 1008 or a dropped connection", ce.Code)
		}
		break
	}
	if got >= sent {
		t.Errorf("the slow client received all %d messages; it should have been dropped", got)
	}
}

// TestReadLimit accepts a message of exactly ReadLimit bytes and closes a
// connection that sends more with 1009.
func TestReadLimit(t *testing.T) {
	h := newHarness(t)
	const limit = 1024
	b := h.serve(bridge.Config{ReadLimit: limit})
	cookie, _ := h.login("Zoë")
	frame := func(size int) []byte {
		const empty = `{"type":"say","text":""}`
		return []byte(`{"type":"say","text":"` + strings.Repeat("y", size-len(empty)) + `"}`)
	}
	tests := []struct {
		name string
		size int
		ok   bool
	}{
		{"at the limit", limit, true},
		{"one byte over", limit + 1, false},
		{"far over", 64 * limit, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := mustDial(t, b.ws, cookie, "Zoë")
			c.SetWriteDeadline(time.Now().Add(ioWait))
			err := c.WriteMessage(websocket.TextMessage, frame(tc.size))
			if err != nil && tc.ok {
				t.Fatal(err)
			}
			if !tc.ok {
				// The server stops reading at the frame header and closes
				// with the rest unread, so the write may meet a reset; the
				// close frame sent before it is still there to read.
				expectClose(t, c, websocket.CloseMessageTooBig)
				testenv.WaitFor(t, ioWait, "the server to drop the connection", func() bool { return b.srv.Len() == 0 })
				return
			}
			if m := readMsg(t, c); m.Type != "said" || m.Text == nil || len(*m.Text) != tc.size-24 {
				t.Fatalf("answer %.80v, want said", m)
			}
			c.Close()
			testenv.WaitFor(t, ioWait, "the server to see the close", func() bool { return b.srv.Len() == 0 })
		})
	}
}

// TestPingTimeout checks the keep-alive: a client that never answers pings
// (and sends nothing) is dropped once PingInterval+WriteTimeout passes
// without a pong; a client that answers stays.
func TestPingTimeout(t *testing.T) {
	h := newHarness(t)
	const interval, writeTimeout = 100 * time.Millisecond, 900 * time.Millisecond
	b := h.serve(bridge.Config{PingInterval: interval, WriteTimeout: writeTimeout})
	cookie, _ := h.login("Zoë")

	t.Run("silent client dropped", func(t *testing.T) {
		// A raw TCP connection: nothing answers pings on its own.
		conn, br := rawHandshake(t, b.host, "/ws", cookie)
		start := time.Now()
		conn.SetReadDeadline(start.Add(ioWait))
		var ops []byte
		for {
			op, _, err := readFrame(br)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatalf("still connected after %v (frames %x)", ioWait, ops)
				}
				break // the server closed the connection
			}
			ops = append(ops, op)
		}
		elapsed := time.Since(start)
		if len(ops) < 2 || ops[0] != websocket.TextMessage || ops[1] != websocket.PingMessage {
			t.Fatalf("frames %x, want the hello then pings", ops)
		}
		if elapsed < interval {
			t.Errorf("dropped after %v, before the first ping was due", elapsed)
		}
		t.Logf("dropped after %v, frames %x", elapsed, ops)
		testenv.WaitFor(t, ioWait, "the server to forget the connection", func() bool { return b.srv.Len() == 0 })
	})

	t.Run("answering client stays", func(t *testing.T) {
		c := mustDial(t, b.ws, cookie, "Zoë")
		var mu sync.Mutex
		pings := 0
		c.SetPingHandler(func(data string) error {
			mu.Lock()
			pings++
			mu.Unlock()
			return c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(ioWait))
		})
		// Read (answering pings) for twice the pong wait: no frame comes.
		window := 2 * (interval + writeTimeout)
		c.SetReadDeadline(time.Now().Add(window))
		_, _, err := c.ReadMessage()
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("read = %v, want the window to pass with the connection open", err)
		}
		if n := b.srv.Len(); n != 1 {
			t.Fatalf("Len() = %d after %v of pongs, want 1", n, window)
		}
		mu.Lock()
		defer mu.Unlock()
		if pings < 3 {
			t.Errorf("%d pings in %v, want one every %v", pings, window, interval)
		}
	})
}
