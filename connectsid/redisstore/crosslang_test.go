package redisstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/redisstore"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

const secret = "cross-language secret ✓"

// flavors are the Express configurations whose records Go must read and
// write alike.
var flavors = []struct{ name, express, store string }{
	{"express4+connect-redis9", "4", "connect-redis9"},
	{"express4+connect-redis8+ioredis", "4", "connect-redis8-ioredis"},
	{"express5+connect-redis9", "5", "connect-redis9"},
}

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

func decodeJSON(t *testing.T, data []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %.200s: %v", data, err)
	}
	return v
}

func TestCrossLanguage(t *testing.T) {
	forms := map[string]string{}
	for _, fl := range flavors {
		t.Run(fl.name, func(t *testing.T) {
			g := newRig(t, testenv.NodeAppConfig{ExpressFlavor: fl.express, StoreFlavor: fl.store}, redisstore.Options{})
			ctx := context.Background()
			cookie, sid := g.login(t, "Zoë 🚀")

			// The record's form, expiry aside, must be the same in every flavor.
			raw, err := g.redis.Client(t).Get(ctx, "sess:"+sid).Result()
			if err != nil {
				t.Fatal(err)
			}
			// Values that depend on the clock: expires, and originalMaxAge, which
			// express-session computes as expires - Date.now() (3599999 at times).
			raw = regexp.MustCompile(`"expires":"[^"]*"`).ReplaceAllString(raw, `"expires":"…"`)
			forms[fl.name] = regexp.MustCompile(`"originalMaxAge":\d+`).ReplaceAllString(raw, `"originalMaxAge":N`)

			// Express writes every kind of value; Go reads each exactly.
			status, body := g.app.PostJSON(ctx, t, "/test/fixture", cookie, map[string]any{})
			if status != 200 {
				t.Fatalf("/test/fixture: %d %s", status, body)
			}
			want := decodeJSON(t, body).(map[string]any)
			sess, err := g.store.Get(ctx, sid)
			if err != nil {
				t.Fatal(err)
			}
			for key, w := range want {
				if key == "cookie" {
					continue
				}
				got, ok := sess.Raw(key)
				if !ok {
					t.Errorf("field %q missing in Go", key)
					continue
				}
				if g := decodeJSON(t, got); !reflect.DeepEqual(g, w) {
					t.Errorf("field %q: Go read %.100v, Express stored %.100v", key, g, w)
				}
			}
			if len(sess.Keys()) != len(want)-1 {
				t.Errorf("Go sees fields %v, Express stored %d", sess.Keys(), len(want)-1)
			}
			if user, _ := sess.String("username"); user != "Zoë 🚀" {
				t.Errorf("username = %q", user)
			}
			stored, _ := g.redis.Client(t).Get(ctx, "sess:"+sid).Result()
			if string(sess.Encode()) != stored {
				t.Error("Go's encoding of an unchanged record differs from what Express stored")
			}

			// Go changes a field and saves; Express sees it, the rest intact.
			if err := sess.Set("visits", 42); err != nil {
				t.Fatal(err)
			}
			if err := sess.Set("username", "Ada"); err != nil {
				t.Fatal(err)
			}
			before := time.Now()
			if err := g.store.Set(ctx, sess); err != nil {
				t.Fatal(err)
			}
			ttl, _ := g.store.TTL(ctx, sid)
			after := time.Now()
			// connect-redis's EX is ceil((expires - now)/1s), now being some
			// time in [before, after], and the TTL is read later still: so
			// it lies in [expires-after, expires-before+1s), give or take
			// the milliseconds the clocks truncate to.
			expires := *sess.Cookie().Expires
			const slack = 10 * time.Millisecond
			if lo, hi := expires.Sub(after)-slack, expires.Sub(before)+time.Second+slack; ttl < lo || ttl > hi {
				t.Errorf("TTL after Go's Set = %v, connect-redis would set one in [%v, %v]", ttl, lo, hi)
			} else {
				t.Logf("TTL after Go's Set = %v, in [%v, %v] (Set and TTL took %v)", ttl, lo, hi, after.Sub(before))
			}
			who := g.app.WhoAmI(ctx, t, cookie)
			if !who.LoggedIn || who.Username == nil || *who.Username != "Ada" {
				t.Fatalf("Express after Go's Set: %+v", who)
			}
			var seen map[string]any
			json.Unmarshal(who.Session, &seen)
			if seen["visits"] != float64(42) || seen["profile"] == nil || len(seen["big"].(string)) != 100000 {
				t.Errorf("Express does not see Go's change or lost a field: visits=%v", seen["visits"])
			}
			// Express touched the session on that request; its record must
			// still decode in Go.
			if _, err := g.store.Get(ctx, sid); err != nil {
				t.Fatalf("Get after Express's touch: %v", err)
			}

			// Go touches; the TTL is renewed and Express still accepts.
			g.redis.Client(t).Expire(ctx, "sess:"+sid, 100*time.Second)
			if err := g.store.Touch(ctx, sess); err != nil {
				t.Fatal(err)
			}
			if ttl, _ := g.store.TTL(ctx, sid); ttl < 3599*time.Second || ttl > 3600*time.Second {
				t.Errorf("TTL after Touch = %v, want the cookie's maxAge (3600 s)", ttl)
			}
			if !g.app.WhoAmI(ctx, t, cookie).LoggedIn {
				t.Error("Express refuses the session after Go's touch")
			}

			// Go destroys; Express treats the user as logged out.
			if err := g.store.Destroy(ctx, sid); err != nil {
				t.Fatal(err)
			}
			if g.app.WhoAmI(ctx, t, cookie).LoggedIn {
				t.Error("Express still logged in after Go's Destroy")
			}
			if err := g.store.Touch(ctx, sess); !errors.Is(err, connectsid.ErrNoSession) {
				t.Errorf("Touch of a destroyed session = %v, want ErrNoSession", err)
			}

			// Express logs out; Go gets ErrNoSession.
			cookie, sid = g.login(t, "Bob")
			if _, err := g.store.Get(ctx, sid); err != nil {
				t.Fatal(err)
			}
			g.app.Logout(ctx, t, cookie)
			if _, err := g.store.Get(ctx, sid); !errors.Is(err, connectsid.ErrNoSession) {
				t.Errorf("Get after Express's logout = %v, want ErrNoSession", err)
			}
		})
	}
	var first string
	for name, form := range forms {
		if first == "" {
			first = form
		} else if form != first {
			t.Errorf("record form of %s differs:\n%s\n%s", name, form, first)
		}
	}
	t.Logf("record form in every flavor: %s", first)
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

func TestBrowserSessionCookie(t *testing.T) {
	g := newRig(t, testenv.NodeAppConfig{BrowserSessionCookie: true, TTL: 600}, redisstore.Options{TTL: 600 * time.Second})
	ctx := context.Background()
	cookie, sid := g.login(t, "Zoë")
	sess, err := g.store.Get(ctx, sid)
	if err != nil {
		t.Fatal(err)
	}
	if c := sess.Cookie(); c.Expires != nil || c.OriginalMaxAge != nil {
		t.Fatalf("browser-session cookie read as %+v", c)
	}
	if ttl, _ := g.store.TTL(ctx, sid); math.Abs(ttl.Seconds()-600) > 1 {
		t.Fatalf("Express's TTL = %v, want the store ttl 600 s", ttl)
	}
	sess.Set("n", 1)
	if err := g.store.Set(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if ttl, _ := g.store.TTL(ctx, sid); math.Abs(ttl.Seconds()-600) > 1 {
		t.Fatalf("Go's TTL = %v, want 600 s", ttl)
	}
	if !g.app.WhoAmI(ctx, t, cookie).LoggedIn {
		t.Error("Express refuses the session Go saved")
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
	// Express accepts records whose cookie.expires has passed while the key
	// lives; so does the store, leaving that to the gate.
	c.Set(ctx, "sess:"+sid, `{"cookie":{"originalMaxAge":1000,"expires":"2000-01-01T00:00:00.000Z"},"loggedIn":true}`, time.Minute)
	sess, err := store.Get(ctx, sid)
	if err != nil {
		t.Fatalf("Get of a record past cookie.expires: %v", err)
	}
	// A record whose expiry has passed is deleted on Set, as connect-redis does.
	if err := store.Set(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.Exists(ctx, "sess:"+sid).Result(); n != 0 {
		t.Fatal("Set of an expired session must delete it")
	}
}

func TestRedisDownAndBack(t *testing.T) {
	r := testenv.StartRedis(t)
	client, err := redisstore.OpenURL(r.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	store := redisstore.New(client, redisstore.Options{})
	ctx := context.Background()
	if _, err := store.Get(ctx, "x"); !errors.Is(err, connectsid.ErrNoSession) {
		t.Fatalf("Get = %v", err)
	}
	r.Kill(t)
	for _, call := range []func() error{
		func() error { _, err := store.Get(ctx, "x"); return err },
		func() error { return store.Destroy(ctx, "x") },
		func() error { return store.Ping(ctx) },
	} {
		start := time.Now()
		err := call()
		if !errors.Is(err, connectsid.ErrStoreUnavailable) {
			t.Fatalf("with Redis down: %v, want ErrStoreUnavailable", err)
		}
		if d := time.Since(start); d > redisstore.DefaultTimeout+500*time.Millisecond {
			t.Fatalf("a dead Redis held the caller for %v", d)
		}
	}
	r.Start(t)
	if _, err := store.Get(ctx, "x"); !errors.Is(err, connectsid.ErrNoSession) {
		t.Fatalf("first call after Redis came back: %v", err)
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
