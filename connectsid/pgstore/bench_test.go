package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/pgstore"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

const benchRecord = `{"cookie":{"originalMaxAge":3600000,"expires":"2099-11-24T15:59:17.672Z","httpOnly":true,"path":"/","sameSite":"lax"},"loggedIn":true,"username":"Zoë 🚀"}`

const benchSID = "d-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR"

func benchStore(b *testing.B) *pgstore.Store {
	pg := testenv.StartPostgres(b)
	pg.Exec(b, `CREATE TABLE session (sid varchar NOT NULL PRIMARY KEY, sess json NOT NULL, expire timestamp(6) NOT NULL)`)
	pg.Exec(b, `INSERT INTO session VALUES ($1, $2, now() + interval '1 hour')`, benchSID, benchRecord)
	s, err := pgstore.New(pg.Pool(b), pgstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkGet is a store lookup: one query and the decode.
func BenchmarkGet(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Get(ctx, benchSID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBareQueryDecode is the floor BenchmarkGet is held to: a bare
// pgx query of connect-pg-simple's get on the same pool, then the same
// decode.
func BenchmarkBareQueryDecode(b *testing.B) {
	s := benchStore(b)
	pool := s.Pool()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		var rec string
		now := float64((time.Now().UnixMilli() + 999) / 1000)
		if err := pool.QueryRow(ctx, `SELECT sess FROM session WHERE sid = $1 AND expire >= to_timestamp($2)`,
			benchSID, now).Scan(&rec); err != nil {
			b.Fatal(err)
		}
		if _, err := connectsid.DecodeSession(benchSID, rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBareQueryDecodeTimeout is the same bare query bounded as every
// store call is, by a context with a timeout (pgx then watches the context
// on every query): the floor of a bounded call.
func BenchmarkBareQueryDecodeTimeout(b *testing.B) {
	s := benchStore(b)
	pool := s.Pool()
	b.ReportAllocs()
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), pgstore.DefaultTimeout)
		var rec string
		now := float64((time.Now().UnixMilli() + 999) / 1000)
		err := pool.QueryRow(ctx, `SELECT sess FROM session WHERE sid = $1 AND expire >= to_timestamp($2)`,
			benchSID, now).Scan(&rec)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := connectsid.DecodeSession(benchSID, rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetOverBare alternates one Get and one bare query + decode on
// the same pool, so that a shared machine's drift hits both alike, and
// reports each one's mean and Get's cost over the bare floor in percent.
func BenchmarkGetOverBare(b *testing.B) {
	s := benchStore(b)
	pool := s.Pool()
	ctx := context.Background()
	var get, bare time.Duration
	for b.Loop() {
		t0 := time.Now()
		if _, err := s.Get(ctx, benchSID); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		var rec string
		now := float64((t1.UnixMilli() + 999) / 1000)
		if err := pool.QueryRow(ctx, `SELECT sess FROM session WHERE sid = $1 AND expire >= to_timestamp($2)`,
			benchSID, now).Scan(&rec); err != nil {
			b.Fatal(err)
		}
		if _, err := connectsid.DecodeSession(benchSID, rec); err != nil {
			b.Fatal(err)
		}
		get, bare = get+t1.Sub(t0), bare+time.Since(t1)
	}
	b.ReportMetric(float64(get.Nanoseconds())/float64(b.N), "ns/get")
	b.ReportMetric(float64(bare.Nanoseconds())/float64(b.N), "ns/bare")
	b.ReportMetric(100*(float64(get)/float64(bare)-1), "%over")
}

// BenchmarkGetMany100 revalidates 100 open sessions in one query, as a
// polling bridge does each second.
func BenchmarkGetMany100(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	sids := make([]string, 100)
	for i := range sids {
		sids[i] = benchSID
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.GetMany(ctx, sids, func(string, *connectsid.Session, error) {}); err != nil {
			b.Fatal(err)
		}
	}
}
