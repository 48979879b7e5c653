package engineio_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/engineio"
	"github.com/expressbridge/expressbridge/internal/testenv"
	"github.com/expressbridge/expressbridge/internal/testrig"
	"github.com/expressbridge/expressbridge/liveness"
)

// pollingHandshake opens a polling session at url and returns the status
// and, for a refusal, its code.
func pollingHandshake(t *testing.T, url string) (int, string) {
	t.Helper()
	st, body := do(t, http.MethodGet, url+"?EIO=4&transport=polling", "")
	var ref struct {
		Error string `json:"error"`
	}
	if st != http.StatusOK {
		if err := json.Unmarshal([]byte(body), &ref); err != nil {
			t.Fatalf("%d %s: not a refusal", st, body)
		}
	}
	return st, ref.Error
}

// TestSessionTableBounds: a full table answers 503 server-full before any
// session exists; a client address holding MaxRefusedPerAddress refused
// sessions gets 429 too-many-refused instead of another (polling and
// WebSocket alike) while authenticated handshakes still pass; a place
// freed is taken again.
func TestSessionTableBounds(t *testing.T) {
	t.Run("table", func(t *testing.T) {
		srv, err := engineio.New(engineio.Config{Handler: newEcho, Insecure: true, MaxSessions: 3, Logger: logger(newLogs(t))})
		if err != nil {
			t.Fatal(err)
		}
		url := "http://" + testenv.ServeHTTP(t, srv) + "/engine.io/"
		for i := range 3 {
			if st, code := pollingHandshake(t, url); st != 200 {
				t.Fatalf("handshake %d: %d %s", i, st, code)
			}
		}
		if st, code := pollingHandshake(t, url); st != http.StatusServiceUnavailable || code != engineio.CodeServerFull {
			t.Fatalf("beyond MaxSessions: %d %q, want 503 %s", st, code, engineio.CodeServerFull)
		}
		if n := srv.Len(); n != 3 {
			t.Errorf("Len = %d, want 3", n)
		}
	})

	t.Run("refused per address", func(t *testing.T) {
		rig := testrig.Start(t, testrig.Config{})
		logs := newLogs(t)
		live, err := liveness.New(liveness.Config{Gate: rig.Gate, Logger: logger(logs)})
		if err != nil {
			t.Fatal(err)
		}
		srv, err := engineio.New(engineio.Config{Handler: newEcho, Live: live, MaxRefusedPerAddress: 2, Logger: logger(logs)})
		if err != nil {
			t.Fatal(err)
		}
		host := testenv.ServeHTTP(t, srv)
		url := "http://" + host + "/engine.io/"
		if st, code := pollingHandshake(t, url); st != 200 { // no cookie: refused by the gate, told in the session
			t.Fatalf("first refused handshake: %d %s", st, code)
		}
		ws, _, err := websocket.DefaultDialer.Dial("ws://"+host+"/engine.io/?EIO=4&transport=websocket", nil)
		if err != nil {
			t.Fatalf("second refused handshake (WebSocket): %v", err)
		}
		if st, code := pollingHandshake(t, url); st != http.StatusTooManyRequests || code != engineio.CodeTooManyRefused {
			t.Fatalf("third refused handshake: %d %q, want 429 %s", st, code, engineio.CodeTooManyRefused)
		}
		_, resp, err := websocket.DefaultDialer.Dial("ws://"+host+"/engine.io/?EIO=4&transport=websocket", nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("third refused handshake (WebSocket): %v %v, want 429", resp, err)
		}
		// A logged-in user from the same address is not held back.
		cookie, _ := rig.Login("Ann")
		req, _ := http.NewRequest(http.MethodGet, url+"?EIO=4&transport=polling", nil)
		req.Header.Set("Cookie", cookie)
		resp, err = http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("logged-in handshake: %v %v", resp, err)
		}
		resp.Body.Close()
		// The WebSocket's session leaves the table when it closes.
		ws.Close()
		testenv.WaitFor(t, 5*time.Second, "a refused place freed", func() bool {
			st, _ := pollingHandshake(t, url)
			return st == 200
		})
		if !strings.Contains(logs.String(), "a client hit a limit") {
			t.Errorf("no warning for the refused handshakes:\n%s", logs.String())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
}

// TestRefusedSessionBounds: a session the gate refused lives only long
// enough to read its refusal, and may send only a small message (its
// CONNECT): a larger WebSocket message closes it (1009), a larger POST
// gets 413.
func TestRefusedSessionBounds(t *testing.T) {
	rig := testrig.Start(t, testrig.Config{NoApp: true})
	logs := newLogs(t)
	live, err := liveness.New(liveness.Config{Gate: rig.Gate, Logger: logger(logs)})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := engineio.New(engineio.Config{Handler: newEcho, Live: live, Logger: logger(logs)})
	if err != nil {
		t.Fatal(err)
	}
	srv.SetRefusedLife(time.Second)
	host := testenv.ServeHTTP(t, srv)
	dial := func() *websocket.Conn {
		t.Helper()
		c, _, err := websocket.DefaultDialer.Dial("ws://"+host+"/engine.io/?EIO=4&transport=websocket", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		testenv.ReadPrefix(t, c, "0{") // the handshake
		return c
	}

	small := dial()
	small.WriteMessage(websocket.TextMessage, []byte("4"+strings.Repeat("x", 4000)))
	testenv.ReadPrefix(t, small, "4xxx") // echoed: within the refused limit

	big := dial()
	big.WriteMessage(websocket.TextMessage, []byte("4"+strings.Repeat("x", 9000)))
	big.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := big.ReadMessage(); err != nil {
			if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
				t.Errorf("a 9 KB message from a refused session: %v, want close 1009", err)
			}
			break
		}
	}

	// Long-polling: the same bound on a POST's payload.
	resp, err := http.Get("http://" + host + "/engine.io/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	open, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !strings.HasPrefix(string(open), "0{") {
		t.Fatalf("polling handshake: %s %v", open, err)
	}
	var hs struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(open[1:], &hs); err != nil {
		t.Fatal(err)
	}
	post, err := http.Post("http://"+host+"/engine.io/?EIO=4&transport=polling&sid="+hs.SID, "text/plain",
		strings.NewReader("4"+strings.Repeat("x", 9000)))
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	if post.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a 9 KB POST from a refused session: %d, want 413", post.StatusCode)
	}
	if !strings.Contains(logs.String(), "limit=body-too-large") {
		t.Errorf("no warning for the refused body:\n%s", logs.String())
	}

	testenv.WaitFor(t, 5*time.Second, "the refused sessions to end after their short life", func() bool { return srv.Len() == 0 })
}
