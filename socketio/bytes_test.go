package socketio_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/socketio"
)

// authOf is a CONNECT auth of exactly n bytes: {"t":"xxx…"}.
func authOf(n int) string { return `{"t":"` + strings.Repeat("x", n-len(`{"t":""}`)) + `"}` }

// TestConnectAuthBound: a CONNECT whose auth is over MaxAuthBytes is
// refused with connect_error (as a namespace middleware refuses) and its
// session stays; one within it connects, and its socket keeps a copy of
// the auth of its own size, not the payload it came in.
func TestConnectAuthBound(t *testing.T) {
	e := newEnv(t)
	srv, err := socketio.New(socketio.Config{Live: e.live, Insecure: true, Logger: e.logger()})
	if err != nil {
		t.Fatal(err)
	}
	small, err := socketio.New(socketio.Config{Live: e.live, Insecure: true, MaxAuthBytes: 100, Logger: e.logger()})
	if err != nil {
		t.Fatal(err)
	}
	kept := make(chan [2]int, 1) // len and cap of Socket.Auth
	srv.Of("/").OnConnection(func(so *socketio.Socket) { kept <- [2]int{len(so.Auth()), cap(so.Auth())} })
	small.Of("/").OnConnection(func(*socketio.Socket) {})
	e.mux.Handle("/socket.io/", srv)
	e.mux.Handle("/small/", small)
	e.serve(t)

	const refusal = `44{"message":"bad-request","data":{"step":"request","message":"the CONNECT's auth is over `
	for _, tc := range []struct {
		name, path, auth, want string
	}{
		{"8 KiB by default", "/socket.io/", authOf(socketio.DefaultMaxAuthBytes), `40{"sid":"`},
		{"8 KiB + 1", "/socket.io/", authOf(socketio.DefaultMaxAuthBytes + 1), refusal + `8192 bytes"}}`},
		{"990 KB", "/socket.io/", authOf(990_000), refusal + `8192 bytes"}}`},
		{"MaxAuthBytes 100", "/small/", authOf(100), `40{"sid":"`},
		{"MaxAuthBytes 100, 101", "/small/", authOf(101), refusal + `100 bytes"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := "ws" + strings.TrimPrefix(e.url, "http") + tc.path + "?EIO=4&transport=websocket"
			c, _, err := websocket.DefaultDialer.Dial(url, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, msg, err := c.ReadMessage(); err != nil || msg[0] != '0' {
				t.Fatalf("OPEN: %q %v", msg, err)
			}
			if err := c.WriteMessage(websocket.TextMessage, []byte("40"+tc.auth)); err != nil {
				t.Fatal(err)
			}
			_, msg, err := c.ReadMessage()
			if err != nil || !strings.HasPrefix(string(msg), tc.want) {
				t.Fatalf("CONNECT with an auth of %d bytes: %.200q %v, want %.200q", len(tc.auth), msg, err, tc.want)
			}
			if tc.path == "/socket.io/" && strings.HasPrefix(tc.want, "40") {
				<-kept
			}
			if strings.HasPrefix(tc.want, "44") { // refused, as socket.io's middleware: the session stays
				if err := c.WriteMessage(websocket.TextMessage, []byte("40")); err != nil {
					t.Fatal(err)
				}
				if _, msg, err := c.ReadMessage(); err != nil || !strings.HasPrefix(string(msg), `40{"sid":"`) {
					t.Errorf("CONNECT after the refusal: %q %v", msg, err)
				}
				if tc.path == "/socket.io/" {
					<-kept
				}
			}
		})
	}

	t.Run("kept as a copy of its own size", func(t *testing.T) {
		// Over polling the CONNECT shares its payload with a packet of
		// 900 KB (an event nobody handles): the socket keeps 13 bytes.
		base := e.url + "/socket.io/?EIO=4&transport=polling"
		resp, err := http.Get(base)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		sid := string(body)[len(`0{"sid":"`):strings.Index(string(body), `","`)]
		payload := "40" + authOf(13) + "\x1e" + `42["nobody",` + `"` + strings.Repeat("y", 900_000) + `"]`
		resp, err = http.Post(base+"&sid="+sid, "text/plain", strings.NewReader(payload))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("POST: %d", resp.StatusCode)
		}
		select {
		case got := <-kept:
			if got[0] != 13 || got[1] > 64 {
				t.Errorf("Socket.Auth: len %d, cap %d; want 13, and a cap of its own (the payload was %d bytes)", got[0], got[1], len(payload))
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no connection")
		}
	})
}
