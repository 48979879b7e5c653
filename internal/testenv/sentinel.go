package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Sentinel settings for tests: a dead master is noticed after 1 s and a
// failover that stalls is retried after a few; production values are tens
// of seconds.
const (
	SentinelMasterName  = "ebmaster" // the name the sentinels monitor
	sentinelDownAfter   = 1000       // down-after-milliseconds
	sentinelFailoverTTL = 4000       // failover-timeout, milliseconds
	sentinelQuorum      = 2          // sentinels that must agree the master is down
	sentinelCount       = 3
	// sentinelReadyTimeout bounds startup (the sentinels find each other
	// and the replica through hello messages every 2 s) and each failover.
	sentinelReadyTimeout = 30 * time.Second
)

// Sentinel is a Redis Sentinel setup owned by one test: one master, one
// replica and three sentinels (quorum 2), every process on free loopback
// ports and killed at cleanup. Its methods must be called from the test's
// goroutine; URL and SentinelAddrs are safe anywhere.
type Sentinel struct {
	// Data are the two data nodes: Data[0] started as the master, Data[1]
	// as its replica. Which one is master now is Master's answer.
	Data []*Redis
	// Sentinels are the three sentinel processes.
	Sentinels []*Redis
}

// StartSentinel starts a master, its replica and three sentinels monitoring
// it as SentinelMasterName with quorum 2, and returns once the replica is
// in sync and every sentinel knows the replica and the two other sentinels
// (bounded by 30 s), so that a failover can happen at once. It fails the
// test, showing the logs, when that does not happen.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	s := &Sentinel{}
	master := StartRedis(t)
	replica := StartRedis(t, WithRedisArgs("--replicaof", "127.0.0.1", strconv.Itoa(master.port)))
	s.Data = []*Redis{master, replica}
	for i := range sentinelCount {
		conf := filepath.Join(t.TempDir(), "sentinel.conf")
		text := fmt.Sprintf("sentinel monitor %[1]s 127.0.0.1 %[2]d %[3]d\n"+
			"sentinel down-after-milliseconds %[1]s %[4]d\n"+
			"sentinel failover-timeout %[1]s %[5]d\n"+
			"sentinel parallel-syncs %[1]s 1\n",
			SentinelMasterName, master.port, sentinelQuorum, sentinelDownAfter, sentinelFailoverTTL)
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatalf("testenv: write sentinel %d config: %v", i, err)
		}
		s.Sentinels = append(s.Sentinels, StartRedis(t, func(c *redisConfig) {
			c.conf = conf
			c.args = append(c.args, "--sentinel")
		}))
	}
	s.waitReady(t, master.Addr())
	return s
}

// SentinelAddrs returns the sentinels' addresses, "127.0.0.1:PORT".
func (s *Sentinel) SentinelAddrs() []string {
	addrs := make([]string, len(s.Sentinels))
	for i, n := range s.Sentinels {
		addrs[i] = n.Addr()
	}
	return addrs
}

// URL returns the URL redisstore.OpenURL and the node-app's
// connect-redis9-sentinel flavor take:
// "redis://SENTINEL1?master_name=NAME&addr=SENTINEL2&addr=SENTINEL3".
func (s *Sentinel) URL() string {
	addrs := s.SentinelAddrs()
	u := "redis://" + addrs[0] + "?master_name=" + SentinelMasterName
	for _, a := range addrs[1:] {
		u += "&addr=" + a
	}
	return u
}

// Master returns the data node the sentinels name as master now.
func (s *Sentinel) Master(t testing.TB) *Redis {
	t.Helper()
	addr, err := s.masterAddr()
	if err != nil {
		t.Fatalf("testenv: SENTINEL get-master-addr-by-name: %v", err)
	}
	for _, d := range s.Data {
		if d.Addr() == addr {
			return d
		}
	}
	t.Fatalf("testenv: the sentinels name %s as master, not one of the data nodes", addr)
	return nil
}

// Failover asks a sentinel for a failover (SENTINEL FAILOVER: the master is
// demoted, not killed) and returns the new master once every sentinel names
// it and it answers ROLE as master (bounded by 30 s).
func (s *Sentinel) Failover(t testing.TB) *Redis {
	t.Helper()
	old := s.Master(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rc := newProbeClient(s.Sentinels[0].Addr())
	defer rc.Close()
	if err := rc.Do(ctx, "SENTINEL", "FAILOVER", SentinelMasterName).Err(); err != nil {
		t.Fatalf("testenv: SENTINEL FAILOVER: %v", err)
	}
	return s.waitNewMaster(t, old)
}

// KillMaster kills the master (SIGKILL, a crash) and returns the replica
// once the sentinels have promoted it: every sentinel names it and it
// answers ROLE as master (bounded by 30 s). The old master stays down;
// Start brings it back, and the sentinels then make it a replica.
func (s *Sentinel) KillMaster(t testing.TB) *Redis {
	t.Helper()
	old := s.Master(t)
	old.Kill(t)
	return s.waitNewMaster(t, old)
}

// waitNewMaster waits until every sentinel names another node than old and
// that node says it is a master.
func (s *Sentinel) waitNewMaster(t testing.TB, old *Redis) *Redis {
	t.Helper()
	deadline := time.Now().Add(sentinelReadyTimeout)
	for {
		why := ""
		addr, err := s.masterAddr()
		switch {
		case err != nil:
			why = err.Error()
		case addr == old.Addr():
			why = "the sentinels still name the old master"
		default:
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			rc := newProbeClient(addr)
			role, err := rc.Do(ctx, "ROLE").Slice()
			rc.Close()
			cancel()
			if err != nil || len(role) == 0 || role[0] != "master" {
				why = fmt.Sprintf("%s is not master yet (%v %v)", addr, role, err)
			}
		}
		if why == "" {
			for _, d := range s.Data {
				if d.Addr() == addr {
					return d
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: no failover within %v: %s\n%s", sentinelReadyTimeout, why, s.logTails())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// masterAddr returns the master's address when every sentinel names the
// same one.
func (s *Sentinel) masterAddr() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var addr string
	for _, sn := range s.Sentinels {
		rc := newProbeClient(sn.Addr())
		hp, err := rc.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SentinelMasterName).StringSlice()
		rc.Close()
		if err != nil || len(hp) != 2 {
			return "", fmt.Errorf("sentinel %s: %v %v", sn.Addr(), hp, err)
		}
		a := hp[0] + ":" + hp[1]
		if addr != "" && a != addr {
			return "", fmt.Errorf("the sentinels disagree: %s and %s", addr, a)
		}
		addr = a
	}
	return addr, nil
}

// waitReady returns once the replica is in sync and every sentinel sees
// the master up, the replica, and the other sentinels.
func (s *Sentinel) waitReady(t testing.TB, master string) {
	t.Helper()
	deadline := time.Now().Add(sentinelReadyTimeout)
	for {
		why := s.notReady(master)
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: Sentinel setup not ready within %v: %s\n%s", sentinelReadyTimeout, why, s.logTails())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *Sentinel) notReady(master string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rc := newProbeClient(s.Data[1].Addr())
	repl, err := rc.Info(ctx, "replication").Result()
	rc.Close()
	if err != nil || infoMap(repl)["master_link_status"] != "up" {
		return fmt.Sprintf("replica not in sync (%v)", err)
	}
	for _, sn := range s.Sentinels {
		rc := newProbeClient(sn.Addr())
		m, err := rc.Do(ctx, "SENTINEL", "MASTER", SentinelMasterName).Result()
		reps, err2 := rc.Do(ctx, "SENTINEL", "REPLICAS", SentinelMasterName).Slice()
		rc.Close()
		if err != nil || err2 != nil {
			return fmt.Sprintf("sentinel %s: %v %v", sn.Addr(), err, err2)
		}
		f := flatMap(m)
		if f["ip"]+":"+f["port"] != master || f["flags"] != "master" {
			return fmt.Sprintf("sentinel %s sees master %s:%s flags %s", sn.Addr(), f["ip"], f["port"], f["flags"])
		}
		if f["num-other-sentinels"] != strconv.Itoa(sentinelCount-1) {
			return fmt.Sprintf("sentinel %s knows %s other sentinels", sn.Addr(), f["num-other-sentinels"])
		}
		if len(reps) != 1 {
			return fmt.Sprintf("sentinel %s knows %d replicas", sn.Addr(), len(reps))
		}
		if r := flatMap(reps[0]); r["flags"] != "slave" || r["master-link-status"] != "ok" {
			return fmt.Sprintf("sentinel %s sees the replica as %s, link %s", sn.Addr(), r["flags"], r["master-link-status"])
		}
	}
	return ""
}

// flatMap turns a RESP2 reply of alternating names and values (or a RESP3
// map) into a map of strings.
func flatMap(v any) map[string]string {
	m := make(map[string]string)
	switch v := v.(type) {
	case []any:
		for i := 0; i+1 < len(v); i += 2 {
			m[fmt.Sprint(v[i])] = fmt.Sprint(v[i+1])
		}
	case map[any]any:
		for k, x := range v {
			m[fmt.Sprint(k)] = fmt.Sprint(x)
		}
	}
	return m
}

// logTails returns every process's log tail, for failure messages.
func (s *Sentinel) logTails() string {
	var b strings.Builder
	for i, n := range append(append([]*Redis(nil), s.Data...), s.Sentinels...) {
		kind := "data"
		if i >= len(s.Data) {
			kind = "sentinel"
		}
		b.WriteString("=== " + kind + " " + n.Addr() + "\n" + n.logTail() + "\n")
	}
	return b.String()
}
