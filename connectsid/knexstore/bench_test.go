package knexstore

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/pgstore"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

const benchRecord = `{"cookie":{"originalMaxAge":3600000,"expires":"2099-11-24T15:59:17.672Z","httpOnly":true,"path":"/","sameSite":"lax"},"loggedIn":true,"username":"Zoë 🚀"}`

const benchSID = "d-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR"

// benchStores are a store per dialect holding benchSID, and the bare
// query with its decode that Get is held to: connect-session-knex's get
// through the driver alone (pgx's own pool on PostgreSQL; database/sql,
// the only interface modernc.org/sqlite and go-sql-driver/mysql have, on
// SQLite and MariaDB).
func benchStores(b *testing.B) []struct {
	name string
	st   *Store
	bare func(ctx context.Context) error
} {
	ctx := context.Background()
	pg := testenv.StartPostgres(b)
	pgst := openStore(b, "knex+"+pg.URL())
	lite := openStore(b, "knex+sqlite://"+sqliteFile(b))
	my := openStore(b, "knex+"+testenv.StartMariaDB(b).URL())
	for _, st := range []*Store{pgst, lite, my} {
		sess, err := connectsid.DecodeSession(benchSID, benchRecord)
		if err != nil {
			b.Fatal(err)
		}
		if err := st.Set(ctx, sess); err != nil {
			b.Fatal(err)
		}
	}
	pool, err := pgstore.OpenURL(ctx, pg.URL())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	return []struct {
		name string
		st   *Store
		bare func(ctx context.Context) error
	}{
		{"postgres", pgst, func(ctx context.Context) error { return barePG(ctx, pool) }},
		{"sqlite", lite, func(ctx context.Context) error {
			var rec string
			now := isoDate(time.Now().UnixMilli())
			if err := lite.db.QueryRowContext(ctx, `SELECT sess FROM sessions WHERE sid = ? AND datetime(?) <= datetime(expired)`,
				benchSID, now).Scan(&rec); err != nil {
				return err
			}
			_, err := connectsid.DecodeSession(benchSID, rec)
			return err
		}},
		{"mysql", my, func(ctx context.Context) error {
			var rec string
			now := mysqlDialect.date(time.Now().UnixMilli())
			if err := my.db.QueryRowContext(ctx, "SELECT sess FROM `sessions` WHERE sid = ? AND CAST(? AS DATETIME) <= expired",
				benchSID, now).Scan(&rec); err != nil {
				return err
			}
			_, err := connectsid.DecodeSession(benchSID, rec)
			return err
		}},
	}
}

func barePG(ctx context.Context, pool *pgxpool.Pool) error {
	var rec string
	now := isoDate(time.Now().UnixMilli())
	if err := pool.QueryRow(ctx, `SELECT sess::text FROM sessions WHERE sid = $1 AND CAST($2 AS timestamp with time zone) <= expired`,
		benchSID, now).Scan(&rec); err != nil {
		return err
	}
	_, err := connectsid.DecodeSession(benchSID, rec)
	return err
}

// BenchmarkGet is a store lookup per dialect, Get against the bare query
// plus decode; compare the pairs (make bench prints the ratio).
func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	for _, s := range benchStores(b) {
		b.Run(s.name+"/knexstore", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.st.Get(ctx, benchSID); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(s.name+"/bare", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := s.bare(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRevocation measures, over 1,000 sessions in the table, the time
// from a session's deletion (what Express's logout does) to Watch's OpDel,
// at the default interval, per dialect, and reports p50 and p99. The
// deletions are spread, one every 5 ms, over five polls. One iteration is
// the whole measurement: run it with -benchtime 1x.
func BenchmarkRevocation(b *testing.B) {
	const n = 1000
	ctx := context.Background()
	for _, s := range benchStores(b) {
		b.Run(s.name, func(b *testing.B) {
			for b.Loop() {
				sids := make([]string, n)
				for i := range sids {
					sids[i] = fmt.Sprintf("revocation-%06d-abcdefghijklmnop", i)
					sess, err := connectsid.DecodeSession(sids[i], benchRecord)
					if err != nil {
						b.Fatal(err)
					}
					if err := s.st.Set(ctx, sess); err != nil {
						b.Fatal(err)
					}
				}
				var (
					mu      sync.Mutex
					deleted = make(map[string]time.Time, n)
					lat     []time.Duration
				)
				wctx, cancel := context.WithCancel(ctx)
				synced := make(chan struct{}, 1)
				done := make(chan struct{})
				go func() {
					defer close(done)
					_ = s.st.Watch(wctx, func(sid string, op connectsid.Op) {
						mu.Lock()
						defer mu.Unlock()
						if at, ok := deleted[sid]; ok && op == connectsid.OpDel {
							lat = append(lat, time.Since(at))
						}
					}, func(err error) {
						if err == nil {
							select {
							case synced <- struct{}{}:
							default:
							}
						}
					})
				}()
				<-synced
				for _, sid := range sids {
					mu.Lock()
					deleted[sid] = time.Now()
					mu.Unlock()
					if err := s.st.Destroy(ctx, sid); err != nil {
						b.Fatal(err)
					}
					time.Sleep(5 * time.Millisecond)
				}
				deadline := time.Now().Add(10 * time.Second)
				for {
					mu.Lock()
					got := len(lat)
					mu.Unlock()
					if got == n || time.Now().After(deadline) {
						break
					}
					time.Sleep(10 * time.Millisecond)
				}
				cancel()
				<-done
				if len(lat) != n {
					b.Fatalf("%d of %d deletions reported", len(lat), n)
				}
				slices.Sort(lat)
				b.ReportMetric(float64(lat[n/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[n*99/100].Microseconds())/1000, "p99-ms")
			}
		})
	}
}
