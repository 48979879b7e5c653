package socketio_test

import (
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/internal/testenv"
	"github.com/expressbridge/expressbridge/socketio"
)

// TestVolatile: a volatile event goes to a long-polling client only while
// a GET waits for it (socket.volatile.emit, io.volatile.emit); otherwise
// it is dropped, and the events that are not volatile still go.
func TestVolatile(t *testing.T) {
	srv, err := socketio.New(socketio.Config{Insecure: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	sockets := make(chan *socketio.Socket, 1)
	ns := srv.Of("/")
	ns.OnConnection(func(so *socketio.Socket) { sockets <- so })
	base := "http://" + testenv.ServeHTTP(t, srv) + "/socket.io/?EIO=4&transport=polling"
	do := func(method, url, body string) string {
		t.Helper()
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, b)
		}
		return string(b)
	}
	m := regexp.MustCompile(`"sid":"([^"]+)"`).FindStringSubmatch(do("GET", base, ""))
	if m == nil {
		t.Fatal("no sid in the handshake")
	}
	url := base + "&sid=" + m[1]
	do("POST", url, "40")
	if got := do("GET", url, ""); !strings.HasPrefix(got, "40{") {
		t.Fatalf("CONNECT answer: %q", got)
	}
	so := <-sockets

	// No GET waits: the volatile events are dropped, the others kept.
	so.EmitVolatile("dropped", 1)
	ns.Broadcast(socketio.BroadcastOptions{Volatile: true}, "dropped", 2)
	so.Emit("kept", 3)
	if got := do("GET", url, ""); got != `42["kept",3]` {
		t.Errorf("after volatile events with no GET waiting: %q, want only the kept one", got)
	}

	// A GET waits: a volatile event reaches it (sent until the GET is
	// there to take one).
	got := make(chan string, 1)
	go func() { got <- do("GET", url, "") }()
	var body string
	testenv.WaitFor(t, 10*time.Second, "a volatile event to reach a waiting GET", func() bool {
		ns.Broadcast(socketio.BroadcastOptions{Volatile: true}, "volatile", 4)
		select {
		case body = <-got:
			return true
		case <-time.After(10 * time.Millisecond):
			return false
		}
	})
	if body != `42["volatile",4]` {
		t.Errorf("a waiting GET got %q", body)
	}
}
