package storeurl_test

import (
	"context"
	"errors"
	"strings"
	"testing"

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
		{"knex+postgres://u:hunter2@127.0.0.1:5432/app?table=s", storeurl.Options{}, storeurl.Knex, ""},
		{"knex+mysql://u:hunter2@127.0.0.1:3306/app", storeurl.Options{Table: "s"}, storeurl.Knex, ""},
		{"knex+sqlite:///var/lib/app/sessions.sqlite", storeurl.Options{}, storeurl.Knex, ""},
		{"knex+sqlite://relative/sessions.sqlite", storeurl.Options{}, "", "three slashes"},
		{"knex+mysql://u:hunter2@127.0.0.1:3306/", storeurl.Options{}, "", "name the database"},
		{"knex+mysql://u:hunter2@127.0.0.1/app", storeurl.Options{DisableTouch: true}, "", "not connect-session-knex's"},
		{"knex+oracle://u:hunter2@db/app", storeurl.Options{}, "", `knex+sqlite:///path`},
		{"mysql://u:hunter2@db/app", storeurl.Options{}, "", `the scheme "mysql" is not a store's`},
		{"redis://127.0.0.1:6379", storeurl.Options{Table: "t"}, "", "need a postgres:// URL"},
		{"postgres://u:hunter2@127.0.0.1/app", storeurl.Options{DisableTTL: true}, "", "DisableTTL is connect-redis's"},
		{"redis://127.0.0.1:6379", storeurl.Options{TTL: -1}, "", "TTL must not be negative"},
		{"redis://u:hunter2@127.0.0.1:notaport", storeurl.Options{}, "", "not a URL"},
		{"redis://u:hunter2@127.0.0.1:6379/notadb", storeurl.Options{}, "", "redis://u:xxxxx@"},
	} {
		st, err := storeurl.Open(context.Background(), tc.url, tc.opts)
		if tc.err == "" {
			if err != nil {
				t.Errorf("Open(%s): %v", storeurl.Redact(tc.url), err)
				continue
			}
			if st.Kind != tc.kind || strings.Contains(st.URL, "hunter2") || opened(st) != 1 {
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

// opened counts the stores st holds.
func opened(st *storeurl.Store) int {
	n := 0
	for _, set := range []bool{st.Redis != nil, st.PG != nil, st.Knex != nil} {
		if set {
			n++
		}
	}
	return n
}
