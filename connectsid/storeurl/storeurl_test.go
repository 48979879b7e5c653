package storeurl_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/connectsid/storeurl"
)

// TestOpen: the kind each URL names, and each refusal, without I/O (both
// stores connect on first use). No error holds the password.
func TestOpen(t *testing.T) {
	for _, tc := range []struct {
		url  string
		opts storeurl.Options
		kind storeurl.Kind
		err  string // "" when Open succeeds
	}{
		{"redis://127.0.0.1:6379", storeurl.Options{}, storeurl.Redis, ""},
		{"rediss://u:hunter2@127.0.0.1:6380/2", storeurl.Options{}, storeurl.Redis, ""},
		{"redis+cluster://127.0.0.1:7000,127.0.0.1:7001", storeurl.Options{}, storeurl.Redis, ""},
		{"redis://127.0.0.1:26379?master_name=mymaster", storeurl.Options{}, storeurl.Redis, ""},
		{"postgres://u:hunter2@127.0.0.1:5432/app", storeurl.Options{Table: "sessions"}, storeurl.Postgres, ""},
		{"postgresql://127.0.0.1/app", storeurl.Options{}, storeurl.Postgres, ""},
		{"mysql://u:hunter2@db/app", storeurl.Options{}, storeurl.MySQL, ""},
		{"mysql://u:hunter2@127.0.0.1:3306/app?table=sess", storeurl.Options{Table: "sess"}, storeurl.MySQL, ""},
		{"mysql://u:hunter2@127.0.0.1:3306/app?table=a", storeurl.Options{Table: "b"}, "", "differ"},
		{"mysql://u:hunter2@127.0.0.1:3306/app?pool=9", storeurl.Options{}, "", `unknown parameter "pool"`},
		{"mysql://u:hunter2@127.0.0.1:3306/", storeurl.Options{}, "", "mysql://u:xxxxx@"},
		{"mysql://u:hunter2@127.0.0.1/app", storeurl.Options{DisableTTL: true}, "", "DisableTTL is connect-redis's"},
		{"mongodb://u:hunter2@db/app", storeurl.Options{}, "", `the scheme "mongodb" is not a store's: use redis://, rediss://, redis+cluster://, postgres://, mysql://`},
		{"knex+postgres://u:hunter2@127.0.0.1:5432/app?table=s", storeurl.Options{}, storeurl.Knex, ""},
		{"knex+mysql://u:hunter2@127.0.0.1:3306/app", storeurl.Options{Table: "s"}, storeurl.Knex, ""},
		{"knex+mysql://u:hunter2@127.0.0.1:3306/app?table=s", storeurl.Options{Table: "s"}, storeurl.Knex, ""},
		{"knex+mysql://u:hunter2@127.0.0.1:3306/app?table=s", storeurl.Options{Table: "t"}, "", "differ"},
		{"knex+sqlite:///var/lib/app/sessions.sqlite", storeurl.Options{}, storeurl.Knex, ""},
		{"knex+sqlite://relative/sessions.sqlite", storeurl.Options{}, "", "three slashes"},
		{"knex+mysql://u:hunter2@127.0.0.1:3306/", storeurl.Options{}, "", "name the database"},
		{"knex+mysql://u:hunter2@127.0.0.1/app", storeurl.Options{DisableTouch: true}, "", "not connect-session-knex's"},
		{"knex+oracle://u:hunter2@db/app", storeurl.Options{}, "", `knex+sqlite:///path`},
		{"redis://127.0.0.1:6379", storeurl.Options{Table: "t"}, "", "Table is connect-pg-simple's, express-mysql-session's or connect-session-knex's: they need a postgres://, mysql:// or knex+ URL"},
		{"postgres://u:hunter2@127.0.0.1/app", storeurl.Options{DisableTTL: true}, "", "DisableTTL is connect-redis's"},
		{"redis://127.0.0.1:6379", storeurl.Options{TTL: -1}, "", "TTL must not be negative"},
		{"redis://u:hunter2@127.0.0.1:notaport", storeurl.Options{}, "", "not a URL"},
		{"redis://u:hunter2@127.0.0.1:6379/notadb", storeurl.Options{}, "", "redis://u:xxxxx@"},
		{"cookie-session:", storeurl.Options{}, storeurl.CookieSession, ""},
		{"cookie-session:?algorithm=sha256", storeurl.Options{}, storeurl.CookieSession, ""},
		{"cookie-session:?algorithm=md5", storeurl.Options{}, "", "keygrip's algorithm"},
		{"cookie-session:?keys=x", storeurl.Options{}, "", "not an option of cookie-session"},
		{"cookie-session://u:hunter2@host", storeurl.Options{}, "", "names no server"},
		{"cookie-session:", storeurl.Options{Table: "t"}, "", "Table is a store's: cookie-session keeps the session in the cookie"},
		{"cookie-session:", storeurl.Options{Table: "t", DisableTTL: true}, "", "Table and DisableTTL are a store's"},
		{"knex+sqlite:///tmp/s.sqlite", storeurl.Options{Schema: "s"}, "", "Schema is connect-pg-simple's"},
		{"knex+sqlite:///tmp/s.sqlite", storeurl.Options{TTL: time.Hour}, "", "TTL is not connect-session-knex's"},
		{"knex+sqlite:///tmp/s.sqlite", storeurl.Options{DisableTTL: true, DisableTouch: true}, "", "DisableTTL and DisableTouch are not connect-session-knex's"},
		{"mysql://u:hunter2@127.0.0.1/app", storeurl.Options{Schema: "s"}, "", "Schema is connect-pg-simple's: on MySQL"},
	} {
		st, err := storeurl.Open(context.Background(), tc.url, tc.opts)
		if tc.err == "" {
			if err != nil {
				t.Errorf("Open(%s): %v", storeurl.Redact(tc.url), err)
				continue
			}
			want := 1
			if st.Kind == storeurl.CookieSession {
				want = 0
			}
			if st.Kind != tc.kind || strings.Contains(st.URL, "hunter2") ||
				countSet(st.Redis != nil, st.PG != nil, st.MySQL != nil, st.Knex != nil) != want || (st.Sessions() == nil) != (want == 0) {
				t.Errorf("Open(%s) = kind %s, URL %s", storeurl.Redact(tc.url), st.Kind, st.URL)
			}
			st.Close()
			continue
		}
		if err == nil {
			st.Close()
			t.Errorf("Open(%s) accepted it, want %q", storeurl.Redact(tc.url), tc.err)
			continue
		}
		if !errors.Is(err, storeurl.ErrBadURL) || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open(%s): %v; want ErrBadURL with %q and no password", storeurl.Redact(tc.url), err, tc.err)
		}
	}
}

func countSet(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}
