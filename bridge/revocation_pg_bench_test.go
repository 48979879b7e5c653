package bridge_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/connectsid"
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
			store, ver, url := pgBridge(b, mode.trigger, time.Second)
			ctx := context.Background()

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
