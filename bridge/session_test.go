package bridge_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/bridge"
	"github.com/expressbridge/expressbridge/examples/chat"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// recordingChat is Chat that records the Protocol calls it gets.
type recordingChat struct {
	chat.WebSocket
	mu     sync.Mutex
	opened map[*bridge.Conn]int // Open calls
	msgs   map[*bridge.Conn]int // Message calls
	closed chan *bridge.Conn    // one send per Close call
	bad    []string             // contract violations seen
}

func (p *recordingChat) Open(c *bridge.Conn) {
	p.mu.Lock()
	p.opened[c]++
	p.mu.Unlock()
	p.WebSocket.Open(c)
}

func (p *recordingChat) Message(c *bridge.Conn, msg []byte) {
	p.mu.Lock()
	if p.opened[c] != 1 {
		p.bad = append(p.bad, "Message before Open")
	}
	p.msgs[c]++
	p.mu.Unlock()
	p.WebSocket.Message(c, msg)
}

func (p *recordingChat) Close(c *bridge.Conn) {
	p.mu.Lock()
	if p.opened[c] != 1 {
		p.bad = append(p.bad, "Close without Open")
	}
	if c.Context().Err() == nil {
		p.bad = append(p.bad, "Close while the connection's context is live")
	}
	p.mu.Unlock()
	p.closed <- c
}

// TestCloseSession closes every connection of one session (two tabs) with
// the code and reason given, leaves other sessions alone, and calls the
// Protocol's Open, Message and Close in their documented order.
func TestCloseSession(t *testing.T) {
	h := newHarness(t)
	proto := &recordingChat{opened: map[*bridge.Conn]int{}, msgs: map[*bridge.Conn]int{}, closed: make(chan *bridge.Conn, 8)}
	b := h.serve(bridge.Config{Protocol: proto})
	annCookie, annSID := h.login("Ann")
	boCookie, _ := h.login("Bo")
	tabs := []*websocket.Conn{mustDial(t, b.ws, annCookie, "Ann"), mustDial(t, b.ws, annCookie, "Ann")}
	bo := mustDial(t, b.ws, boCookie, "Bo")
	send(t, tabs[0], map[string]string{"type": "say", "text": "bye"})
	for _, c := range append(tabs, bo) {
		if m := readMsg(t, c); m.Type != "said" {
			t.Fatalf("got %+v, want said", m)
		}
	}

	if n := b.srv.CloseSession(annSID, "logged-out"); n != 2 {
		t.Fatalf("CloseSession = %d, want 2", n)
	}
	for _, c := range tabs {
		if reason := expectClose(t, c, bridge.CloseUnauthorized); reason != "logged-out" {
			t.Errorf("close reason %q, want logged-out", reason)
		}
	}
	for range 2 {
		c := <-proto.closed
		if c.SessionID() != annSID || c.Session().ID() != annSID || c.User() != "Ann" {
			t.Errorf("closed connection of %q, want Ann's", c.User())
		}
		if err := c.Send([]byte(`{}`)); !errors.Is(err, bridge.ErrClosed) {
			t.Errorf("Send after close = %v, want ErrClosed", err)
		}
	}
	testenv.WaitFor(t, ioWait, "Ann's connections to go", func() bool { return b.srv.Len() == 1 })
	if n := b.srv.CloseSession(annSID, "logged-out"); n != 0 {
		t.Errorf("second CloseSession = %d, want 0", n)
	}
	if n := b.srv.CloseSession("no-such-session", "x"); n != 0 {
		t.Errorf("CloseSession of an unknown sid = %d, want 0", n)
	}

	// Bo is untouched.
	send(t, bo, map[string]string{"type": "say", "text": "still here"})
	if m := readMsg(t, bo); m.Type != "said" || *m.Text != "still here" {
		t.Fatalf("Bo got %+v", m)
	}
	proto.mu.Lock()
	defer proto.mu.Unlock()
	if len(proto.bad) > 0 {
		t.Errorf("Protocol contract broken: %q", proto.bad)
	}
	if len(proto.opened) != 3 {
		t.Errorf("Open called for %d connections, want 3", len(proto.opened))
	}
	total := 0
	for _, n := range proto.msgs {
		total += n
	}
	if total != 2 {
		t.Errorf("Message called %d times, want 2", total)
	}
}
