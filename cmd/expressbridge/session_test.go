package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// Session IDs as express-session makes them (uid-safe, 24 bytes).
const (
	sidZoe     = "d-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR"
	sidBrowser = "Qm4aT3xQh7cD2hS9xB3eV0kL1pZ8uY6w"
	sidPass    = "a0Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5"
	sidBad     = "XXbadbadbadbadbadbadbadbadbadbad"
)

// jsDate formats t as JSON.stringify writes a Date.
func jsDate(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// expressRecord is a record exactly as express-session 1.19 with
// connect-redis stores a logged-in session with maxAge 1h.
func expressRecord(expires time.Time, user string) string {
	name, _ := json.Marshal(user)
	return `{"cookie":{"originalMaxAge":3600000,"expires":"` + jsDate(expires) +
		`","httpOnly":true,"path":"/","sameSite":"lax"},"loggedIn":true,"username":` + string(name) + `}`
}

// browserRecord is a record of a browser-session cookie (no maxAge), its
// fields deliberately not in alphabetical order.
const browserRecord = `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"zeta":1,"views":3,"alpha":{"b":[1,2]}}`

// store is a redis-server of one test with the environment to reach it.
type store struct {
	r   *testenv.Redis
	c   *redis.Client
	env map[string]string // REDIS_URL and SESSION_SECRET
}

func newStore(t *testing.T) *store {
	t.Helper()
	r := testenv.StartRedis(t)
	return &store{r: r, c: r.Client(t), env: map[string]string{envRedisURL: r.URL(), envSecret: secrets[0]}}
}

// set writes key as connect-redis does: SET with EX, or without when ttl is 0.
func (s *store) set(t *testing.T, key, value string, ttl time.Duration) {
	t.Helper()
	if err := s.c.Set(context.Background(), key, value, ttl).Err(); err != nil {
		t.Fatalf("SET %s: %v", key, err)
	}
}

// pttl returns the key's TTL in Redis.
func (s *store) pttl(t *testing.T, key string) time.Duration {
	t.Helper()
	d, err := s.c.PTTL(context.Background(), key).Result()
	if err != nil {
		t.Fatalf("PTTL %s: %v", key, err)
	}
	return d
}

// with returns the store's environment plus extra.
func (s *store) with(extra map[string]string) map[string]string {
	env := map[string]string{}
	for k, v := range s.env {
		env[k] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

func indented(t *testing.T, record string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, []byte(record), "", "  "); err != nil {
		t.Fatal(err)
	}
	return buf.String() + "\n"
}

func TestSessionGet(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	zoe := expressRecord(time.Now().Add(time.Hour), "Zoë")
	s.set(t, "sess:"+sidZoe, zoe, time.Hour)
	s.set(t, "sess:"+sidBrowser, browserRecord, 24*time.Hour)
	s.set(t, "app:"+sidZoe, zoe, time.Hour)
	value := signWith(t, secrets[0], sidZoe)
	file := secretFile(t, strings.Join(secrets, "\n"), 0o600)
	noSecret := s.with(map[string]string{envSecret: ""})

	tests := []struct {
		name   string
		env    map[string]string
		stdin  string
		args   []string
		record string
		stderr string
	}{
		{"bare sid needs no secret", noSecret, "", []string{sidZoe}, zoe, ""},
		{"key order kept", noSecret, "", []string{sidBrowser}, browserRecord, ""},
		{"cookie value", s.env, "", []string{value}, zoe, ""},
		{"cookie header", s.env, "", []string{"Cookie: theme=dark; connect.sid=" + value}, zoe, ""},
		{"stdin", s.env, value + "\n", []string{"-"}, zoe, ""},
		{"rotated secret", noSecret, "", []string{"--secret-file", file, signWith(t, secrets[2], sidZoe)}, zoe,
			"note: verified with secret 3 of 3; cookies signed with older secrets are still in use\n"},
		{"prefix flag", noSecret, "", []string{"--prefix", "app:", sidZoe}, zoe, ""},
		{"prefix env", s.with(map[string]string{envPrefix: "app:"}), "", []string{sidZoe}, zoe, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := cli(t, tt.env, tt.stdin, append([]string{"session", "get"}, tt.args...)...)
			r.want(t, exitOK, nil, nil)
			if want := indented(t, tt.record); r.stdout != want || r.stderr != tt.stderr {
				t.Errorf("got\n%s\nwant stdout\n%sand stderr %q", r, want, tt.stderr)
			}
			r.lacks(t, "a secret", secrets...)

			r = cli(t, tt.env, tt.stdin, append([]string{"session", "get", "--json"}, tt.args...)...)
			r.want(t, exitOK, nil, nil)
			var got struct {
				OK      bool            `json:"ok"`
				SID     string          `json:"sid"`
				Session json.RawMessage `json:"session"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
				t.Fatalf("--json: %v\n%s", err, r)
			}
			if !got.OK || string(got.Session) != tt.record {
				t.Errorf("--json = %s, want ok and the record as stored", r.stdout)
			}
		})
	}
}

func TestSessionGetRefused(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	// A rolling session: Redis still has it, its cookie.expires has passed.
	expired := expressRecord(time.Now().Add(-2*time.Hour), "Zoë")
	s.set(t, "sess:"+sidZoe, expired, time.Hour)
	s.set(t, "sess:"+sidBad, "not a session", time.Hour)

	r := cli(t, s.env, "", "session", "get", sidZoe)
	r.want(t, exitRefused, nil, []string{"expressbridge: expired: session " + connectsid.Redact(sidZoe) + " expired 2h0m",
		"hint: the user must log in again"})
	if want := indented(t, expired); r.stdout != want {
		t.Errorf("stdout = %q, want the expired record anyway: %q", r.stdout, want)
	}
	if !regexp.MustCompile(`expired 2h0m\d+s ago \(cookie.expires \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)`).MatchString(r.stderr) {
		t.Errorf("stderr does not say by how long it expired:\n%s", r)
	}

	r = cli(t, s.env, "", "session", "get", "--json", sidZoe)
	r.want(t, exitRefused, nil, nil)
	var got struct {
		OK      bool            `json:"ok"`
		Error   string          `json:"error"`
		Message string          `json:"message"`
		Session json.RawMessage `json:"session"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("--json: %v\n%s", err, r)
	}
	if got.OK || got.Error != "expired" || !strings.Contains(got.Message, "ago") || string(got.Session) != expired {
		t.Errorf("--json = %s, want ok false, error expired and the record", r.stdout)
	}

	tests := []struct {
		name, arg, code string
	}{
		{"missing", "nosuchsessionnosuchsessionnosuch", "no-session"},
		{"not a session", sidBad, "malformed-session"},
		{"forged cookie", signWith(t, "not the app's secret", sidZoe), "bad-signature"},
		{"unsigned cookie", "connect.sid=" + sidZoe, "not-signed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := cli(t, s.env, "", "session", "get", tt.arg)
			r.want(t, exitRefused, nil, []string{"expressbridge: " + tt.code + ": ", "\nhint: "})
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
			r.lacks(t, "the whole session ID", "nosuchsessionnosuchsessionnosuch")
		})
	}
	// A key under another prefix is not found, and the hint says to check it.
	cli(t, s.env, "", "session", "get", "--prefix", "other:", sidZoe).want(t, exitRefused, nil,
		[]string{"no-session", `check that --prefix ("other:")`})
}

// listFixture writes the sessions that the list tests expect.
func listFixture(t *testing.T) (s *store, zoeExpires time.Time) {
	s = newStore(t)
	zoeExpires = time.Now().Add(time.Hour)
	s.set(t, "sess:"+sidZoe, expressRecord(zoeExpires, "Zoë"), time.Hour)
	s.set(t, "sess:"+sidBrowser, browserRecord, 0) // as with --disable-ttl
	s.set(t, "sess:"+sidPass, `{"cookie":{"originalMaxAge":60000,"expires":"`+jsDate(time.Now().Add(time.Minute))+
		`","httpOnly":true,"path":"/"},"passport":{"user":"42"}}`, time.Minute)
	s.set(t, "sess:"+sidBad, "not a session", 0)
	s.set(t, "other:"+sidZoe, expressRecord(zoeExpires, "elsewhere"), time.Hour)
	return s, zoeExpires
}

func TestSessionListTable(t *testing.T) {
	t.Parallel()
	s, zoeExpires := listFixture(t)
	r := cli(t, s.env, "", "session", "list")
	r.want(t, exitOK, nil, nil)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	rows := []*regexp.Regexp{
		regexp.MustCompile(`^SID +USER +EXPIRES +TTL$`),
		regexp.MustCompile(`^` + regexp.QuoteMeta(connectsid.Redact(sidBrowser)) + ` +- +browser-session +none$`),
		regexp.MustCompile(`^` + regexp.QuoteMeta(connectsid.Redact(sidBad)) + ` +- +malformed-session +none$`),
		regexp.MustCompile(`^` + regexp.QuoteMeta(connectsid.Redact(sidPass)) + ` +- +\S+ +(1m0s|5\ds)$`),
		regexp.MustCompile(`^` + regexp.QuoteMeta(connectsid.Redact(sidZoe)) + ` +Zoë +` +
			regexp.QuoteMeta(zoeExpires.UTC().Format(time.RFC3339)) + ` +(1h0m0s|59m5\ds)$`),
	}
	if len(lines) != len(rows) {
		t.Fatalf("%d lines, want %d (header and 4 sessions, sorted by ID)\n%s", len(lines), len(rows), r)
	}
	for i, re := range rows {
		if !re.MatchString(lines[i]) {
			t.Errorf("line %d = %q, want %v", i, lines[i], re)
		}
	}
	r.lacks(t, "a whole session ID", sidZoe, sidBrowser, sidPass, sidBad)

	// --show-ids, a dotted --user-field, --prefix, --limit.
	r = cli(t, s.env, "", "session", "list", "--show-ids", "--user-field", "passport.user")
	r.want(t, exitOK, []string{sidZoe, sidBrowser, sidBad}, nil)
	if !regexp.MustCompile(`(?m)^` + sidPass + ` +42 `).MatchString(r.stdout) {
		t.Errorf("--user-field passport.user: no row with user 42\n%s", r)
	}
	r = cli(t, s.with(map[string]string{envPrefix: "other:"}), "", "session", "list")
	r.want(t, exitOK, []string{"elsewhere"}, nil)
	if n := strings.Count(r.stdout, "\n"); n != 2 {
		t.Errorf("prefix other: %d lines, want the header and one session\n%s", n, r)
	}
	r = cli(t, s.env, "", "session", "list", "--limit", "2")
	r.want(t, exitOK, nil, []string{"showing the first 2 sessions found; pass a larger --limit, or 0 for all"})
	if n := strings.Count(r.stdout, "\n"); n != 3 {
		t.Errorf("--limit 2: %d lines, want the header and 2 sessions\n%s", n, r)
	}
	r = cli(t, s.env, "", "session", "list", "--prefix", "nothing-here:")
	r.want(t, exitOK, []string{"SID"}, []string{`no sessions under prefix "nothing-here:"`})
}

func TestSessionListJSON(t *testing.T) {
	t.Parallel()
	s, zoeExpires := listFixture(t)
	type entry struct {
		SID        string  `json:"sid"`
		User       *string `json:"user"`
		Expires    *string `json:"expires"`
		TTLSeconds *int64  `json:"ttl_seconds"`
		Error      string  `json:"error"`
	}
	list := func(args ...string) map[string]entry {
		t.Helper()
		r := cli(t, s.env, "", append([]string{"session", "list", "--json"}, args...)...)
		r.want(t, exitOK, nil, nil)
		var entries []entry
		if err := json.Unmarshal([]byte(r.stdout), &entries); err != nil {
			t.Fatalf("--json: %v\n%s", err, r)
		}
		bySID := map[string]entry{}
		for _, e := range entries {
			bySID[e.SID] = e
		}
		if len(bySID) != 4 {
			t.Fatalf("%d distinct sids, want 4\n%s", len(bySID), r)
		}
		return bySID
	}

	redacted := list()
	if _, ok := redacted[connectsid.Redact(sidZoe)]; !ok {
		t.Errorf("without --show-ids the sids are not redacted: %v", redacted)
	}

	got := list("--show-ids")
	zoe := got[sidZoe]
	if zoe.User == nil || *zoe.User != "Zoë" || zoe.Expires == nil || zoe.TTLSeconds == nil {
		t.Fatalf("zoe = %+v", zoe)
	}
	if exp, err := time.Parse(time.RFC3339Nano, *zoe.Expires); err != nil || !exp.Equal(zoeExpires.Truncate(time.Millisecond)) {
		t.Errorf("expires = %s (%v), want %s", *zoe.Expires, err, jsDate(zoeExpires))
	}
	if *zoe.TTLSeconds < 3590 || *zoe.TTLSeconds > 3600 {
		t.Errorf("ttl_seconds = %d, want about 3600", *zoe.TTLSeconds)
	}
	if b := got[sidBrowser]; b.User != nil || b.Expires != nil || b.TTLSeconds != nil || b.Error != "" {
		t.Errorf("browser-session entry = %+v, want user, expires and ttl_seconds null", b)
	}
	if bad := got[sidBad]; bad.Error != "malformed-session" {
		t.Errorf("malformed entry = %+v, want error malformed-session", bad)
	}
}

func TestSessionListProgress(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	const n = progressKeys + 100
	ctx := context.Background()
	record := expressRecord(time.Now().Add(time.Hour), "bulk")
	pipe := s.c.Pipeline()
	for i := range n {
		pipe.Set(ctx, fmt.Sprintf("sess:bulk%05d", i), record, time.Hour)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	r := cli(t, s.env, "", "session", "list", "--json", "--limit", "0")
	r.want(t, exitOK, nil, []string{"expressbridge: read 1000 of " + strconv.Itoa(n) + " sessions"})
	var entries []json.RawMessage
	if err := json.Unmarshal([]byte(r.stdout), &entries); err != nil || len(entries) != n {
		t.Fatalf("%d entries (%v), want %d", len(entries), err, n)
	}
	// A short list says nothing.
	r = cli(t, s.env, "", "session", "list", "--limit", "10")
	if strings.Contains(r.stderr, "read ") {
		t.Errorf("a short list reported progress:\n%s", r)
	}
}

func TestSessionDestroy(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	for _, sid := range []string{sidZoe, sidBrowser} {
		s.set(t, "sess:"+sid, expressRecord(time.Now().Add(time.Hour), "Zoë"), time.Hour)
	}

	// By cookie header.
	r := cli(t, s.env, "", "session", "destroy", "connect.sid="+signWith(t, secrets[0], sidZoe))
	r.want(t, exitOK, []string{"destroyed session " + sidZoe + "\n"}, nil)
	if n := s.c.Exists(ctx, "sess:"+sidZoe).Val(); n != 0 {
		t.Errorf("EXISTS after destroy = %d, want 0", n)
	}
	if n := s.c.Exists(ctx, "sess:"+sidBrowser).Val(); n != 1 {
		t.Errorf("destroy removed another session")
	}
	cli(t, s.env, "", "session", "destroy", sidZoe).want(t, exitRefused, nil, []string{"expressbridge: no-session: "})

	// By bare ID, with --json.
	r = cli(t, s.env, "", "session", "destroy", "--json", sidBrowser)
	r.want(t, exitOK, []string{`{"ok":true,"sid":"` + sidBrowser + `"}`}, nil)
	if n := s.c.Exists(ctx, "sess:"+sidBrowser).Val(); n != 0 {
		t.Errorf("EXISTS after destroy = %d, want 0", n)
	}
}

func TestSessionTouch(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	key := "sess:" + sidZoe
	// As the app wrote it a while ago: maxAge 1h, 100 s of TTL left.
	s.set(t, key, expressRecord(time.Now().Add(100*time.Second), "Zoë"), 100*time.Second)
	s.set(t, "sess:"+sidBrowser, browserRecord, time.Minute)
	s.set(t, "sess:"+sidBad, expressRecord(time.Now().Add(-time.Minute), "late"), 100*time.Second)
	// near checks a TTL set (or left) at want: it runs down while the
	// commands before the check run, which a loaded machine may stretch to
	// seconds; it never grows but by a touch. Touched (1h, 2h) and not
	// touched (100 s) stay far apart.
	near := func(t *testing.T, got, want time.Duration) {
		t.Helper()
		if got > want+time.Second || got < want-10*time.Second {
			t.Errorf("TTL = %v, want %v (+1s, -10s)", got, want)
		} else {
			t.Logf("TTL = %v, want %v", got, want)
		}
	}

	cli(t, s.with(map[string]string{envDisableTouch: "true"}), "", "session", "touch", sidZoe).want(t, exitOK,
		[]string{"touched session " + sidZoe + ": TTL "}, []string{"note: touch is disabled"})
	near(t, s.pttl(t, key), 100*time.Second)

	r := cli(t, s.env, "", "session", "touch", signWith(t, secrets[0], sidZoe))
	r.want(t, exitOK, nil, nil)
	near(t, s.pttl(t, key), time.Hour)
	if !regexp.MustCompile(`^touched session ` + sidZoe + `: TTL (1h0m0s|59m59s)\n$`).MatchString(r.stdout) {
		t.Errorf("stdout = %q, want the new TTL", r.stdout)
	}

	// A browser-session cookie gets --ttl.
	r = cli(t, s.env, "", "session", "touch", "--json", "--ttl", "2h", sidBrowser)
	r.want(t, exitOK, nil, nil)
	// The TTL is read back after the touch: a stall between the two may
	// take a second off.
	if !regexp.MustCompile(`^\{"ok":true,"sid":"` + sidBrowser + `","ttl_seconds":(7200|7199)\}\n$`).MatchString(r.stdout) {
		t.Errorf("stdout = %q, want the new TTL", r.stdout)
	}
	near(t, s.pttl(t, "sess:"+sidBrowser), 2*time.Hour)

	// Expired and missing sessions are not touched.
	cli(t, s.env, "", "session", "touch", sidBad).want(t, exitRefused, nil, []string{"expressbridge: expired: "})
	near(t, s.pttl(t, "sess:"+sidBad), 100*time.Second)
	cli(t, s.env, "", "session", "touch", "nosuchsession").want(t, exitRefused, nil, []string{"expressbridge: no-session: "})
}

// TestStoreUnavailable checks that every store command fails fast with exit
// 3 when Redis is down, naming the URL without its password.
func TestStoreUnavailable(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	s.set(t, "sess:"+sidZoe, expressRecord(time.Now().Add(time.Hour), "Zoë"), time.Hour)
	s.r.Kill(t)
	const limit = 3 * time.Second
	withPassword := strings.Replace(s.r.URL(), "redis://", "redis://:pw-S3CRET@", 1)
	tests := []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"get", s.env, []string{"session", "get", sidZoe}},
		{"get by cookie", s.env, []string{"session", "get", signWith(t, secrets[0], sidZoe)}},
		{"list", s.env, []string{"session", "list"}},
		{"destroy", s.env, []string{"session", "destroy", sidZoe}},
		{"touch", s.env, []string{"session", "touch", sidZoe}},
		{"password in URL", s.with(map[string]string{envRedisURL: withPassword}), []string{"session", "get", sidZoe}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			r := cli(t, tt.env, "", tt.args...)
			if took := time.Since(start); took > limit {
				t.Errorf("took %v with Redis down, want under %v", took, limit)
			}
			r.want(t, exitUnavailable, nil, []string{
				"expressbridge: store-unavailable: cannot reach redis at redis://",
				s.r.Addr() + ": redis ",
				"\nhint: is redis-server running? check --redis-url / REDIS_URL\n",
			})
			r.lacks(t, "the Redis password", "pw-S3CRET")
		})
	}

	r := cli(t, s.env, "", "session", "get", "--json", sidZoe)
	r.want(t, exitUnavailable, []string{`{"ok":false,"error":"store-unavailable","message":"cannot reach redis at `}, nil)

	// The flag beats REDIS_URL.
	live := testenv.StartRedis(t)
	cli(t, s.env, "", "session", "list", "--redis-url", live.URL()).want(t, exitOK, []string{"SID"}, nil)
}

func TestBadRedisURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"http://127.0.0.1:6379", "redis://:pw-S3CRET@127.0.0.1:notaport", "redis://:pw-S3CRET@127.0.0.1:6379/notadb"} {
		r := cli(t, map[string]string{envRedisURL: u}, "", "session", "get", sidZoe)
		r.want(t, exitUsage, nil, []string{"expressbridge: usage: bad --redis-url "})
		r.lacks(t, "the Redis password", "pw-S3CRET")
	}
}
