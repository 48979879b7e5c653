package socketio_test

import (
	"errors"
	"github.com/expressbridge/expressbridge/socketio"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestHostileInput: limits and malformed input end the session (or are
// refused) and never panic.
func TestHostileInput(t *testing.T) {
	e := newEnv(t)
	srv, err := socketio.New(socketio.Config{Live: e.live, Insecure: true, MaxHTTPBufferSize: 1000, Logger: e.logger()})
	if err != nil {
		t.Fatal(err)
	}
	srv.Of("/").On("x", func(*socketio.Socket, socketio.Args, socketio.AckFunc) {})
	e.mux.Handle("/socket.io/", srv)
	e.serve(t)
	base := e.url + "/socket.io/?EIO=4&transport=polling"
	wsURL := strings.Replace(e.url, "http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"

	req := func(method, url, body string) (int, string) {
		t.Helper()
		r, _ := http.NewRequest(method, url, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	open := func() string {
		t.Helper()
		_, body := req("GET", base, "")
		return base + "&sid=" + body[len(`0{"sid":"`):strings.Index(body, `","`)]
	}

	t.Run("polling payload over maxHttpBufferSize", func(t *testing.T) {
		url := open()
		if status, _ := req("POST", url, "4"+strings.Repeat("x", 1000)); status != http.StatusRequestEntityTooLarge {
			t.Errorf("POST of 1001 bytes: %d, want 413", status)
		}
		if status, _ := req("GET", url, ""); status != 400 {
			t.Errorf("after: %d, want 400 (closed)", status)
		}
	})
	t.Run("polling payload of exactly maxHttpBufferSize", func(t *testing.T) {
		url := open()
		if status, body := req("POST", url, "4"+strings.Repeat("x", 999)); status != 200 || body != "ok" {
			t.Errorf("POST of 1000 bytes: %d %s", status, body)
		}
	})
	t.Run("other methods", func(t *testing.T) {
		url := open()
		if status, _ := req("DELETE", url, ""); status != 400 {
			t.Errorf("DELETE: %d", status)
		}
	})
	for _, tc := range []struct {
		name   string
		frames []string // "b:" prefix: a binary frame
		code   int      // the close code the client sees
	}{
		{"WebSocket message over maxHttpBufferSize", []string{"4" + strings.Repeat("x", 1000)}, websocket.CloseMessageTooBig},
		{"unknown Engine.IO type", []string{"9"}, websocket.CloseNormalClosure},
		{"empty frame", []string{""}, websocket.CloseNormalClosure},
		{"unknown Socket.IO type", []string{"40", "49"}, websocket.CloseNormalClosure},
		{"too many attachments", []string{"40", `451001-["x"]`}, websocket.CloseNormalClosure},
		{"text where an attachment is due", []string{"40", `451-["x",{"_placeholder":true,"num":0}]`, `42["x"]`}, websocket.CloseNormalClosure},
		{"binary frame with no packet waiting", []string{"40", "b:\x01\x02"}, websocket.CloseNormalClosure},
		{"reserved event name", []string{"40", `42["disconnect"]`}, websocket.CloseNormalClosure},
		{"ack id over 2^53", []string{"40", `429007199254740993["x"]`}, websocket.CloseNormalClosure},
		// Attachments are held only for a joined namespace, and together
		// within maxHttpBufferSize (1000 here): nothing piles up.
		{"binary packet before CONNECT", []string{`451-["x",{"_placeholder":true,"num":0}]`}, websocket.CloseNormalClosure},
		{"binary packet for a namespace not joined", []string{"40", `451-/other,["x",{"_placeholder":true,"num":0}]`},
			websocket.CloseNormalClosure},
		{"attachments over maxHttpBufferSize together", []string{"40",
			`453-["x",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1},{"_placeholder":true,"num":2}]`,
			"b:" + strings.Repeat("a", 400), "b:" + strings.Repeat("b", 400), "b:" + strings.Repeat("c", 400)},
			websocket.CloseNormalClosure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.ReadMessage() // OPEN
			for _, f := range tc.frames {
				if b, ok := strings.CutPrefix(f, "b:"); ok {
					c.WriteMessage(websocket.BinaryMessage, []byte(b))
				} else {
					c.WriteMessage(websocket.TextMessage, []byte(f))
				}
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			for {
				_, _, err := c.ReadMessage()
				if err == nil {
					continue // CONNECT and the like
				}
				var ce *websocket.CloseError
				if !errors.As(err, &ce) || ce.Code != tc.code {
					t.Errorf("got %v, want close %d", err, tc.code)
				}
				return
			}
		})
	}
}
