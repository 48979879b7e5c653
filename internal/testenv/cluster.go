package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// clusterReadyTimeout bounds `redis-cli --cluster create` plus the
	// gossip that follows, until every node says cluster_state:ok.
	clusterReadyTimeout = 30 * time.Second
	// clusterNodeTimeout is cluster-node-timeout: short, so that a killed
	// node is marked failing (and a restarted one accepted) within seconds.
	clusterNodeTimeout = 2000 // milliseconds
)

// RedisCluster is a Redis Cluster of masters only (no replicas), each a
// redis-server owned by one test on free loopback ports, created with
// `redis-cli --cluster create` and killed at cleanup. Its methods must be
// called from the test's goroutine; Addrs and URL are safe anywhere while
// AddMaster is not running.
type RedisCluster struct {
	// Nodes are the masters in creation order: redis-cli gives node i the
	// i-th of equal slot ranges. Kill and Start one to simulate a crash; a
	// restarted node keeps its slots (nodes.conf) but not its data.
	Nodes []*Redis
}

// StartRedisCluster starts masters redis-server processes with
// --cluster-enabled yes (3 is the least redis-cli accepts), joins them with
// `redis-cli --cluster create … --cluster-yes` and returns once every node
// reports cluster_state:ok and knows every other (bounded by 30 s). It
// fails the test, showing the logs, when that does not happen.
func StartRedisCluster(t testing.TB, masters int) *RedisCluster {
	t.Helper()
	if masters < 3 {
		t.Fatalf("testenv: a Redis Cluster needs at least 3 masters, got %d", masters)
	}
	c := &RedisCluster{}
	for range masters {
		c.Nodes = append(c.Nodes, startClusterNode(t))
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	c.cli(t, append(args, "--cluster-replicas", "0", "--cluster-yes")...)
	c.WaitOK(t)
	return c
}

// startClusterNode starts one redis-server in cluster mode.
func startClusterNode(t testing.TB) *Redis {
	t.Helper()
	return StartRedis(t, WithRedisArgs(
		"--cluster-enabled", "yes",
		"--cluster-port", strconv.Itoa(FreePort(t)), // not port+10000, which may be taken
		"--cluster-node-timeout", strconv.Itoa(clusterNodeTimeout),
		"--cluster-require-full-coverage", "yes",
	))
}

// cli runs redis-cli with args, failing the test with its output.
func (c *RedisCluster) cli(t testing.TB, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clusterReadyTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, redisCLIPath(t), args...).CombinedOutput(); err != nil {
		t.Fatalf("testenv: redis-cli %s: %v\n%s\n%s", strings.Join(args[:2], " "), err, tailText(string(out), 30), c.logTails())
	}
}

// AddMaster starts one more node, joins it to the cluster (redis-cli
// --cluster add-node) and moves slots to it (redis-cli --cluster reshard,
// keys included), as scaling out does; it returns once the cluster is ok
// again with the new node last in Nodes.
func (c *RedisCluster) AddMaster(t testing.TB, slots int) *Redis {
	t.Helper()
	n := startClusterNode(t)
	c.cli(t, "--cluster", "add-node", n.Addr(), c.Nodes[0].Addr())
	c.Nodes = append(c.Nodes, n)
	c.waitKnown(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rc := newProbeClient(n.Addr())
	defer rc.Close()
	id, err := rc.Do(ctx, "CLUSTER", "MYID").Text()
	if err != nil {
		t.Fatalf("testenv: CLUSTER MYID: %v", err)
	}
	c.cli(t, "--cluster", "reshard", c.Nodes[0].Addr(), "--cluster-from", "all", "--cluster-to", id,
		"--cluster-slots", strconv.Itoa(slots), "--cluster-yes")
	c.WaitOK(t)
	return n
}

// waitKnown waits until every node knows all the others, before a
// reshard: redis-cli refuses to move slots while the views differ.
func (c *RedisCluster) waitKnown(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(clusterReadyTimeout)
	for {
		ok := true
		for _, n := range c.Nodes {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			info, err := clusterInfo(ctx, n.Addr())
			cancel()
			ok = ok && err == nil && info["cluster_known_nodes"] == strconv.Itoa(len(c.Nodes))
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: the new node is not known to every node within %v\n%s", clusterReadyTimeout, c.logTails())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Addrs returns the nodes' addresses, "127.0.0.1:PORT", in creation order.
func (c *RedisCluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr()
	}
	return addrs
}

// URL returns the cluster's URL in the form redisstore.OpenURL and the
// node-app's connect-redis9-cluster flavor take:
// "redis+cluster://FIRST?addr=SECOND&addr=THIRD…", every node a seed.
func (c *RedisCluster) URL() string {
	addrs := c.Addrs()
	u := "redis+cluster://" + addrs[0]
	for i, a := range addrs[1:] {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		u += sep + "addr=" + a
	}
	return u
}

// WaitOK returns once every running node reports cluster_state:ok and knows
// all the others (bounded by 30 s), e.g. after a killed node was started
// again; it fails the test otherwise.
func (c *RedisCluster) WaitOK(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(clusterReadyTimeout)
	var last string
	for {
		last = c.notOK()
		if last == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: Redis Cluster not ok within %v: %s\n%s", clusterReadyTimeout, last, c.logTails())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// notOK returns why the cluster is not ready yet, or "" when it is.
func (c *RedisCluster) notOK() string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for _, n := range c.Nodes {
		info, err := clusterInfo(ctx, n.Addr())
		if err != nil {
			return fmt.Sprintf("%s: %v", n.Addr(), err)
		}
		if info["cluster_state"] != "ok" || info["cluster_known_nodes"] != strconv.Itoa(len(c.Nodes)) ||
			info["cluster_slots_ok"] != "16384" {
			return fmt.Sprintf("%s: cluster_state:%s known_nodes:%s slots_ok:%s", n.Addr(),
				info["cluster_state"], info["cluster_known_nodes"], info["cluster_slots_ok"])
		}
	}
	return ""
}

// NodeOf returns the index in Nodes of the master serving key's hash slot.
func (c *RedisCluster) NodeOf(t testing.TB, key string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rc := newProbeClient(c.Nodes[0].Addr())
	defer rc.Close()
	slot, err := rc.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		t.Fatalf("testenv: CLUSTER KEYSLOT: %v", err)
	}
	slots, err := rc.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatalf("testenv: CLUSTER SLOTS: %v", err)
	}
	for _, s := range slots {
		if int64(s.Start) <= slot && slot <= int64(s.End) && len(s.Nodes) > 0 {
			for i, a := range c.Addrs() {
				if a == s.Nodes[0].Addr {
					return i
				}
			}
			t.Fatalf("testenv: slot %d is served by %s, not one of the cluster's nodes", slot, s.Nodes[0].Addr)
		}
	}
	t.Fatalf("testenv: no node serves slot %d", slot)
	return -1
}

// logTails returns every node's log tail, for failure messages.
func (c *RedisCluster) logTails() string {
	var b strings.Builder
	for _, n := range c.Nodes {
		b.WriteString("=== " + n.Addr() + "\n" + n.logTail() + "\n")
	}
	return b.String()
}

// clusterInfo returns one node's CLUSTER INFO as a map.
func clusterInfo(ctx context.Context, addr string) (map[string]string, error) {
	rc := newProbeClient(addr)
	defer rc.Close()
	s, err := rc.ClusterInfo(ctx).Result()
	if err != nil {
		return nil, err
	}
	return infoMap(s), nil
}

// infoMap parses "key:value" lines (INFO, CLUSTER INFO).
func infoMap(s string) map[string]string {
	m := make(map[string]string)
	for _, l := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), ":"); ok {
			m[k] = v
		}
	}
	return m
}

// newProbeClient is a one-connection client for the helpers' own checks:
// no retries, so that a dead node answers at once.
func newProbeClient(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr: addr, PoolSize: 1, MaxRetries: -1, DialTimeout: time.Second, DisableIdentity: true,
		ReadTimeout: time.Second, WriteTimeout: time.Second,
	})
}

// redisCLIPath returns the redis-cli binary. Debian's redis-server package
// depends on redis-tools, which holds it, so it is installed with it; when
// it is still missing (and the test runs as root) redis-tools is installed.
func redisCLIPath(t testing.TB) string {
	t.Helper()
	redisServerPath(t)
	if p, err := exec.LookPath("redis-cli"); err == nil {
		return p
	}
	if os.Geteuid() != 0 {
		t.Fatal("redis-cli not found: install it (apt-get install redis-tools) and run again")
	}
	if err := withFileLock(filepath.Join(os.TempDir(), "expressbridge-testenv-apt.lock"), func() error {
		if _, err := exec.LookPath("redis-cli"); err == nil {
			return nil
		}
		return aptInstall(t, "redis-tools")
	}); err != nil {
		t.Fatalf("redis-cli not found and installing it failed: %v", err)
	}
	p, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatal("redis-cli not found on PATH even after apt-get install redis-tools")
	}
	return p
}
