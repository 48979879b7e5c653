package main

import (
	"context"
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// The doctor tests run the command on cookies that the real Express app
// (node-app) set, against the real Redis it stores its sessions in, and
// change the app's sessions only through the app or as connect-redis
// stores them.

// appSecret is the Express app's secret: secrets[1], so that a secret file
// of secrets[0] then secrets[1] is a rotation in progress.
var appSecret = secrets[1]

// expressApp is the Express app of some doctor tests, with its Redis.
type expressApp struct {
	app        *testenv.NodeApp
	r          *testenv.Redis
	c          *redis.Client
	cookieName string
	prefix     string
	env        map[string]string // REDIS_URL and SESSION_SECRET as the app's
}

func startExpressApp(t *testing.T, r *testenv.Redis, cookieName, prefix string) *expressApp {
	t.Helper()
	app := testenv.StartNodeApp(t, testenv.NodeAppConfig{
		RedisURL: r.URL(), Secrets: []string{appSecret}, CookieName: cookieName, Prefix: prefix,
	})
	e := &expressApp{app: app, r: r, c: r.Client(t), cookieName: cookieName, prefix: prefix,
		env: map[string]string{envRedisURL: r.URL(), envSecret: appSecret}}
	if e.cookieName == "" {
		e.cookieName = defaultCookieName
	}
	if e.prefix == "" {
		e.prefix = "sess:"
	}
	return e
}

// session is one login to the app: its Cookie header pair
// (NAME=s%3A…) and what is in it.
type session struct {
	pair  string // NAME=VALUE as the browser sends it
	value string // the encoded value, s%3A…
	sid   string
	mac   string
	user  string
}

func (e *expressApp) login(t *testing.T, user string) session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	pair := e.app.Login(ctx, t, user)
	_, value, _ := strings.Cut(pair, "=")
	signed := connectsid.DecodeValue(value) // s:SID.MAC
	dot := strings.LastIndexByte(signed, '.')
	return session{pair: pair, value: value, sid: signed[2:dot], mac: signed[dot+1:], user: user}
}

// set changes session fields through the app (POST /test/set).
func (e *expressApp) set(t *testing.T, s session, fields map[string]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if code, body := e.app.PostJSON(ctx, t, "/test/set", s.pair, fields); code != 200 {
		t.Fatalf("POST /test/set: %d %s", code, body)
	}
}

// rewrite replaces the session's record in Redis, keeping its TTL.
func (e *expressApp) rewrite(t *testing.T, s session, change func(string) string) {
	t.Helper()
	ctx := context.Background()
	key := e.prefix + s.sid
	record, err := e.c.Get(ctx, key).Result()
	if err != nil {
		t.Fatalf("GET %s: %v", key, err)
	}
	if err := e.c.Set(ctx, key, change(record), redis.KeepTTL).Err(); err != nil {
		t.Fatalf("SET %s KEEPTTL: %v", key, err)
	}
}

// doctorRun runs doctor and checks what no output may hold: a secret, the
// cookie or its signature, and the whole session ID unless --show-ids.
func doctorRun(t *testing.T, s session, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	r := cli(t, env, stdin, append([]string{"doctor"}, args...)...)
	r.lacks(t, "a secret", secrets...)
	r.lacks(t, "the cookie", s.value, connectsid.DecodeValue(s.value), s.mac)
	if !hasArg(args, "--show-ids") {
		r.lacks(t, "the whole session ID", s.sid)
	}
	return r
}

func hasArg(args []string, a string) bool {
	for _, x := range args {
		if x == a {
			return true
		}
	}
	return false
}

// with returns env plus extra.
func with(env map[string]string, extra map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range env {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// stepLines checks the human output's shape: one line per step, a mark,
// the step name padded to one column, and returns the steps in order.
var stepLine = regexp.MustCompile(`^([✔✘!]) (\S+) +\S`)

func stepsOf(t *testing.T, stdout string) []string {
	t.Helper()
	var steps []string
	for _, line := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
		if strings.HasPrefix(line, strings.Repeat(" ", 2+stepWidth)) {
			continue // details and hint
		}
		if strings.HasPrefix(line, "✔ this cookie would be accepted") {
			steps = append(steps, stepAccepted)
			continue
		}
		m := stepLine.FindStringSubmatch(line)
		if m == nil || len(line) < 2+stepWidth || line[len(m[1])+1+stepWidth-1] != ' ' {
			t.Fatalf("line %q is not MARK STEP MESSAGE aligned at column %d", line, 2+stepWidth)
		}
		steps = append(steps, m[2])
	}
	return steps
}

func wantSteps(t *testing.T, r result, want ...string) {
	t.Helper()
	if got := stepsOf(t, r.stdout); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("steps %v, want %v\n%s", got, want, r)
	}
}

var (
	allSteps = []string{auth.StepCookie, auth.StepSignature, auth.StepStore, auth.StepRecord,
		auth.StepLogin, auth.StepUser, stepAccepted}
	toStore = allSteps[:3]
	toLogin = allSteps[:5]
)

// TestDoctor runs one diagnosis of each kind on the real app's cookies.
func TestDoctor(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)

	t.Run("default app", func(t *testing.T) {
		t.Parallel()
		e := startExpressApp(t, r, "", "")
		testDoctorDefaultApp(t, e)
	})
	t.Run("wrong cookie name", func(t *testing.T) {
		t.Parallel()
		e := startExpressApp(t, r, "app.sid", "")
		s := e.login(t, "carol")
		header := "theme=dark; " + s.pair + "; _ga=GA1.2.3"
		res := doctorRun(t, s, e.env, "", header)
		res.want(t, exitRefused, []string{
			"✘ cookie     no cookie named connect.sid among the 3 cookies of the header\n",
			"names present: _ga, app.sid, theme\n",
			"hint: app.sid looks like a signed session (s%3A…): pass --cookie-name app.sid\n",
		}, nil)
		wantSteps(t, res, auth.StepCookie)
		if res.stderr != "" {
			t.Errorf("stderr: %q", res.stderr)
		}
		doctorRun(t, s, e.env, "", "--cookie-name", "app.sid", header).
			want(t, exitOK, []string{"✔ cookie     app.sid found (among 3 cookies)\n", "accepted as carol\n"}, nil)
		// From the environment, as serve takes it.
		doctorRun(t, s, with(e.env, map[string]string{envCookieName: "app.sid"}), "", header).want(t, exitOK, nil, nil)
	})
	t.Run("wrong prefix", func(t *testing.T) {
		t.Parallel()
		e := startExpressApp(t, r, "", "myapp:")
		s := e.login(t, "dave")
		res := doctorRun(t, s, e.env, "", s.pair)
		res.want(t, exitRefused, []string{
			`✘ store      no session ` + connectsid.Redact(s.sid) + ` under prefix "sess:" at ` + r.URL() + "\n",
			`found it under "myapp:" (TTL `,
			"hint: pass --prefix myapp:\n",
		}, nil)
		wantSteps(t, res, toStore...)
		res = doctorRun(t, s, e.env, "", "--json", s.pair)
		checks := decodeChecks(t, res)
		last := checks[len(checks)-1]
		if last.Code != connectsid.CodeNoSession || len(last.Found) != 1 || last.Found[0].Prefix != "myapp:" ||
			last.Found[0].TTLSeconds == nil || *last.Found[0].TTLSeconds <= 0 || *last.Found[0].TTLSeconds > 3600 {
			t.Errorf("store step %+v, want no-session found under myapp: with its TTL", last)
		}
		doctorRun(t, s, e.env, "", "--prefix", "myapp:", s.pair).
			want(t, exitOK, []string{`✔ store      session ` + connectsid.Redact(s.sid) + ` found under "myapp:" (TTL `}, nil)
	})
}

func testDoctorDefaultApp(t *testing.T, e *expressApp) {
	t.Run("accepted", func(t *testing.T) {
		t.Parallel()
		s := e.login(t, "alice")
		res := doctorRun(t, s, e.env, "", "Cookie: theme=dark; "+s.pair+"; lang=fr")
		res.want(t, exitOK, []string{
			"✔ cookie     connect.sid found (among 3 cookies)\n",
			"✔ signature  verified with secret 1 of 1\n",
			`✔ store      session ` + connectsid.Redact(s.sid) + ` found under "sess:" (TTL `,
			"✔ record     a session, cookie.expires in ",
			"✔ login      loggedIn is true\n",
			"✔ user       username is \"alice\"\n",
			"✔ this cookie would be accepted as alice\n",
		}, nil)
		wantSteps(t, res, allSteps...)
		if res.stderr != "" {
			t.Errorf("stderr: %q", res.stderr)
		}
	})
	t.Run("inputs", func(t *testing.T) {
		t.Parallel()
		s := e.login(t, "bob")
		decoded := connectsid.DecodeValue(s.value)
		for _, in := range []struct {
			name, stdin string
			args        []string
			cookieLine  string
		}{
			{"header argument", "", []string{s.pair}, "connect.sid found (the header's only cookie)"},
			{"header with Cookie:", "", []string{"Cookie: a=1; " + s.pair}, "connect.sid found (among 2 cookies)"},
			{"value argument", "", []string{s.value}, "a cookie value, not a header: its name (connect.sid) was not checked"},
			{"decoded value", "", []string{decoded}, "a cookie value, not a header"},
			{"stdin", "Cookie: " + s.pair + "\n", nil, "connect.sid found"},
			{"stdin dash", s.value + "\n", []string{"-"}, "a cookie value"},
		} {
			res := doctorRun(t, s, e.env, in.stdin, in.args...)
			if res.code != exitOK || !strings.Contains(res.stdout, "✔ cookie     "+in.cookieLine) ||
				!strings.Contains(res.stdout, "accepted as bob\n") {
				t.Errorf("%s: want accepted with cookie line %q\n%s", in.name, in.cookieLine, res)
			}
		}
		// A bare session ID is not a cookie: the bridge refuses it unsigned.
		res := doctorRun(t, s, e.env, "", "--show-ids", "--", s.sid) // "--": a session ID may begin with "-"
		res.want(t, exitRefused, []string{"✘ signature  the value is not signed", "hint: the cookie must be the signed value"}, nil)
		// A cookie cut short.
		cut := "s%3A" + s.sid + "." + s.mac[:20]
		doctorRun(t, s, e.env, "", cut).want(t, exitRefused, []string{"✘ signature  the signature is 20 characters long, not 43"}, nil)
		// An empty cookie, as logging out leaves it.
		doctorRun(t, s, e.env, "", "connect.sid=; a=1").want(t, exitRefused, []string{"✘ cookie     the cookie connect.sid is empty"}, nil)
		// Two cookies of the name (another domain's or path's): the first counts.
		doctorRun(t, s, e.env, "", s.pair+"; connect.sid=s%3Aother").want(t, exitOK,
			[]string{"the header holds 2 cookies named connect.sid (a cookie of another domain or path?): Express reads the first"}, nil)
		// A header without the cookie and without any signed one.
		doctorRun(t, s, e.env, "", "a=1; b=2").want(t, exitRefused, []string{"names present: a, b\n", "none looks like a signed session"}, nil)
	})
	t.Run("wrong secret", func(t *testing.T) {
		t.Parallel()
		s := e.login(t, "erin")
		res := doctorRun(t, s, with(e.env, map[string]string{envSecret: secrets[2]}), "", s.pair)
		res.want(t, exitRefused, []string{
			"✘ signature  no secret verifies the signature (1 secret tried, from SESSION_SECRET)\n",
			"yet session " + connectsid.Redact(s.sid) + ` exists under "sess:": the app signed this cookie, with a secret not in the list`,
			"hint: check that SESSION_SECRET is exactly the app's secret option",
		}, nil)
		wantSteps(t, res, auth.StepCookie, auth.StepSignature)
		// Two wrong secrets from a file; and a cookie of a session that is gone.
		file := secretFile(t, secrets[0]+"\n"+secrets[2]+"\n", 0o600)
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		e.app.Logout(ctx, t, s.pair)
		res = doctorRun(t, s, map[string]string{envRedisURL: e.r.URL()}, "", "--secret-file", file, s.pair)
		res.want(t, exitRefused, []string{
			"no secret verifies the signature (2 secrets tried, from --secret-file)",
			"and no session " + connectsid.Redact(s.sid) + ` exists under "sess:"`,
			"hint: check that --secret-file holds exactly",
		}, nil)
	})
	t.Run("rotated secret", func(t *testing.T) {
		t.Parallel()
		s := e.login(t, "frank")
		file := secretFile(t, secrets[0]+"\n"+appSecret+"\n", 0o600) // new, then the app's (old) one
		res := doctorRun(t, s, map[string]string{envRedisURL: e.r.URL()}, "", "--secret-file", file, s.pair)
		res.want(t, exitOK, []string{
			"✔ signature  verified with secret 2 of 2 — a rotation is in progress: cookies signed with older secrets are still in use\n",
			"accepted as frank\n",
		}, nil)
	})
	t.Run("expired", func(t *testing.T) {
		t.Parallel()
		s := e.login(t, "grace")
		ttl := e.c.PTTL(context.Background(), "sess:"+s.sid).Val()
		past := time.Now().Add(-90 * time.Minute).UTC().Format("2006-01-02T15:04:05.000Z")
		e.rewrite(t, s, func(rec string) string {
			return regexp.MustCompile(`"expires":"[^"]*"`).ReplaceAllString(rec, `"expires":"`+past+`"`)
		})
		if got := e.c.PTTL(context.Background(), "sess:"+s.sid).Val(); got <= 0 || got > ttl {
			t.Fatalf("TTL %v after the rewrite, want kept (%v)", got, ttl)
		}
		res := doctorRun(t, s, e.env, "", s.pair)
		res.want(t, exitRefused, []string{
			"✘ record     the session has expired: cookie.expires passed 1h30m",
			"Redis still holds the key (TTL ",
			"pass --accept-expired",
		}, nil)
		wantSteps(t, res, allSteps[:4]...)
		res = doctorRun(t, s, e.env, "", "--accept-expired", s.pair)
		res.want(t, exitOK, []string{"✔ record     a session; cookie.expires passed 1h30m", "(--accept-expired)", "accepted as grace\n"}, nil)
		doctorRun(t, s, with(e.env, map[string]string{envAcceptExpired: "true"}), "", s.pair).want(t, exitOK, nil, nil)
	})
	t.Run("not logged in", func(t *testing.T) {
		t.Parallel()
		s := e.login(t, "heidi-7f3q")
		e.set(t, s, map[string]any{"loggedIn": false})
		res := doctorRun(t, s, e.env, "", s.pair)
		res.want(t, exitRefused, []string{
			"✘ login      loggedIn is false: the session's user is not logged in\n",
			"fields present: loggedIn (a boolean), username (a string); --show-values shows the values\n",
		}, nil)
		wantSteps(t, res, toLogin...)
		res.lacks(t, "a field value", "heidi-7f3q")
		res = doctorRun(t, s, e.env, "", "--json", s.pair)
		checks := decodeChecks(t, res)
		if c := checks[len(checks)-1]; c.Step != auth.StepLogin || c.Code != auth.CodeNotLoggedIn ||
			strings.Join(c.Fields, ",") != "loggedIn,username" {
			t.Errorf("last step %+v, want login not-logged-in with the fields", c)
		}
		// Falsy as JavaScript sees it, not only false.
		e.set(t, s, map[string]any{"loggedIn": ""})
		doctorRun(t, s, e.env, "", s.pair).want(t, exitRefused,
			[]string{"✘ login      loggedIn is an empty string, which JavaScript counts as false\n"}, nil)
		e.set(t, s, map[string]any{"loggedIn": 0})
		doctorRun(t, s, e.env, "", "--show-values", s.pair).want(t, exitRefused,
			[]string{"✘ login      loggedIn is 0, which JavaScript counts as false\n"}, nil)
		// Truthy passes, as `if (req.session.loggedIn)` does.
		e.set(t, s, map[string]any{"loggedIn": "yes"})
		doctorRun(t, s, e.env, "", s.pair).want(t, exitOK,
			[]string{"✔ login      loggedIn is a string, which JavaScript counts as true\n"}, nil)
	})
	t.Run("another login field", func(t *testing.T) {
		t.Parallel()
		s := e.login(t, "ivan-2k9d")
		res := doctorRun(t, s, e.env, "", "--login-field", "isAuthenticated", s.pair)
		res.want(t, exitRefused, []string{
			"✘ login      the record has no field isAuthenticated\n",
			"fields present: loggedIn (a boolean), username (a string)",
			"hint: loggedIn is true: if it marks the login, pass --login-field loggedIn\n",
		}, nil)
		res.lacks(t, "a field value", "ivan-2k9d")
		res = doctorRun(t, s, e.env, "", "--login-field", "isAuthenticated", "--show-values", s.pair)
		res.want(t, exitRefused, []string{`fields present: loggedIn=true, username="ivan-2k9d"` + "\n"}, nil)
		// From the environment, as serve takes it.
		doctorRun(t, s, with(e.env, map[string]string{envLoginField: "isAuthenticated"}), "", s.pair).
			want(t, exitRefused, []string{"no field isAuthenticated"}, nil)
	})
	t.Run("user field missing", func(t *testing.T) {
		t.Parallel()
		s := e.login(t, "judy")
		res := doctorRun(t, s, e.env, "", "--user-field", "email", s.pair)
		res.want(t, exitOK, []string{
			"! user       the record has no field email: the bridge accepts the session with an empty user name\n",
			"hint: pass --user-field with the field that holds the user's name (string fields: username)\n",
			"✔ this cookie would be accepted, with an empty user name\n",
		}, nil)
		wantSteps(t, res, allSteps...)
	})
	t.Run("malformed record", func(t *testing.T) {
		t.Parallel()
		s := e.login(t, "mallory")
		e.rewrite(t, s, func(string) string { return "not json at all" })
		res := doctorRun(t, s, e.env, "", s.pair)
		res.want(t, exitRefused, []string{"✔ store      session", "✘ record     the record is not a session record: not valid JSON\n",
			"connect-redis's serializer option"}, nil)
		wantSteps(t, res, allSteps[:4]...)
		e.rewrite(t, s, func(string) string { return `{"loggedIn":true}` })
		res = doctorRun(t, s, e.env, "", "--json", s.pair)
		checks := decodeChecks(t, res)
		if c := checks[len(checks)-1]; c.Step != auth.StepRecord || c.Code != connectsid.CodeMalformedSession ||
			!strings.Contains(c.Message, "no cookie object") {
			t.Errorf("last step %+v, want record malformed-session: no cookie object", c)
		}
	})
	t.Run("logged out", func(t *testing.T) {
		t.Parallel()
		s := e.login(t, "niaj")
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		e.app.Logout(ctx, t, s.pair)
		res := doctorRun(t, s, e.env, "", s.pair)
		res.want(t, exitRefused, []string{
			"✘ store      no session " + connectsid.Redact(s.sid) + ` under prefix "sess:"`,
			"no other key of this Redis database ends with the session ID\n",
			"hint: the user logged out",
		}, nil)
	})
	t.Run("json", func(t *testing.T) {
		t.Parallel()
		s := e.login(t, "olivia")
		res := doctorRun(t, s, e.env, "", "--json", s.pair)
		res.want(t, exitOK, nil, nil)
		if res.stderr != "" {
			t.Errorf("stderr: %q", res.stderr)
		}
		checks := decodeChecks(t, res)
		var steps []string
		for _, c := range checks {
			steps = append(steps, c.Step)
			if !c.OK || c.Code != "" || c.Message == "" {
				t.Errorf("step %+v: want ok with a message and no code", c)
			}
		}
		if strings.Join(steps, " ") != strings.Join(allSteps, " ") {
			t.Errorf("steps %v, want %v", steps, allSteps)
		}
		sig, store, last := checks[1], checks[2], checks[len(checks)-1]
		if sig.SID != connectsid.Redact(s.sid) || sig.Secret != 1 || sig.Secrets != 1 {
			t.Errorf("signature step %+v", sig)
		}
		if store.TTLSeconds == nil || *store.TTLSeconds <= 0 || *store.TTLSeconds > 3600 {
			t.Errorf("store step %+v: want its TTL", store)
		}
		if last.User == nil || *last.User != "olivia" {
			t.Errorf("last step %+v, want accepted as olivia", last)
		}
		// The exact keys of a step, for scripts.
		var raw []map[string]any
		if err := json.Unmarshal([]byte(res.stdout), &raw); err != nil {
			t.Fatal(err)
		}
		if got := keysOf(raw[1]); got != "message ok secret secrets sid step" {
			t.Errorf("signature step keys: %s", got)
		}
		// A refusal: the same array, ending with the failing step.
		res = doctorRun(t, s, with(e.env, map[string]string{envSecret: secrets[0]}), "", "--json", s.pair)
		checks = decodeChecks(t, res)
		if c := checks[len(checks)-1]; len(checks) != 2 || c.OK || c.Step != auth.StepSignature ||
			c.Code != connectsid.CodeBadSignature || c.Hint == "" || c.Secrets != 1 {
			t.Errorf("refusal: %+v", checks)
		}
		if res.code != exitRefused || res.stderr != "" {
			t.Errorf("refusal: %s", res)
		}
	})
	t.Run("show ids", func(t *testing.T) {
		t.Parallel()
		s := e.login(t, "peggy")
		doctorRun(t, s, e.env, "", "--show-ids", s.pair).
			want(t, exitOK, []string{`✔ store      session ` + s.sid + ` found under "sess:"`}, nil)
		res := doctorRun(t, s, e.env, "", "--show-ids", "--json", s.pair)
		if checks := decodeChecks(t, res); checks[1].SID != s.sid {
			t.Errorf("signature step %+v, want the whole sid", checks[1])
		}
	})
	t.Run("usage", func(t *testing.T) {
		t.Parallel()
		s := e.login(t, "quentin")
		res := doctorRun(t, s, map[string]string{envRedisURL: e.r.URL()}, "", s.pair)
		res.want(t, exitUsage, nil, []string{"usage: no secret: set SESSION_SECRET"})
		if res.stdout != "" {
			t.Errorf("stdout: %q", res.stdout)
		}
		doctorRun(t, s, e.env, "", "--json").want(t, exitUsage, []string{`"error":"usage"`, "stdin is empty"}, nil)
		doctorRun(t, s, e.env, "", s.pair, "extra").want(t, exitUsage, nil, []string{"accepts at most 1 arg"})
	})
}

// TestDoctorRedisDown checks that an unreachable Redis is exit 3, naming the
// address tried.
func TestDoctorRedisDown(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	e := startExpressApp(t, r, "", "")
	s := e.login(t, "rupert")
	r.Kill(t)
	res := doctorRun(t, s, e.env, "", s.pair)
	res.want(t, exitUnavailable, []string{
		"✔ signature  verified with secret 1 of 1\n",
		"✘ store      cannot reach redis at " + r.URL() + ": ",
		r.Addr() + ": connect: connection refused",
		"hint: is redis-server running?",
	}, nil)
	wantSteps(t, res, toStore...)
	res = doctorRun(t, s, e.env, "", "--json", s.pair)
	checks := decodeChecks(t, res)
	if c := checks[len(checks)-1]; res.code != exitUnavailable || c.Code != connectsid.CodeStoreUnavailable || c.Step != auth.StepStore {
		t.Errorf("exit %d, last step %+v", res.code, c)
	}
	// A password in the URL is not shown.
	url := strings.Replace(r.URL(), "redis://", "redis://:hunter2-pw@", 1)
	res = doctorRun(t, s, with(e.env, map[string]string{envRedisURL: url}), "", s.pair)
	res.want(t, exitUnavailable, []string{"cannot reach redis at redis://:xxxxx@" + r.Addr()}, nil)
	res.lacks(t, "the Redis password", "hunter2-pw")
}

func TestDoctorHelp(t *testing.T) {
	t.Parallel()
	r := cli(t, nil, "", "doctor", "--help")
	r.want(t, exitOK, []string{"Usage:", "Examples:", envSecretFile, envSecret, envCookieName, envRedisURL, envPrefix,
		envUserField, envLoginField, envAcceptExpired, "--show-ids", "--show-values", "Exit status: 0 accepted, 1 refused"}, nil)
	cli(t, nil, "", "--help").want(t, exitOK, []string{"doctor ", "expressbridge doctor"}, nil)
}

func decodeChecks(t *testing.T, r result) []check {
	t.Helper()
	var checks []check
	if err := json.Unmarshal([]byte(r.stdout), &checks); err != nil || len(checks) == 0 {
		t.Fatalf("stdout is not a JSON array of steps (%v)\n%s", err, r)
	}
	return checks
}

func keysOf(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, " ")
}

// TestDoctorHelpers: looksSigned, countCookies and shortDuration moved
// with their cases to connectsid (LooksSigned, CountCookies) and
// auth/diagnose.
func TestDoctorHelpers(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"myapp:": "myapp:", "my app:": "'my app:'", "it's": `'it'\''s'`} {
		if got := shellWord(in); got != want {
			t.Errorf("shellWord(%q) = %q, want %q", in, got, want)
		}
	}
}
