package knexstore

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/pgstore"
	"github.com/expressbridge/expressbridge/connectsid/storetest"
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

// BenchmarkRevocation measures, per dialect, the time from a session's
// deletion (what Express's logout does) to the end of its hold, over 1,000
// open sessions revalidated every second with one GetMany
// (expressbridge.New's default on this store), and reports p50 and p99.
// One iteration is the whole measurement: run it with -benchtime 1x.
func BenchmarkRevocation(b *testing.B) {
	const n = 1000
	for _, s := range benchStores(b) {
		b.Run(s.name, func(b *testing.B) {
			for b.Loop() {
				lat := storetest.PolledRevocationLatency(b, s.st, n, time.Second)
				b.ReportMetric(float64(lat[n/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[n*99/100].Microseconds())/1000, "p99-ms")
			}
		})
	}
}
