package bridge_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/bridge"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/pgstore"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// BenchmarkRevocationPostgres measures, over 1,000 open sessions in
// connect-pg-simple's table, the time from a session's DELETE (what its
// destroy does on logout) to the close frame at its client, in both modes:
// notify (the opt-in trigger, LISTEN/NOTIFY) and poll (no trigger: every
// open session read in one query each second). Run with -benchtime 1x.
func BenchmarkRevocationPostgres(b *testing.B) {
	for _, mode := range []struct {
		name    string
		trigger bool
		logouts int           // poll waits up to a second per logout
		jitter  time.Duration // logouts at random points of the polling period
	}{{"notify", true, 1000, 0}, {"poll", false, 20, time.Second}} {
		b.Run(mode.name, func(b *testing.B) {
			const n = 1000
			pg := testenv.StartPostgres(b)
			ctx := context.Background()
			pool, err := pgstore.OpenURL(ctx, pg.URL())
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(pool.Close)
			pg.Exec(b, `CREATE TABLE "session" ("sid" varchar NOT NULL COLLATE "default", "sess" json NOT NULL,
				"expire" timestamp(6) NOT NULL, CONSTRAINT "session_pkey" PRIMARY KEY ("sid"))`)
			store, err := pgstore.New(pool, pgstore.Options{})
			if err != nil {
				b.Fatal(err)
			}
			if mode.trigger {
				if err := store.InstallNotify(ctx); err != nil {
					b.Fatal(err)
				}
			}
			ver, _ := connectsid.NewVerifier("revocation bench secret")
			gate, err := auth.New(auth.Config{Verifier: ver, Store: store})
			if err != nil {
				b.Fatal(err)
			}
			srv, err := bridge.New(bridge.Config{Gate: gate, Watch: store.Watch, RevalidateInterval: time.Second,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				b.Fatal(err)
			}
			hs := httptest.NewServer(srv)
			rctx, cancel := context.WithCancel(ctx)
			go srv.Run(rctx)
			b.Cleanup(func() { cancel(); srv.Shutdown(context.Background()); hs.Close() })
			url := "ws" + strings.TrimPrefix(hs.URL, "http")

			for b.Loop() {
				exp := time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")
				sids := make([]string, n)
				for i := range sids {
					sids[i] = fmt.Sprintf("revocation-%06d-abcdefghijklmnop", i)
					sess, err := connectsid.DecodeSession(sids[i], `{"cookie":{"originalMaxAge":3600000,"expires":"`+exp+
						`","httpOnly":true,"path":"/"},"loggedIn":true,"username":"u`+fmt.Sprint(i)+`"}`)
					if err == nil {
						err = store.Set(ctx, sess)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				conns := dialEach(b, url, func(i int) string { return "connect.sid=" + ver.Sign(sids[i]) }, n)
				if b.Failed() {
					return
				}
				lat := measureLogouts(b, conns[:mode.logouts], mode.jitter, func(i int) {
					if err := store.Destroy(ctx, sids[i]); err != nil {
						b.Fatal(err)
					}
				})
				for _, c := range conns[mode.logouts:] {
					c.Close()
				}
				reportLatencies(b, lat)
			}
		})
	}
}
