package redisstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/expressbridge/expressbridge/connectsid/redisstore"
	"github.com/expressbridge/expressbridge/connectsid/storetest"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// TestConformance runs the contract every store passes against
// redis-server and connect-redis.
func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		Flavors: []storetest.Flavor{
			{Name: "express4+connect-redis9", App: testenv.NodeAppConfig{ExpressFlavor: "4", StoreFlavor: "connect-redis9"}},
			{Name: "express4+connect-redis8+ioredis", App: testenv.NodeAppConfig{ExpressFlavor: "4", StoreFlavor: "connect-redis8-ioredis"}},
			{Name: "express5+connect-redis9", App: testenv.NodeAppConfig{ExpressFlavor: "5", StoreFlavor: "connect-redis9"}},
		},
		Start:   startRedisBackend,
		Timeout: redisstore.DefaultTimeout,
	})
}

func startRedisBackend(t *testing.T, opts storetest.Options) *storetest.Backend {
	r := testenv.StartRedis(t)
	client, err := redisstore.OpenURL(r.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	store := redisstore.New(client, redisstore.Options{TTL: opts.TTL})
	admin := r.Client(t)
	ctx := context.Background()
	return &storetest.Backend{
		Store: store,
		App: func(cfg testenv.NodeAppConfig) testenv.NodeAppConfig {
			cfg.RedisURL, cfg.Prefix = r.URL(), store.Prefix()
			return cfg
		},
		Record: func(t testing.TB, sid string) (string, bool) {
			rec, err := admin.Get(ctx, store.Key(sid)).Result()
			if errors.Is(err, redis.Nil) {
				return "", false
			} else if err != nil {
				t.Fatal(err)
			}
			return rec, true
		},
		Keep: func(t testing.TB, sid string, d time.Duration) {
			if d <= 0 {
				d = -time.Second // EXPIRE of a negative time deletes the key
			}
			if err := admin.Expire(ctx, store.Key(sid), d).Err(); err != nil {
				t.Fatal(err)
			}
		},
		Expire: func(t testing.TB, sid string) {
			if err := admin.PExpire(ctx, store.Key(sid), time.Millisecond).Err(); err != nil {
				t.Fatal(err)
			}
		},
		EnableWatch: func(testing.TB) {}, // Watch switches keyspace notifications on itself
		Kill:        r.Kill,
		Restart:     r.Start,
	}
}
