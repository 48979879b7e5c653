package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/redisstore"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// TestScan walks one node and a three-master Cluster: every matching key
// once the walk is complete, an early stop, a bound on the calls, and a
// node that is down.
func TestScan(t *testing.T) {
	t.Parallel()
	single := testenv.StartRedis(t)
	cluster := testenv.StartRedisCluster(t, 3)
	for _, tt := range []struct {
		name string
		url  string
	}{
		{"one node", single.URL()},
		{"cluster", cluster.URL()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store := openStore(t, tt.url)
			ctx := context.Background()
			var want []string
			for i := range 300 {
				key := fmt.Sprintf("scan:%03d", i)
				if err := store.Client().Set(ctx, key, "x", 0).Err(); err != nil {
					t.Fatal(err)
				}
				want = append(want, key)
			}
			if err := store.Client().Set(ctx, "other:1", "x", 0).Err(); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name         string
				opts         redisstore.ScanOptions
				stopAt       int // fn returns false once it has seen this many keys; 0: never
				wantAll      bool
				wantComplete bool
			}{
				{"every key", redisstore.ScanOptions{Match: "scan:*"}, 0, true, true},
				{"large count", redisstore.ScanOptions{Match: "scan:*", Count: 1000}, 0, true, true},
				{"stopped by fn", redisstore.ScanOptions{Match: "scan:*", Count: 10}, 5, false, false},
				{"bounded calls", redisstore.ScanOptions{Match: "scan:*", Count: 10, MaxCalls: 1}, 0, false, false},
			} {
				var got []string
				calls := 0
				complete, err := store.Scan(ctx, c.opts, func(keys []string) bool {
					calls++
					got = append(got, keys...)
					return c.stopAt == 0 || len(got) < c.stopAt
				})
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				if complete != c.wantComplete {
					t.Errorf("%s: complete = %v, want %v", c.name, complete, c.wantComplete)
				}
				slices.Sort(got)
				got = slices.Compact(got) // SCAN may hand a key twice
				for _, k := range got {
					if !strings.HasPrefix(k, "scan:") {
						t.Errorf("%s: key %q does not match", c.name, k)
					}
				}
				if c.wantAll && !slices.Equal(got, want) {
					t.Errorf("%s: %d keys, want all %d", c.name, len(got), len(want))
				}
				if !c.wantAll && (len(got) == 0 || len(got) >= len(want)) {
					t.Errorf("%s: %d keys in %d calls, want some but not all", c.name, len(got), calls)
				}
			}
			// IDs, which walks the same way.
			ids, err := redisstore.New(store.Client(), redisstore.Options{Prefix: "scan:"}).IDs(ctx, 0)
			if err != nil || len(ids) != len(want) {
				t.Errorf("IDs: %d ids, %v; want %d", len(ids), err, len(want))
			}
		})
	}
	t.Run("down", func(t *testing.T) {
		t.Parallel()
		r := testenv.StartRedis(t)
		store := openStore(t, r.URL())
		r.Kill(t)
		_, err := store.Scan(context.Background(), redisstore.ScanOptions{}, func([]string) bool { return true })
		if !errors.Is(err, connectsid.ErrStoreUnavailable) {
			t.Errorf("Scan on a dead Redis = %v, want ErrStoreUnavailable", err)
		}
	})
}
