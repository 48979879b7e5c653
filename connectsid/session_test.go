package connectsid

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// A record as express-session 1.19 + connect-redis 9 wrote it (FORMATS.md).
const expressRecord = `{"cookie":{"originalMaxAge":3600000,"expires":"2026-11-24T15:59:17.672Z","httpOnly":true,"path":"/","sameSite":"lax"},"loggedIn":true,"username":"Zoë 🚀","at":"1970-01-01T00:00:00.000Z","nested":{"a":[1,null,"x"]}}`

func TestDecodeSessionReadsEveryField(t *testing.T) {
	s, err := DecodeSession(testSID, expressRecord)
	if err != nil {
		t.Fatal(err)
	}
	c := s.Cookie()
	if c.OriginalMaxAge == nil || *c.OriginalMaxAge != 3600000 {
		t.Errorf("originalMaxAge = %v", c.OriginalMaxAge)
	}
	if want := time.Date(2026, 11, 24, 15, 59, 17, 672e6, time.UTC); c.Expires == nil || !c.Expires.Equal(want) {
		t.Errorf("expires = %v, want %v", c.Expires, want)
	}
	if c.HTTPOnly == nil || !*c.HTTPOnly || c.Path == nil || *c.Path != "/" || c.SameSite != "lax" {
		t.Errorf("cookie attributes = %+v", c)
	}
	if c.Secure != nil || c.Domain != nil || c.Partitioned != nil || c.Priority != nil {
		t.Errorf("attributes Express did not write appear: %+v", c)
	}
	if got := strings.Join(s.Keys(), ","); got != "loggedIn,username,at,nested" {
		t.Errorf("Keys = %s", got)
	}
	if v, ok := s.Bool("loggedIn"); !v || !ok {
		t.Errorf("loggedIn = %v, %v", v, ok)
	}
	if v, _ := s.String("username"); v != "Zoë 🚀" {
		t.Errorf("username = %q", v)
	}
	var nested struct{ A []any }
	if err := s.Get("nested", &nested); err != nil || len(nested.A) != 3 || nested.A[1] != nil {
		t.Errorf("nested = %+v, %v", nested, err)
	}
	if err := s.Get("missing", new(any)); !errors.Is(err, ErrNoField) {
		t.Errorf("Get(missing) = %v", err)
	}
	if _, ok := s.Raw("cookie"); ok {
		t.Error("the cookie must not read as an app field")
	}
}

func TestEncodeIsByteExactAndKeepsOrder(t *testing.T) {
	s, err := DecodeSession(testSID, expressRecord)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(s.Encode()); got != expressRecord {
		t.Fatalf("unchanged record re-encoded as\n%s\nwant\n%s", got, expressRecord)
	}
	if err := s.Set("username", "Ada <&> \u2028"); err != nil {
		t.Fatal(err)
	}
	if err := s.Set("added", map[string]int{"n": 1}); err != nil {
		t.Fatal(err)
	}
	s.Delete("at")
	want := `{"cookie":{"originalMaxAge":3600000,"expires":"2026-11-24T15:59:17.672Z","httpOnly":true,"path":"/","sameSite":"lax"},"loggedIn":true,"username":"Ada <&> \u2028","nested":{"a":[1,null,"x"]},"added":{"n":1}}`
	if got := string(s.Encode()); got != want {
		t.Fatalf("changed record encoded as\n%s\nwant\n%s", got, want)
	}
	if got := string(s.AppJSON()); strings.Contains(got, "cookie") {
		t.Fatalf("AppJSON holds the cookie: %s", got)
	}
	for _, key := range []string{"cookie", "id", "req", "save", "touch", "constructor", "__proto__"} {
		if err := s.Set(key, 1); err == nil {
			t.Fatalf("Set(%q) must fail: express-session would drop the field", key)
		}
	}
}

func TestDecodeSessionRejects(t *testing.T) {
	tests := []struct{ name, record string }{
		{"not JSON", "{oops"},
		{"array", `[1,2]`},
		{"string", `"x"`},
		{"no cookie", `{"loggedIn":true}`},
		{"cookie not an object", `{"cookie":"x"}`},
		{"bad expires", `{"cookie":{"expires":"tomorrow"}}`},
		{"bad sameSite", `{"cookie":{"sameSite":3}}`},
		{"deep", `{"cookie":{},"x":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeSession(testSID, tt.record)
			if !errors.Is(err, ErrMalformedSession) {
				t.Fatalf("err = %v, want ErrMalformedSession", err)
			}
			if !strings.Contains(err.Error(), Redact(testSID)) || strings.Contains(err.Error(), testSID) {
				t.Fatalf("error %q must name the sid redacted", err)
			}
		})
	}
}

func TestBrowserSessionCookieAndDuplicates(t *testing.T) {
	s, err := DecodeSession(testSID, `{"cookie":{"originalMaxAge":null,"expires":null},"a":1,"a":2}`)
	if err != nil {
		t.Fatal(err)
	}
	if s.Expired(time.Now().Add(1000*time.Hour)) || s.StoreTTL(time.Now(), 86400) != 86400 || s.TouchTTL(77) != 77 {
		t.Fatal("a browser-session cookie takes the store's TTL and never expires by itself")
	}
	if raw, _ := s.Raw("a"); string(raw) != "2" {
		t.Fatalf("duplicate key: got %s, JSON.parse keeps the last", raw)
	}
}

func TestTTLFollowsConnectRedis(t *testing.T) {
	s, err := DecodeSession(testSID, expressRecord)
	if err != nil {
		t.Fatal(err)
	}
	exp := *s.Cookie().Expires
	tests := []struct {
		before time.Duration
		want   int64
	}{
		{10 * time.Second, 10}, {9500 * time.Millisecond, 10}, {time.Millisecond, 1},
		{0, 0}, {-500 * time.Millisecond, 0}, {-1500 * time.Millisecond, -1},
	}
	for _, tt := range tests {
		if got := s.StoreTTL(exp.Add(-tt.before), 86400); got != tt.want {
			t.Errorf("StoreTTL %v before expiry = %d, want %d", tt.before, got, tt.want)
		}
	}
	if !s.Expired(exp) || s.Expired(exp.Add(-time.Millisecond)) {
		t.Error("Expired must be true from the expiry instant on")
	}
	if got := s.TouchTTL(86400); got != 3600 {
		t.Errorf("TouchTTL = %d, want 3600", got)
	}
}

// TestCheckExpiryAndDecodeBounded: the stores' and the gate's shared
// rules: expired at or after cookie.expires (never for a browser-session
// cookie), naming the redacted sid and not the whole one; a record over
// the bound refused before decoding.
func TestCheckExpiryAndDecodeBounded(t *testing.T) {
	const sid = "abcdefghijklmnopqrstuvwxyz012345"
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	rec := `{"cookie":{"originalMaxAge":1000,"expires":"2030-01-02T03:04:05.000Z","path":"/"},"n":1}`
	sess, err := DecodeBounded(sid, rec, len(rec))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		now  time.Time
		want bool
	}{{exp.Add(-time.Millisecond), false}, {exp, true}, {exp.Add(time.Hour), true}} {
		err := sess.CheckExpiry(tc.now)
		if got := errors.Is(err, ErrExpired); got != tc.want {
			t.Errorf("CheckExpiry(%v) = %v, want expired %v", tc.now, err, tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), sid) || !strings.Contains(err.Error(), "2030-01-02T03:04:05Z")) {
			t.Errorf("CheckExpiry's error %q: want the redacted sid and the time", err)
		}
	}
	browser, _ := DecodeSession(sid, `{"cookie":{"originalMaxAge":null,"expires":null}}`)
	if err := browser.CheckExpiry(exp.AddDate(100, 0, 0)); err != nil {
		t.Errorf("a browser-session cookie expired: %v", err)
	}
	if _, err := DecodeBounded(sid, rec, len(rec)-1); !errors.Is(err, ErrMalformedSession) || strings.Contains(err.Error(), sid) {
		t.Errorf("DecodeBounded over the bound = %v", err)
	}
}

// ResetMaxAge rewrites only cookie.expires, in express-session's form
// (now + originalMaxAge, toISOString), and leaves a browser-session
// cookie alone.
func TestResetMaxAge(t *testing.T) {
	now := time.Date(2026, 12, 3, 17, 0, 0, 123456789, time.UTC)
	for _, tt := range []struct{ in, want string }{
		{`{"cookie":{"originalMaxAge":3600000,"expires":"2020-01-01T00:00:00.000Z","httpOnly":true,"path":"/"},"a":{"x": 1}}`,
			`{"cookie":{"originalMaxAge":3600000,"expires":"2026-12-03T18:00:00.123Z","httpOnly":true,"path":"/"},"a":{"x": 1}}`},
		{`{"a":1,"cookie":{"originalMaxAge":null,"expires":null,"path":"/"}}`,
			`{"a":1,"cookie":{"originalMaxAge":null,"expires":null,"path":"/"}}`},
	} {
		s, err := DecodeSession("sid", tt.in)
		if err != nil {
			t.Fatal(err)
		}
		s.ResetMaxAge(now)
		if got := string(s.Encode()); got != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
}

// TestISOString: what Date.prototype.toISOString prints for the same
// instants (node -p 'new Date(MS).toISOString()').
func TestISOString(t *testing.T) {
	for _, tc := range []struct {
		ms   int64
		want string
	}{
		{0, "1970-01-01T00:00:00.000Z"},
		{1, "1970-01-01T00:00:00.001Z"},
		{1764806400123, "2025-12-04T00:00:00.123Z"},
		{-1, "1969-12-31T23:59:59.999Z"},
		{253402300799999, "9999-12-31T23:59:59.999Z"},
	} {
		if got := ISOString(time.UnixMilli(tc.ms).In(time.FixedZone("x", 3600))); got != tc.want {
			t.Errorf("ISOString(%d) = %s, want %s", tc.ms, got, tc.want)
		}
	}
}
