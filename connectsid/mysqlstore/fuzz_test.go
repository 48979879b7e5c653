package mysqlstore_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/expressbridge/expressbridge/connectsid/mysqlstore"
)

// FuzzParseURL: any text is a config or an error, never a panic, and an
// error never holds the URL's password.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"mysql://u:hunter2@127.0.0.1:3306/app?table=sessions",
		"mysql://u:hunter2@[::1]/app?tls=true&timeout=2s",
		"mysql://u:hunter2@h/app?table=a&table=b",
		"mysql://u:hunter2@h:notaport/app",
		"mysql://:@/", "mysql://u:p%zz@h/db", "postgres://u:p@h/db",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		cfg, err := mysqlstore.ParseURL(raw)
		if err == nil {
			if cfg.Driver == nil || cfg.Driver.DBName == "" {
				t.Fatalf("ParseURL(%q) accepted it without a database", raw)
			}
			return
		}
		if u, perr := url.Parse(raw); perr == nil && u.User != nil {
			// A password that the redacted URL shows anyway (it is also
			// the host, say) proves nothing.
			if pw, ok := u.User.Password(); ok && len(pw) >= 4 && strings.Contains(err.Error(), pw) &&
				!strings.Contains(mysqlstore.Redact(raw), pw) {
				t.Fatalf("ParseURL's error holds the password: %v", err)
			}
		}
	})
}
