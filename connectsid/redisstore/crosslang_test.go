package redisstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/redisstore"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

const secret = "cross-language secret ✓"

type rig struct {
	redis *testenv.Redis
	app   *testenv.NodeApp
	store *redisstore.Store
	ver   *connectsid.Verifier
}

func newRig(t *testing.T, cfg testenv.NodeAppConfig, opts redisstore.Options) *rig {
	t.Helper()
	r := testenv.StartRedis(t)
	cfg.RedisURL, cfg.Secrets = r.URL(), []string{secret}
	app := testenv.StartNodeApp(t, cfg)
	ver, err := connectsid.NewVerifier(secret)
	if err != nil {
		t.Fatal(err)
	}
	opts.Prefix = cfg.Prefix
	return &rig{redis: r, app: app, store: redisstore.New(r.Client(t), opts), ver: ver}
}

// login logs in through Express and returns the cookie and the sid Go reads
// from it.
func (g *rig) login(t *testing.T, user string) (cookie, sid string) {
	t.Helper()
	cookie = g.app.Login(context.Background(), t, user)
	sid, _, err := g.ver.FromHeader(cookie, "connect.sid")
	if err != nil {
		t.Fatalf("Go cannot read the cookie Express set (%s): %v", connectsid.ErrorCode(err), err)
	}
	return cookie, sid
}

func TestCustomPrefixAndDisableTTL(t *testing.T) {
	g := newRig(t, testenv.NodeAppConfig{Prefix: "myapp:s*", DisableTTL: true}, redisstore.Options{DisableTTL: true})
	ctx := context.Background()
	cookie, sid := g.login(t, "Zoë")
	if n, _ := g.redis.Client(t).Exists(ctx, "myapp:s*"+sid).Result(); n != 1 {
		t.Fatal("Express did not store under the custom prefix")
	}
	sess, err := g.store.Get(ctx, sid)
	if err != nil {
		t.Fatal(err)
	}
	if ttl, _ := g.store.TTL(ctx, sid); ttl != -1 {
		t.Errorf("disableTTL: Express stored with TTL %v", ttl)
	}
	sess.Set("visits", 1)
	if err := g.store.Set(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if ttl, _ := g.store.TTL(ctx, sid); ttl != -1 {
		t.Errorf("disableTTL: Go stored with TTL %v", ttl)
	}
	if err := g.store.Touch(ctx, sess); err != nil {
		t.Errorf("Touch with disableTTL must do nothing, got %v", err)
	}
	if !g.app.WhoAmI(ctx, t, cookie).LoggedIn {
		t.Error("Express refuses the session Go saved")
	}
	// SCAN must treat the prefix's "*" literally.
	g.redis.Client(t).Set(ctx, "myapp:sX-not-a-session", "x", 0)
	ids, err := g.store.IDs(ctx, 0)
	if err != nil || len(ids) != 1 || ids[0] != sid {
		t.Errorf("IDs = %v, %v; want [%s]", ids, err, connectsid.Redact(sid))
	}
}

func TestBadRecords(t *testing.T) {
	r := testenv.StartRedis(t)
	c := r.Client(t)
	store := redisstore.New(c, redisstore.Options{})
	ctx := context.Background()
	const sid = "bad-record-sid-0123456789abcdef"
	tests := []struct {
		name, record string
		want         error
	}{
		{"not JSON", "{not json", connectsid.ErrMalformedSession},
		{"not an object", "[1,2,3]", connectsid.ErrMalformedSession},
		{"cookie of the wrong type", `{"cookie":[],"loggedIn":true}`, connectsid.ErrMalformedSession},
		{"1 MB", `{"cookie":{},"x":"` + strings.Repeat("x", 1<<20) + `"}`, connectsid.ErrMalformedSession},
		{"empty", "", connectsid.ErrNoSession},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.Set(ctx, "sess:"+sid, tt.record, time.Minute)
			_, err := store.Get(ctx, sid)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Get = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), connectsid.Redact(sid)) || strings.Contains(err.Error(), sid) {
				t.Fatalf("error %q must name the sid, redacted", err)
			}
		})
	}
}

// A Redis that accepts connections but never answers (stopped, or a
// network black hole) must not hold a caller longer than the timeout.
func TestContextBoundsEveryCall(t *testing.T) {
	r := testenv.StartRedis(t)
	client, _ := redisstore.OpenURL(r.URL())
	t.Cleanup(func() { client.Close() })
	store := redisstore.New(client, redisstore.Options{Timeout: 300 * time.Millisecond})
	// CLIENT PAUSE stalls every command of other clients.
	r.Client(t).Do(context.Background(), "CLIENT", "PAUSE", "3000", "ALL")
	start := time.Now()
	_, err := store.Get(context.Background(), "x")
	if !errors.Is(err, connectsid.ErrStoreUnavailable) || time.Since(start) > time.Second {
		t.Fatalf("Get on a stalled Redis = %v after %v", err, time.Since(start))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := store.Get(ctx, "x"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with a canceled context = %v", err)
	}
}
