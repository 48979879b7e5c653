package testenv

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestStartRedisCluster: three masters answer as one cluster; a key lives
// on the node NodeOf names; a killed node comes back with its slots.
func TestStartRedisCluster(t *testing.T) {
	start := time.Now()
	c := StartRedisCluster(t, 3)
	t.Logf("3-master cluster ready in %v at %s", time.Since(start), c.URL())
	if !strings.HasPrefix(c.URL(), "redis+cluster://127.0.0.1:") || strings.Count(c.URL(), "addr=") != 2 {
		t.Fatalf("URL %q", c.URL())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	defer cc.Close()
	seen := map[int]bool{}
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"} {
		if err := cc.Set(ctx, k, "v", 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
		i := c.NodeOf(t, k)
		seen[i] = true
		n, err := c.Nodes[i].Client(t).Exists(ctx, k).Result()
		if err != nil || n != 1 {
			t.Fatalf("key %s is not on node %d: %d %v", k, i, n, err)
		}
	}
	if len(seen) != 3 {
		t.Fatalf("10 keys on %d nodes", len(seen))
	}
	c.Nodes[1].Kill(t)
	c.Nodes[1].Start(t)
	c.WaitOK(t)
}

// TestStartSentinel: the URL reaches the master through the sentinels,
// writes reach the replica, and both failover helpers move the master.
func TestStartSentinel(t *testing.T) {
	start := time.Now()
	s := StartSentinel(t)
	t.Logf("sentinel setup ready in %v at %s", time.Since(start), s.URL())
	if m := s.Master(t); m != s.Data[0] {
		t.Fatalf("master is %s, want %s", m.Addr(), s.Data[0].Addr())
	}
	o, err := redis.ParseFailoverURL(s.URL())
	if err != nil || len(o.SentinelAddrs) != 3 || o.MasterName != SentinelMasterName {
		t.Fatalf("ParseFailoverURL(%q): %+v %v", s.URL(), o, err)
	}
	start = time.Now()
	if m := s.Failover(t); m != s.Data[1] {
		t.Fatalf("after SENTINEL FAILOVER master is %s", m.Addr())
	}
	t.Logf("SENTINEL FAILOVER took %v", time.Since(start))
	start = time.Now()
	if m := s.KillMaster(t); m != s.Data[0] {
		t.Fatalf("after killing the master, master is %s", m.Addr())
	}
	t.Logf("kill → promotion took %v", time.Since(start))
}
