package wsconn_test

import (
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/internal/testenv"
	"github.com/expressbridge/expressbridge/wsconn"
)

// lingerRounds is how many connections each client runs: the loss it
// guards against is a race, so one round proves little.
const lingerRounds = 200

// closer closes its connection, with last words first, on its 20th
// message; the client goes on sending.
type closer struct{}

func (closer) Open(*wsconn.Conn)  {}
func (closer) Close(*wsconn.Conn) {}
func (closer) Message(c *wsconn.Conn, msg []byte) {
	if string(msg) == "19" {
		c.Send([]byte("last words"))
		c.CloseWhenSent(4000, "bye")
	}
}

// serveCloser serves closer on a hub of its own and returns the ws:// URL.
func serveCloser(t *testing.T) (string, *wsconn.Hub) {
	t.Helper()
	hub, err := wsconn.NewHub(wsconn.Config{})
	if err != nil {
		t.Fatal(err)
	}
	addr := testenv.ServeHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hub.Accept(w, r, &auth.Session{}, wsconn.Options{Handler: closer{}})
	}))
	t.Cleanup(func() { hub.Shutdown(t.Context()) })
	return "ws://" + addr + "/", hub
}

// TestLingeringClose: a client that keeps sending after the server closed
// still reads the server's last message and its close frame, every time
// (a socket closed with unread input is reset, and the client may lose
// both); the hub keeps no connection and, once the clients are gone, no
// socket.
func TestLingeringClose(t *testing.T) {
	url, hub := serveCloser(t)
	for i := range lingerRounds {
		if err := sendThroughClose(url, i%2 == 1); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
	}
	testenv.WaitFor(t, 10*time.Second, "the hub to let go", func() bool { return hub.Len() == 0 })
}

// sendThroughClose runs one connection: it sends as fast as it can
// while it reads, until it has read the close frame; in every other round
// it reads only once it could send no more (or 1 MiB), the way a busy
// client is late to read.
func sendThroughClose(url string, late bool) error {
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	stop, stopped := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(stopped)
		filler := strings.Repeat("x", 512)
		for i := 0; i < 2048; i++ {
			select {
			case <-stop:
				return
			default:
			}
			msg := filler
			if i < 20 {
				msg = strconv.Itoa(i)
			}
			c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if c.WriteMessage(websocket.TextMessage, []byte(msg)) != nil {
				return // the server shut its write half and then the socket
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	if late {
		<-stopped
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, msg, err := c.ReadMessage()
	if err != nil || string(msg) != "last words" {
		return fmt.Errorf("want the last words, got %q, %v", msg, err)
	}
	_, _, err = c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4000 || ce.Text != "bye" {
		return fmt.Errorf("want close 4000 bye, got %v", err)
	}
	return nil
}

// TestLingeringCloseWithNodeWS: the same with the npm ws client.
func TestLingeringCloseWithNodeWS(t *testing.T) {
	url, hub := serveCloser(t)
	testenv.RunNode(t, 2*time.Minute, []string{"WS_URL=" + url, "ROUNDS=" + strconv.Itoa(lingerRounds)}, "test/ws-linger.js")
	testenv.WaitFor(t, 10*time.Second, "the hub to let go", func() bool { return hub.Len() == 0 })
}

// TestLingerIsBounded: a client that never answers the close frame, and
// one that floods, are cut: the first within lingerTimeout (2 s), the
// second once it has sent the budget (8 MiB). Cut means the socket is
// closed: the client's writes fail.
func TestLingerIsBounded(t *testing.T) {
	url, hub := serveCloser(t)
	for _, tc := range []struct {
		name  string
		every time.Duration // between two messages after the close
		size  int
	}{
		{"trickle", 50 * time.Millisecond, 10},
		{"flood", 0, 32 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := websocket.DefaultDialer.Dial(url, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetCloseHandler(func(int, string) error { return nil }) // no answer
			for i := range 20 {
				c.WriteMessage(websocket.TextMessage, []byte(strconv.Itoa(i)))
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			c.ReadMessage() // the last words
			_, _, err = c.ReadMessage()
			if !websocket.IsCloseError(err, 4000) {
				t.Fatalf("want close 4000, got %v", err)
			}
			start := time.Now()
			msg := []byte(strings.Repeat("x", tc.size))
			sent := 0
			for time.Since(start) < 20*time.Second {
				c.SetWriteDeadline(time.Now().Add(5 * time.Second))
				if err = c.WriteMessage(websocket.TextMessage, msg); err != nil {
					break
				}
				sent += len(msg)
				time.Sleep(tc.every)
			}
			if err == nil {
				t.Fatal("the server still reads after 20 s")
			}
			t.Logf("cut %v after the close frame, %d KiB sent meanwhile: %v", time.Since(start).Round(time.Millisecond), sent>>10, err)
		})
	}
	testenv.WaitFor(t, 10*time.Second, "the hub to let go", func() bool { return hub.Len() == 0 })
}

// TestMassLingeringClose: 5,000 connections closed at once whose clients
// do not answer all read their close frame promptly, and linger without a
// goroutine each; the hub's Shutdown waits for them.
func TestMassLingeringClose(t *testing.T) {
	const n = 5000
	hub, err := wsconn.NewHub(wsconn.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var open []*wsconn.Conn
	addr := testenv.ServeHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := hub.Accept(w, r, &auth.Session{}, wsconn.Options{Handler: closer{}})
		if err == nil {
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
		}
	}))
	clients := make([]*websocket.Conn, n)
	for i := range clients {
		c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		c.SetCloseHandler(func(int, string) error { return nil }) // no answer: each lingers its full time
		clients[i] = c
		defer c.Close()
	}
	testenv.WaitFor(t, 10*time.Second, "every connection", func() bool { mu.Lock(); defer mu.Unlock(); return len(open) == n })
	before := runtime.NumGoroutine()
	start := time.Now()
	for _, c := range open {
		c.Close(4000, "bye")
	}
	var wg sync.WaitGroup
	var failed atomic.Int32
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, 4000) {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	during := runtime.NumGoroutine()
	if failed.Load() > 0 {
		t.Fatalf("%d of %d clients did not read the close frame", failed.Load(), n)
	}
	if during > before+100 {
		t.Errorf("goroutines %d before the close, %d while %d connections linger", before, during, n)
	}
	if err := hub.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d closed: every close frame read in %v; goroutines %d before, %d while lingering; Shutdown waited %v for the lingers",
		n, took.Round(time.Millisecond), before, during, (time.Since(start) - took).Round(time.Millisecond))
}
