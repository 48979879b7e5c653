package testenv

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ping fails the test unless c answers PING.
func ping(ctx context.Context, t *testing.T, c *redis.Client, what string) {
	t.Helper()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("%s: PING: %v", what, err)
	}
}

// assertDown fails the test if something accepts connections on addr.
func assertDown(t *testing.T, addr, what string) {
	t.Helper()
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Fatalf("%s: %s still accepts connections", what, addr)
	}
}

// assertReaped registers a cleanup, run after those registered later, that
// fails the test if process pid still exists.
func assertReaped(t *testing.T, pid *int) {
	t.Cleanup(func() {
		if *pid == 0 {
			t.Error("no pid recorded")
		} else if err := syscall.Kill(*pid, 0); err != syscall.ESRCH {
			t.Errorf("process %d still exists after cleanup (kill -0: %v)", *pid, err)
		}
	})
}

func TestStartRedis(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var pid int
	assertReaped(t, &pid)
	r := StartRedis(t)
	pid = r.p.cmd.Process.Pid
	if !strings.HasPrefix(r.Addr(), "127.0.0.1:") || r.URL() != "redis://"+r.Addr() {
		t.Fatalf("Addr() = %q, URL() = %q", r.Addr(), r.URL())
	}
	c := r.Client(t)
	ping(ctx, t, c, "fresh server")
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if got, err := c.Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Fatalf("GET k = %q, %v; want v", got, err)
	}
}

func TestRedisStopStart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := StartRedis(t)
	addr := r.Addr()
	c := r.Client(t)
	ping(ctx, t, c, "fresh server")

	r.Stop(t)
	assertDown(t, addr, "after Stop")
	r.Stop(t) // no-op when stopped
	r.Start(t)
	if r.Addr() != addr {
		t.Fatalf("Addr() after restart = %s, want the same %s", r.Addr(), addr)
	}
	ping(ctx, t, c, "after Stop+Start")

	r.Kill(t)
	assertDown(t, addr, "after Kill")
	r.Start(t)
	ping(ctx, t, c, "after Kill+Start")
	ping(ctx, t, r.Client(t), "new client after Kill+Start")
}

func TestTwoRedis(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, b := StartRedis(t), StartRedis(t)
	if a.Addr() == b.Addr() {
		t.Fatalf("both servers on %s", a.Addr())
	}
	ca, cb := a.Client(t), b.Client(t)
	if err := ca.Set(ctx, "only-in-a", "1", 0).Err(); err != nil {
		t.Fatalf("SET on a: %v", err)
	}
	if n, err := cb.Exists(ctx, "only-in-a").Result(); err != nil || n != 0 {
		t.Fatalf("EXISTS on b = %d, %v; want 0 (servers must be separate)", n, err)
	}
	a.Stop(t)
	ping(ctx, t, cb, "b after a stopped")
}

func TestWithRedisArgs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := StartRedis(t, WithRedisArgs("--notify-keyspace-events", "Kx"))
	got, err := r.Client(t).ConfigGet(ctx, "notify-keyspace-events").Result()
	if err != nil {
		t.Fatalf("CONFIG GET: %v", err)
	}
	v := got["notify-keyspace-events"]
	if len(v) != 2 || !strings.Contains(v, "K") || !strings.Contains(v, "x") {
		t.Fatalf("notify-keyspace-events = %q, want K and x", v)
	}

	// Renaming CONFIG away must not break startup or restarts, and must stick.
	r2 := StartRedis(t, WithRedisArgs("--rename-command", "CONFIG", ""))
	c2 := r2.Client(t)
	for _, phase := range []string{"start", "restart"} {
		if err := c2.ConfigGet(ctx, "port").Err(); err == nil || !strings.Contains(strings.ToLower(err.Error()), "unknown command") {
			t.Fatalf("%s: CONFIG GET with CONFIG renamed away: err = %v, want unknown command", phase, err)
		}
		r2.Stop(t)
		r2.Start(t)
	}
}

func TestStartRedisFailureShowsOutput(t *testing.T) {
	msg := fatalMessage(t, func(tb testing.TB) { StartRedis(tb, WithRedisArgs("--no-such-directive", "x")) })
	if !strings.Contains(msg, "redis-server did not start") || !strings.Contains(msg, "no-such-directive") {
		t.Fatalf("failure message lacks the cause from redis-server's output:\n%s", msg)
	}
}

func TestRedisLaunchPortTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	dir := t.TempDir()
	r := &Redis{bin: redisServerPath(t), dir: dir, logPath: filepath.Join(dir, "redis.log"), port: l.Addr().(*net.TCPAddr).Port}
	if portTaken, err := r.launch(); !portTaken || err == nil {
		t.Fatalf("launch on a taken port = %v, %v; want portTaken and an error", portTaken, err)
	}

	// A port held by another redis-server is detected too.
	other := StartRedis(t)
	r.port = other.port
	if portTaken, err := r.launch(); !portTaken || err == nil {
		t.Fatalf("launch on another redis's port = %v, %v; want portTaken and an error", portTaken, err)
	}
	if r.p != nil {
		t.Fatal("a failed launch left a process attached")
	}
}
