package diagnose_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/auth/diagnose"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/redisstore"
	"github.com/expressbridge/expressbridge/connectsid/storeurl"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// The tests diagnose cookies that the real Express app (node-app) set,
// against the real store it keeps them in.

const secret = "diagnose test secret"

// setup opens the store at url with opts and a gate on it as serve builds
// one, with the secrets and gate options given.
func setup(t *testing.T, url string, opts storeurl.Options, secrets []string, gc auth.Config) diagnose.Config {
	t.Helper()
	st, err := storeurl.Open(context.Background(), url, opts)
	if err != nil {
		t.Fatalf("storeurl.Open: %v", err)
	}
	t.Cleanup(st.Close)
	v, err := connectsid.NewVerifier(secrets...)
	if err != nil {
		t.Fatal(err)
	}
	gc.Verifier = v
	if st.PG != nil {
		gc.Store = st.PG
	} else {
		gc.Store = st.Redis
	}
	g, err := auth.New(gc)
	if err != nil {
		t.Fatal(err)
	}
	return diagnose.Config{Gate: g, Store: st, SecretSource: "the test's secrets"}
}

func login(t *testing.T, app *testenv.NodeApp, user string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return app.Login(ctx, t, user)
}

// want is what a report must show.
type want struct {
	steps    string // the findings' steps, space-separated
	code     string // the last finding's code
	message  string // in the last finding's message
	detail   string // in one of its details (general words)
	hint     string // in its hint (general words)
	settings string // the settings its hint names, space-separated
}

func check(t *testing.T, r *diagnose.Report, w want, secrets ...string) {
	t.Helper()
	var steps []string
	for _, f := range r.Findings {
		steps = append(steps, f.Step)
	}
	last := r.Findings[len(r.Findings)-1]
	var details []string
	for _, d := range last.Details {
		details = append(details, d.String())
	}
	var settings []string
	for _, s := range last.Hint.Settings() {
		settings = append(settings, string(s))
	}
	all := strings.Join(steps, " ")
	switch {
	case all != w.steps:
		t.Errorf("steps %q, want %q", all, w.steps)
	case last.Code != w.code || r.Code() != w.code || r.Accepted() != (w.code == ""):
		t.Errorf("code %q (accepted %v), want %q", last.Code, r.Accepted(), w.code)
	case !strings.Contains(last.Message, w.message):
		t.Errorf("message %q, want it to hold %q", last.Message, w.message)
	case !strings.Contains(strings.Join(details, "\n"), w.detail):
		t.Errorf("details %q, want one holding %q", details, w.detail)
	case !strings.Contains(last.Hint.String(), w.hint):
		t.Errorf("hint %q, want it to hold %q", last.Hint, w.hint)
	case strings.Join(settings, " ") != w.settings:
		t.Errorf("hint %q names %v, want %q", last.Hint, settings, w.settings)
	}
	for _, f := range r.Findings {
		text := f.Message + f.Hint.String() + f.SID
		for _, d := range f.Details {
			text += d.String()
		}
		for _, s := range secrets {
			if s != "" && strings.Contains(text, s) {
				t.Errorf("finding %+v shows %q", f, s)
			}
		}
	}
}

const (
	toAccepted = "cookie signature store record login user accepted"
	toLogin    = "cookie signature store record login"
	toStore    = "cookie signature store"
)

// TestRedis diagnoses one cookie of each kind on Redis.
func TestRedis(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	app := testenv.StartNodeApp(t, testenv.NodeAppConfig{RedisURL: r.URL(), Secrets: []string{secret}})
	alice := login(t, app, "alice")
	value := strings.TrimPrefix(alice, "connect.sid=")
	sid, _, err := mustVerifier(t, secret).FromHeader(alice, "connect.sid")
	if err != nil {
		t.Fatal(err)
	}
	gone := login(t, app, "bob")
	ctx := context.Background()
	app.Logout(ctx, t, gone)
	down := testenv.StartRedis(t)
	down.Kill(t)

	for _, tt := range []struct {
		name    string
		url     string
		opts    storeurl.Options
		secrets []string
		gate    auth.Config
		value   bool // the input is a cookie value, not a header
		input   string
		want    want
	}{
		{name: "accepted", input: "theme=dark; " + alice, want: want{steps: toAccepted, message: "accepted as alice"}},
		{name: "value alone", value: true, input: value, want: want{steps: toAccepted, message: "accepted as alice"}},
		{name: "no cookie", input: "", want: want{steps: "cookie", code: connectsid.CodeNoCookie,
			message: "the header holds no cookie", hint: "pass the Cookie header"}},
		{name: "another cookie name", input: "theme=dark; app.sid=" + value, want: want{steps: "cookie", code: connectsid.CodeNoCookie,
			detail: "names present: app.sid, theme", hint: "app.sid looks like a signed session (s%3A…): set the cookie name to app.sid",
			settings: "cookie-name"}},
		{name: "two cookies of the name", input: alice + "; connect.sid=x", want: want{steps: toAccepted}},
		{name: "not signed", value: true, input: sid, want: want{steps: "cookie signature", code: connectsid.CodeNotSigned,
			hint: "not the bare session ID"}},
		{name: "cut short", input: cutChars(alice, 5), want: want{steps: "cookie signature", code: connectsid.CodeBadSignature,
			message: "the signature is 38 characters long, not 43"}},
		{name: "wrong secret", secrets: []string{"not the app's"}, input: alice, want: want{steps: "cookie signature",
			code: connectsid.CodeBadSignature, message: "(1 secret tried, from the test's secrets)",
			detail: "exists under \"sess:\": the app signed this cookie", hint: "check that the secrets are exactly", settings: "secrets"}},
		{name: "rotation", secrets: []string{"newer", secret}, input: alice, want: want{steps: toAccepted}},
		{name: "wrong prefix", opts: storeurl.Options{Prefix: "myapp:"}, input: alice, want: want{steps: toStore,
			code: connectsid.CodeNoSession, message: `under prefix "myapp:" at ` + r.URL(), detail: `found it under "sess:" (TTL `,
			hint: "set the key prefix to sess:", settings: "prefix"}},
		{name: "logged out", input: gone, want: want{steps: toStore, code: connectsid.CodeNoSession,
			detail: "no other key of this Redis database ends with the session ID", hint: "the user logged out",
			settings: "prefix store-url"}},
		{name: "another login field", gate: auth.Config{LoginField: "isAuthenticated"}, input: alice, want: want{steps: toLogin,
			code: auth.CodeNotLoggedIn, message: "the record has no field isAuthenticated",
			detail: "fields present: loggedIn (a boolean), username (a string); showing values shows the values",
			hint:   "loggedIn is true: if it marks the login, set the login field to loggedIn", settings: "login-field"}},
		{name: "no user field", gate: auth.Config{UserField: "email"}, input: alice, want: want{steps: toAccepted,
			message: "accepted, with an empty user name"}},
		{name: "store down", url: down.URL(), input: alice, want: want{steps: toStore, code: connectsid.CodeStoreUnavailable,
			message: "cannot reach redis at " + down.URL(), hint: "is redis-server running? check the store's address",
			settings: "store-url"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url, secrets := tt.url, tt.secrets
			if url == "" {
				url = r.URL()
			}
			if secrets == nil {
				secrets = []string{secret}
			}
			cfg := setup(t, url, tt.opts, secrets, tt.gate)
			diagnosis := diagnose.Cookie
			if tt.value {
				diagnosis = diagnose.Value
			}
			rep, err := diagnosis(ctx, cfg, tt.input)
			if err != nil {
				t.Fatal(err)
			}
			check(t, rep, tt.want, secret, value, sid)
		})
	}

	t.Run("facts", func(t *testing.T) {
		t.Parallel()
		cfg := setup(t, r.URL(), storeurl.Options{}, []string{secret}, auth.Config{})
		cfg.ShowIDs = true
		rep, err := diagnose.Cookie(ctx, cfg, alice)
		if err != nil {
			t.Fatal(err)
		}
		sig, store, last := rep.Findings[1], rep.Findings[2], rep.Findings[len(rep.Findings)-1]
		if sig.SID != sid || sig.Secret != 1 || sig.Secrets != 1 || sig.Status != diagnose.OK {
			t.Errorf("signature finding %+v", sig)
		}
		if store.TTL == nil || *store.TTL <= 0 || *store.TTL > 24*time.Hour {
			t.Errorf("store finding %+v: want the key's TTL", store)
		}
		if last.User == nil || *last.User != "alice" {
			t.Errorf("last finding %+v: want accepted as alice", last)
		}
	})
	t.Run("config", func(t *testing.T) {
		t.Parallel()
		if _, err := diagnose.Cookie(ctx, diagnose.Config{}, alice); err != diagnose.ErrConfig {
			t.Errorf("Cookie without Gate and Store = %v, want ErrConfig", err)
		}
	})
}

// TestClusterSearch: a session missing under the prefix is found under
// another on whichever master holds it.
func TestClusterSearch(t *testing.T) {
	t.Parallel()
	c := testenv.StartRedisCluster(t, 3)
	v := mustVerifier(t, secret)
	client, err := redisstore.OpenURL(c.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	other := redisstore.New(client, redisstore.Options{Prefix: "other:"})
	ctx := context.Background()
	// Sessions until every master holds one, each diagnosed.
	held := make([]bool, len(c.Nodes))
	for i := 0; i < 100 && (!held[0] || !held[1] || !held[2]); i++ {
		sid := "cluster-session-" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + strings.Repeat("y", i/26)
		sess, err := connectsid.DecodeSession(sid, `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"loggedIn":true}`)
		if err != nil {
			t.Fatal(err)
		}
		if err := other.Set(ctx, sess); err != nil {
			t.Fatal(err)
		}
		n := c.NodeOf(t, other.Key(sid))
		if held[n] {
			continue
		}
		held[n] = true
		cfg := setup(t, c.URL(), storeurl.Options{}, []string{secret}, auth.Config{})
		rep, err := diagnose.Cookie(ctx, cfg, "connect.sid="+v.Sign(sid))
		if err != nil {
			t.Fatal(err)
		}
		check(t, rep, want{steps: toStore, code: connectsid.CodeNoSession, detail: `found it under "other:"`,
			hint: "set the key prefix to other:", settings: "prefix"})
		if f := rep.Findings[2].Found; len(f) != 1 || f[0].Prefix != "other:" || f[0].TTL == nil {
			t.Errorf("master %d: found %+v, want other: with its TTL", n, f)
		}
	}
}

// TestPostgres diagnoses on connect-pg-simple's table.
func TestPostgres(t *testing.T) {
	t.Parallel()
	pg := testenv.StartPostgres(t)
	app := testenv.StartNodeApp(t, testenv.NodeAppConfig{RedisURL: "redis://127.0.0.1:1", Secrets: []string{secret},
		StoreFlavor: "connect-pg-simple", DatabaseURL: pg.URL()})
	alice := login(t, app, "alice")
	gone := login(t, app, "bob")
	app.Logout(context.Background(), t, gone)
	for _, tt := range []struct {
		name  string
		input string
		want  want
	}{
		{"accepted", alice, want{steps: toAccepted, message: "accepted as alice"}},
		{"logged out", gone, want{steps: toStore, code: connectsid.CodeNoSession, message: `in table "session" at postgres://`,
			hint: "connect-pg-simple's pruning deleted it", settings: "store-url schema table"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := setup(t, pg.URL(), storeurl.Options{}, []string{secret}, auth.Config{})
			rep, err := diagnose.Cookie(context.Background(), cfg, tt.input)
			if err != nil {
				t.Fatal(err)
			}
			check(t, rep, tt.want, secret)
		})
	}
}

func mustVerifier(t *testing.T, secrets ...string) *connectsid.Verifier {
	t.Helper()
	v, err := connectsid.NewVerifier(secrets...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// cutChars cuts n characters off the end of a percent-encoded cookie value,
// a %XX counting as one: a random mac may hold + or / (%2B, %2F).
func cutChars(v string, n int) string {
	for range n {
		if len(v) >= 3 && v[len(v)-3] == '%' {
			v = v[:len(v)-3]
		} else {
			v = v[:len(v)-1]
		}
	}
	return v
}
