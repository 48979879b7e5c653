package bridge_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/bridge"
	"github.com/expressbridge/expressbridge/liveness"
)

// doorProto is another door's protocol: "bye" gets two last messages and
// a close once they are written; a binary message comes back reversed;
// when the server ends the connection it says why first.
type doorProto struct{ sent chan error }

func (doorProto) Open(c *bridge.Conn) { c.Send([]byte("open " + c.User())) }
func (p doorProto) Message(c *bridge.Conn, msg []byte) {
	if string(msg) == "bye" {
		c.Send([]byte("last 1"))
		c.Send([]byte("last 2"))
		c.CloseWhenSent(4000, "done")
		c.Send([]byte("never")) // after CloseWhenSent: refused
		return
	}
	c.Send(msg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	p.sent <- c.WaitSent(ctx)
}
func (doorProto) BinaryMessage(c *bridge.Conn, msg []byte) {
	out := make([]byte, len(msg))
	for i, b := range msg {
		out[len(msg)-1-i] = b
	}
	c.SendBinary(out)
}
func (doorProto) End(c *bridge.Conn, r liveness.Reason) {
	code, reason := bridge.CloseFor(r)
	c.Send([]byte("ended " + reason))
	c.CloseWhenSent(code, reason)
}
func (doorProto) Close(*bridge.Conn) {}

// TestAcceptDoor: another door serves its own protocol on the bridge's
// connections with Accept: binary messages, CloseWhenSent, WaitSent, and
// revocation through its Ender.
func TestAcceptDoor(t *testing.T) {
	h := newHarness(t)
	b := h.serve(bridge.Config{Watch: h.store.Watch})
	runLive(t, b)
	sent := make(chan error, 4)
	door := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := b.srv.Gate().Check(r.Context(), r)
		if err != nil {
			auth.WriteRefusal(w, auth.AsRefusal(err))
			return
		}
		b.srv.Accept(w, r, sess, bridge.AcceptOptions{Protocol: doorProto{sent}, ReadLimit: 8})
	}))
	defer door.Close()
	url := "ws" + strings.TrimPrefix(door.URL, "http")
	cookie, _ := h.login("Zoë")
	read := func(c *websocket.Conn) (int, string) {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		op, m, err := c.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code, ce.Text
			}
			t.Fatalf("read: %v", err)
		}
		return op, string(m)
	}

	c, _, err := dial(t, url, cookie)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, m := read(c); m != "open Zoë" {
		t.Fatalf("open: %q", m)
	}
	c.WriteMessage(websocket.TextMessage, []byte("hi"))
	if _, m := read(c); m != "hi" {
		t.Fatalf("echo: %q", m)
	}
	if err := <-sent; err != nil {
		t.Errorf("WaitSent: %v", err)
	}
	c.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3})
	if op, m := read(c); op != websocket.BinaryMessage || m != "\x03\x02\x01" {
		t.Fatalf("binary: %d %q", op, m)
	}
	// A chat message on /ws is broadcast to the bridge's own protocol
	// only: the door's connection, which speaks another, gets nothing.
	chat := mustDial(t, b.ws, cookie, "Zoë")
	defer chat.Close()
	send(t, chat, map[string]string{"type": "say", "text": "to the chat only"})
	if m := readMsg(t, chat); m.Type != "said" {
		t.Fatalf("the chat got %+v", m)
	}
	c.WriteMessage(websocket.TextMessage, []byte("ping"))
	if _, m := read(c); m != "ping" {
		t.Fatalf("the door's connection got %q, want only its own echo", m)
	}
	<-sent
	c.WriteMessage(websocket.TextMessage, []byte("bye"))
	for _, want := range []string{"last 1", "last 2"} {
		if _, m := read(c); m != want {
			t.Fatalf("got %q, want %q", m, want)
		}
	}
	if code, reason := read(c); code != 4000 || reason != "done" {
		t.Fatalf("close %d %q, want 4000 done", code, reason)
	}

	// The per-connection read limit (8 bytes) applies.
	c2, _, _ := dial(t, url, cookie)
	defer c2.Close()
	read(c2)
	c2.WriteMessage(websocket.TextMessage, []byte("123456789"))
	if code, _ := read(c2); code != websocket.CloseMessageTooBig {
		t.Fatalf("over the read limit: close %d, want 1009", code)
	}

	// Logout: the door's Ender speaks first, then closes 4401.
	c3, _, _ := dial(t, url, cookie)
	defer c3.Close()
	read(c3)
	h.app.Logout(h.ctx, t, cookie)
	if _, m := read(c3); m != "ended logged-out" {
		t.Fatalf("on logout: %q", m)
	}
	if code, reason := read(c3); code != bridge.CloseUnauthorized || reason != bridge.ReasonLoggedOut {
		t.Fatalf("on logout: close %d %q", code, reason)
	}
}
