package main

import "testing"

// TestStoreFlagRefusals: each store option that does not fit the
// --store-url's kind is refused in the flags' own words (storeurl.Check's
// reasons), before anything is opened.
func TestStoreFlagRefusals(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"pg disable-ttl", []string{"--store-url", "postgres://127.0.0.1:1/app", "--disable-ttl"},
			"usage: --disable-ttl is connect-redis's: connect-pg-simple always writes expire\n"},
		{"mysql schema", []string{"--store-url", "mysql://u@127.0.0.1:1/app", "--schema", "s"},
			"usage: --schema is connect-pg-simple's: on MySQL the database is the mysql:// URL's path\n"},
		{"knex touch and ttl", []string{"--store-url", "knex+sqlite:///nonexistent/s.sqlite", "--disable-ttl", "--disable-touch"},
			"usage: --disable-ttl and --disable-touch are not connect-session-knex's: it always writes expired and touches\n"},
		{"knex ttl", []string{"--store-url", "knex+sqlite:///nonexistent/s.sqlite", "--ttl", "1h"},
			"usage: --ttl is not connect-session-knex's: a cookie without maxAge lives one day\n"},
		{"cookie-session table", []string{"--store-url", "cookie-session:", "--table", "t", "--schema", "s"},
			"usage: --table and --schema are a store's: cookie-session keeps the session in the cookie\n"},
		{"redis table", []string{"--store-url", "redis://127.0.0.1:1", "--table", "t"},
			"usage: --table is connect-pg-simple's, express-mysql-session's or connect-session-knex's: they need a postgres://, mysql:// or knex+ URL\n"},
		{"redis empty prefix", []string{"--store-url", "redis://127.0.0.1:1", "--prefix", ""},
			"usage: --prefix must not be empty"},
		{"zero ttl", []string{"--store-url", "redis://127.0.0.1:1", "--ttl", "0s"},
			"usage: --ttl must be positive, not 0s\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"session", "list"}, tt.args...)
			cli(t, map[string]string{envSecret: secrets[0]}, "", args...).want(t, exitUsage, nil, []string{tt.stderr})
		})
	}
}
