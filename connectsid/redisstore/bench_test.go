package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/redisstore"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

const benchRecord = `{"cookie":{"originalMaxAge":3600000,"expires":"2099-11-24T15:59:17.672Z","httpOnly":true,"path":"/","sameSite":"lax"},"loggedIn":true,"username":"Zoë 🚀"}`

const benchSID = "d-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR"

func benchStore(b *testing.B) *redisstore.Store {
	r := testenv.StartRedis(b)
	c := r.Client(b)
	c.Set(context.Background(), "sess:"+benchSID, benchRecord, time.Hour)
	return redisstore.New(c, redisstore.Options{})
}

// BenchmarkGet is a store lookup: one GET and the decode.
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

// BenchmarkBareGetDecode is the floor BenchmarkGet is held to: a bare
// go-redis GET of the same key, then the same decode.
func BenchmarkBareGetDecode(b *testing.B) {
	s := benchStore(b)
	c := s.Client()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		v, err := c.Get(ctx, "sess:"+benchSID).Result()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := connectsid.DecodeSession(benchSID, v); err != nil {
			b.Fatal(err)
		}
	}
}
