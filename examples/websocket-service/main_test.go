package main

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/internal/testenv"
)

// TestWebSocketService runs the example against the real Express app: a
// logged-in user is greeted and answered; without the cookie the
// handshake is refused 401; the user's logout closes the connection 4401.
func TestWebSocketService(t *testing.T) {
	ex := testenv.StartExample(t, testenv.NodeAppConfig{}, 1, run)
	app, ctx := ex.App, context.Background()
	url := "ws://" + ex.Addrs[0] + "/ws"

	if c, resp, err := websocket.DefaultDialer.Dial(url, http.Header{"Origin": {app.URL()}}); err == nil {
		c.Close()
		t.Fatal("accepted without a cookie")
	} else if resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without a cookie: %v %v, want 401", resp, err)
	}

	cookie := app.Login(ctx, t, "Zoë")
	c, _, err := websocket.DefaultDialer.Dial(url, http.Header{"Cookie": {cookie}, "Origin": {app.URL()}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	read := func() string {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, msg, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		return string(msg)
	}
	if got := read(); got != "hello Zoë" {
		t.Fatalf("greeting %q", got)
	}
	if err := c.WriteMessage(websocket.TextMessage, []byte("ça va")); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "Zoë: ÇA VA" {
		t.Fatalf("answer %q", got)
	}
	app.Logout(ctx, t, cookie)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err = c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4401 || ce.Text != "logged-out" {
		t.Fatalf("after logout: %v, want close 4401 logged-out", err)
	}
}
