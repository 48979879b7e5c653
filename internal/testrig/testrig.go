// Package testrig is the one rig tests use to stand up a real Express app
// and a gate on its store: a redis-server (testenv.StartRedis), the
// project's Express app on it (testenv.StartNodeApp), a go-redis client
// (redisstore.OpenURL), the redisstore.Store on that client, the
// connectsid.Verifier of the app's secrets and an auth.Gate on both.
//
// It knows nothing of the servers under test (bridge, socketio, engineio,
// wsconn, liveness, adapter): tests hand Rig.Gate and Rig.Store.Watch to
// them. Everything it starts stops at cleanup; like testenv, its functions
// and methods must be called from the test's own goroutine.
package testrig

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/redisstore"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// DefaultSecret is the app's one secret when Config.Secrets is empty.
const DefaultSecret = "testrig secret"

// DefaultTimeout bounds Rig.Ctx when Config.Timeout is zero: longer than
// any one test's exchanges under -race on a loaded machine, short enough
// that a hung one fails before go test's own timeout.
const DefaultTimeout = 50 * time.Second

// Config configures Start. Its zero value is a rig with one secret, the
// app's defaults and a default gate.
type Config struct {
	// Secrets are the app's secrets, the first signing, all verifying
	// ([DefaultSecret] when empty). The Verifier is made of them.
	Secrets []string
	// NoApp leaves the Express app out: Redis, the store and the gate
	// only, for tests that write records themselves. App must be zero then.
	NoApp bool
	// App configures the Express app; Start fills RedisURL and Secrets.
	App testenv.NodeAppConfig
	// Gate configures Rig.Gate; Start fills Verifier and Store when nil,
	// and CookieName with App.CookieName when empty.
	Gate auth.Config
	// Store configures Rig.Store; Start fills Prefix with App.Prefix when
	// empty, so the store reads the keys the app writes.
	Store redisstore.Options
	// Timeout bounds Rig.Ctx (DefaultTimeout when zero).
	Timeout time.Duration
	// RedisOptions are passed to testenv.StartRedis (e.g. WithRedisArgs).
	RedisOptions []testenv.RedisOption
	// RedisURL, when set, is a Redis the test started itself (a
	// testenv.RedisCluster's or Sentinel's URL, as redisstore.OpenURL
	// reads it): the rig starts none and Rig.Redis is nil. RedisOptions
	// must be empty then.
	RedisURL string
}

// Rig is one test's real parts. Every field is set by Start, App only
// without Config.NoApp and Redis only without Config.RedisURL.
type Rig struct {
	// Ctx ends at cleanup or after Config.Timeout, whichever comes first.
	Ctx      context.Context
	Redis    *testenv.Redis   // nil with Config.RedisURL
	App      *testenv.NodeApp // nil with Config.NoApp
	Client   redis.UniversalClient
	Store    *redisstore.Store
	Verifier *connectsid.Verifier
	Gate     *auth.Gate
	// Secrets are the app's secrets (Config.Secrets or [DefaultSecret]).
	Secrets []string

	t     testing.TB
	url   string             // the Redis's URL
	store redisstore.Options // Config.Store, for OpenStore
}

// Start starts Redis (unless cfg.RedisURL), then the Express app on it
// (unless cfg.NoApp), opens the store's client and builds the verifier
// and the gate. It fails the test when any part cannot start. At cleanup the client closes, then the
// app and Redis stop, then Ctx is cancelled.
func Start(t testing.TB, cfg Config) *Rig {
	t.Helper()
	switch {
	case cfg.NoApp && !reflect.ValueOf(cfg.App).IsZero():
		t.Fatal("testrig: Config.NoApp with a Config.App: set one or the other")
	case cfg.RedisURL != "" && len(cfg.RedisOptions) > 0:
		t.Fatal("testrig: Config.RedisURL with Config.RedisOptions: the rig starts no Redis to pass them to")
	}
	if len(cfg.Secrets) == 0 {
		cfg.Secrets = []string{DefaultSecret}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	t.Cleanup(cancel)
	r := &Rig{Ctx: ctx, Secrets: cfg.Secrets, t: t, url: cfg.RedisURL}
	if r.url == "" {
		r.Redis = testenv.StartRedis(t, cfg.RedisOptions...)
		r.url = r.Redis.URL()
	}
	if !cfg.NoApp {
		cfg.App.RedisURL, cfg.App.Secrets = r.url, cfg.Secrets
		r.App = testenv.StartNodeApp(t, cfg.App)
	}
	var err error
	if r.Verifier, err = connectsid.NewVerifier(cfg.Secrets...); err != nil {
		t.Fatalf("testrig: connectsid.NewVerifier: %v", err)
	}
	if cfg.Store.Prefix == "" {
		cfg.Store.Prefix = cfg.App.Prefix
	}
	r.store = cfg.Store
	r.Store, r.Client = r.OpenStore()
	if cfg.Gate.CookieName == "" {
		cfg.Gate.CookieName = cfg.App.CookieName
	}
	r.Gate = r.NewGate(cfg.Gate)
	return r
}

// OpenStore opens another client on the rig's Redis, closed at cleanup,
// and returns it with a store on it like Rig.Store (Config.Store's
// options): what another instance of a server would have.
func (r *Rig) OpenStore() (*redisstore.Store, redis.UniversalClient) {
	r.t.Helper()
	client, err := redisstore.OpenURL(r.url)
	if err != nil {
		r.t.Fatalf("testrig: redisstore.OpenURL: %v", err)
	}
	r.t.Cleanup(func() { _ = client.Close() })
	return redisstore.New(client, r.store), client
}

// NewGate returns another gate; cfg's Verifier and Store default to the
// rig's, its CookieName to the app's. It fails the test when auth.New
// refuses cfg.
func (r *Rig) NewGate(cfg auth.Config) *auth.Gate {
	r.t.Helper()
	if cfg.Verifier == nil {
		cfg.Verifier = r.Verifier
	}
	if cfg.Store == nil {
		cfg.Store = r.Store
	}
	if cfg.CookieName == "" && r.Gate != nil {
		cfg.CookieName = r.Gate.Config().CookieName
	}
	g, err := auth.New(cfg)
	if err != nil {
		r.t.Fatalf("testrig: auth.New: %v", err)
	}
	return g
}

// Login logs username in through the Express app and returns the Cookie
// header value a browser would send next ("NAME=VALUE", as
// testenv.NodeApp.Login) and what Rig.Gate makes of it. It fails the test
// unless the gate accepts the cookie, or when the rig has no app.
func (r *Rig) Login(username string) (cookie string, sess *auth.Session) {
	r.t.Helper()
	if r.App == nil {
		r.t.Fatal("testrig: Login on a rig started with NoApp")
	}
	cookie = r.App.Login(r.Ctx, r.t, username)
	sess, err := r.Gate.CheckCookie(r.Ctx, cookie)
	if err != nil {
		r.t.Fatalf("testrig: the gate refuses Express's cookie for %q: %v", username, err)
	}
	return cookie, sess
}

// Sensitive returns what no log line may hold of a Cookie header value
// from Login: the whole pair, its value as sent (percent-encoded), as
// decoded ("s:<sid>.<signature>") and the session ID. Add Secrets for the
// app's secrets.
func (r *Rig) Sensitive(cookie string) []string {
	name := r.Gate.Config().CookieName
	out := []string{cookie, strings.TrimPrefix(cookie, name+"=")}
	if raw, ok := connectsid.Lookup(cookie, name); ok {
		out = append(out, raw)
	}
	if sid, _, err := r.Verifier.FromHeader(cookie, name); err == nil {
		out = append(out, sid)
	}
	return out
}
