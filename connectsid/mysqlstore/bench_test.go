package mysqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/mysqlstore"
)

const benchRecord = `{"cookie":{"originalMaxAge":3600000,"expires":"2099-11-24T15:59:17.672Z","httpOnly":true,"path":"/","sameSite":"lax"},"loggedIn":true,"username":"Zoë 🚀"}`

const benchSID = "d-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR"

func benchStore(b *testing.B) *mysqlstore.Store {
	m, db := startTable(b)
	m.Exec(b, "INSERT INTO sessions VALUES (?, ?, ?)", benchSID, time.Now().Add(time.Hour).Unix(), benchRecord)
	s, err := mysqlstore.New(db, mysqlstore.Options{})
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
// database/sql query of express-mysql-session's get on the same pool, then
// the same decode.
func BenchmarkBareQueryDecode(b *testing.B) {
	s := benchStore(b)
	db := s.DB()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		var (
			rec     string
			expires int64
		)
		if err := db.QueryRowContext(ctx, "SELECT data AS data, expires as expires FROM sessions WHERE session_id = ?",
			benchSID).Scan(&rec, &expires); err != nil {
			b.Fatal(err)
		}
		if expires < (time.Now().UnixMilli()+500)/1000 {
			b.Fatal("expired")
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
	db := s.DB()
	ctx := context.Background()
	var get, bare time.Duration
	for b.Loop() {
		t0 := time.Now()
		if _, err := s.Get(ctx, benchSID); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		var (
			rec     string
			expires int64
		)
		if err := db.QueryRowContext(ctx, "SELECT data AS data, expires as expires FROM sessions WHERE session_id = ?",
			benchSID).Scan(&rec, &expires); err != nil {
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
