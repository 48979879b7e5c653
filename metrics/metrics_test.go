package metrics_test

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/expressbridge/expressbridge/internal/testenv"
	"github.com/expressbridge/expressbridge/metrics"
)

// TestRedisHook times a real Redis's commands: a missing key is an answer
// (ok), a dead server an error, and a PUBLISH (a broadcast sharing the
// store's client) is no store request at all.
func TestRedisHook(t *testing.T) {
	r := testenv.StartRedis(t)
	m := metrics.New()
	c := redis.NewClient(&redis.Options{Addr: r.Addr(), MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	c.AddHook(m.RedisHook())
	ctx := context.Background()
	if err := c.Get(ctx, "sess:missing").Err(); err != redis.Nil {
		t.Fatalf("GET: %v", err)
	}
	c.Publish(ctx, "broadcasts", "hi")
	c.PubSubNumSub(ctx, "broadcasts")
	r.Kill(t)
	c.Get(ctx, "sess:any")

	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var got []string
	for line := range strings.SplitSeq(string(body), "\n") {
		if strings.HasPrefix(line, "expressbridge_store_request_duration_seconds_count") {
			got = append(got, line)
		}
	}
	want := []string{
		`expressbridge_store_request_duration_seconds_count{op="get",result="error"} 1`,
		`expressbridge_store_request_duration_seconds_count{op="get",result="ok"} 1`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("store requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
