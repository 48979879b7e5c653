package testenv

import (
	"context"
	"net"
	"testing"
)

// ExampleSecret is the session secret StartExample gives the Express app
// and the example when NodeAppConfig.Secrets is empty.
const ExampleSecret = "example secret"

// Example is one of examples/' programs running beside the real Express
// app, for its test.
type Example struct {
	Redis *Redis   // the sessions' Redis
	App   *NodeApp // the Express app on it
	Addrs []string // each instance's host:port
}

// StartExample starts redis-server, the Express app on it (cfg with
// RedisURL set, and Secrets when empty), and instances copies of an
// example's run, each with RunServer on a listener of its own. run reads
// REDIS_URL, SESSION_SECRET and APP_ORIGIN through getenv, as the
// examples' main does from the process environment.
func StartExample(t testing.TB, cfg NodeAppConfig, instances int,
	run func(ctx context.Context, getenv func(string) string, ln net.Listener) error) *Example {
	t.Helper()
	if instances < 1 {
		t.Fatalf("testenv: StartExample: %d instances, want 1 or more", instances)
	}
	if len(cfg.Secrets) == 0 {
		cfg.Secrets = []string{ExampleSecret}
	}
	e := &Example{Redis: StartRedis(t)}
	cfg.RedisURL = e.Redis.URL()
	e.App = StartNodeApp(t, cfg)
	env := map[string]string{"REDIS_URL": e.Redis.URL(), "SESSION_SECRET": cfg.Secrets[0], "APP_ORIGIN": e.App.URL()}
	getenv := func(k string) string { return env[k] }
	for range instances {
		e.Addrs = append(e.Addrs, RunServer(t, func(ctx context.Context, ln net.Listener) error {
			return run(ctx, getenv, ln)
		}))
	}
	return e
}
