package bridge_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/bridge"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/pgstore"
	"github.com/expressbridge/expressbridge/examples/chat"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// TestPostgresRevocation: on connect-pg-simple's table the bridge ends
// connections with the same reasons as on Redis, with the notify trigger
// and by polling: logged-out (row deleted), logged-out (the login
// field no longer truthy), session-expired (cookie.expires passed).
func TestPostgresRevocation(t *testing.T) {
	for _, mode := range []struct {
		name    string
		trigger bool
	}{{"notify", true}, {"poll", false}} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			store, ver, url := pgBridge(t, mode.trigger, 200*time.Millisecond)
			ctx := context.Background()

			set := func(sid string, expires time.Time, loggedIn any) {
				t.Helper()
				sess, err := connectsid.DecodeSession(sid, fmt.Sprintf(`{"cookie":{"originalMaxAge":3600000,"expires":%q,`+
					`"httpOnly":true,"path":"/"},"loggedIn":%v,"username":"u"}`, expires.UTC().Format("2006-01-02T15:04:05.000Z"), loggedIn))
				if err == nil {
					err = store.Set(ctx, sess)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			open := func(sid string) *websocket.Conn {
				t.Helper()
				c, _, err := websocket.DefaultDialer.Dial(url, map[string][]string{"Cookie": {"connect.sid=" + ver.Sign(sid)}})
				if err == nil {
					c.SetReadDeadline(time.Now().Add(5 * time.Second))
					_, _, err = c.ReadMessage() // hello
				}
				if err != nil {
					t.Fatalf("dial %s: %v", sid, err)
				}
				t.Cleanup(func() { c.Close() })
				return c
			}
			hour := time.Now().Add(time.Hour)
			set("pg-logout-0123456789abcdefghijk", hour, true)
			set("pg-changed-0123456789abcdefghij", hour, true)
			// It must outlive the four dials, however slow, before it expires.
			set("pg-expires-0123456789abcdefghij", time.Now().Add(3*time.Second), true)
			set("pg-stays-0123456789abcdefghijkl", hour, true)
			logout, changed, expires, stays := open("pg-logout-0123456789abcdefghijk"),
				open("pg-changed-0123456789abcdefghij"), open("pg-expires-0123456789abcdefghij"), open("pg-stays-0123456789abcdefghijkl")

			if err := store.Destroy(ctx, "pg-logout-0123456789abcdefghijk"); err != nil {
				t.Fatal(err)
			}
			set("pg-changed-0123456789abcdefghij", hour, false)
			for c, want := range map[*websocket.Conn]string{
				logout: bridge.ReasonLoggedOut, changed: bridge.ReasonLoggedOut, expires: bridge.ReasonSessionExpired,
			} {
				c.SetReadDeadline(time.Now().Add(10 * time.Second)) // the reasons matter here, not how soon
				_, _, err := c.ReadMessage()
				var ce *websocket.CloseError
				if !errors.As(err, &ce) || ce.Code != bridge.CloseUnauthorized || ce.Text != want {
					t.Errorf("got %v, want close 4401 %s", err, want)
				}
			}
			stays.WriteJSON(map[string]string{"type": "whoami"})
			stays.SetReadDeadline(time.Now().Add(2 * time.Second))
			if _, _, err := stays.ReadMessage(); err != nil {
				t.Errorf("the session that stays was closed: %v", err)
			}
		})
	}
}

// pgBridge starts, on a fresh database with connect-pg-simple's table, a
// bridge watching it (the notify trigger installed when trigger) and
// returns the store, the verifier of its cookies and the WebSocket URL.
func pgBridge(tb testing.TB, trigger bool, revalidate time.Duration) (*pgstore.Store, *connectsid.Verifier, string) {
	pg := testenv.StartPostgres(tb)
	ctx := context.Background()
	pool, err := pgstore.OpenURL(ctx, pg.URL())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	pg.Exec(tb, `CREATE TABLE "session" ("sid" varchar NOT NULL COLLATE "default", "sess" json NOT NULL,
		"expire" timestamp(6) NOT NULL, CONSTRAINT "session_pkey" PRIMARY KEY ("sid"))`)
	store, err := pgstore.New(pool, pgstore.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	if trigger {
		if err := store.InstallNotify(ctx); err != nil {
			tb.Fatal(err)
		}
	}
	ver, _ := connectsid.NewVerifier("pg revocation secret")
	gate, err := auth.New(auth.Config{Verifier: ver, Store: store})
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := bridge.New(bridge.Config{Gate: gate, Protocol: chat.WebSocket{}, Watch: store.Watch, RevalidateInterval: revalidate,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); srv.Run(rctx) }()
	tb.Cleanup(func() { cancel(); <-done; srv.Shutdown(context.Background()); hs.Close() })
	return store, ver, "ws" + strings.TrimPrefix(hs.URL, "http")
}
