package knexstore

import (
	"context"
	"errors"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/expressbridge/expressbridge/connectsid"
)

// foreignRows are rows connect-session-knex does not write: each is
// malformed-session to Get and GetMany, never a panic.
var foreignRows = []struct {
	name, sess, expired string // expired "" is an hour from now, as knex writes it
}{
	{"not JSON", `not json`, ""},
	{"JSON array", `[1,2,3]`, ""},
	{"no cookie", `{"loggedIn":true}`, ""},
	{"cookie not an object", `{"cookie":5}`, ""},
	{"JSON string", `"{\"cookie\":{}}"`, ""},
	{"empty", ``, ""},
	{"expired not a date", `{"cookie":{"originalMaxAge":null,"expires":null,"path":"/"}}`, "soon"},
}

func TestForeignRowsSQLite(t *testing.T) {
	t.Parallel()
	st := openStore(t, "knex+sqlite://"+sqliteFile(t))
	ctx := context.Background()
	var sids []string
	for i, r := range foreignRows {
		sid := "foreign-row-" + string(rune('a'+i))
		sids = append(sids, sid)
		exp := r.expired
		if exp == "" {
			exp = isoDate(time.Now().Add(time.Hour).UnixMilli())
		}
		if _, err := st.db.Exec(`INSERT INTO sessions (sid, expired, sess) VALUES (?, ?, ?)`, sid, exp, r.sess); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Get(ctx, sid); !errors.Is(err, connectsid.ErrMalformedSession) {
			t.Errorf("%s: Get = %v, want ErrMalformedSession", r.name, err)
		}
	}
	err := st.GetMany(ctx, sids, func(sid string, _ *connectsid.Session, err error) {
		if !errors.Is(err, connectsid.ErrMalformedSession) {
			t.Errorf("%s: GetMany = %v, want ErrMalformedSession", sid, err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.TTL(ctx, sids[len(sids)-1]); !errors.Is(err, connectsid.ErrMalformedSession) {
		t.Errorf("TTL of a row whose expired is not a date = %v, want ErrMalformedSession", err)
	}
}

// FuzzGetSQLite: whatever a row holds, Get answers with a session or one
// of the store's errors, never a panic.
func FuzzGetSQLite(f *testing.F) {
	for _, r := range foreignRows {
		f.Add(r.sess, r.expired)
	}
	f.Add(`{"cookie":{"originalMaxAge":3600000,"expires":"2099-01-01T00:00:00.000Z","path":"/"},"n":1}`, "2099-01-01T00:00:00.000Z")
	st := openStore(f, "knex+sqlite://"+sqliteFile(f))
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, sess, expired string) {
		if !utf8.ValidString(sess) || !utf8.ValidString(expired) {
			return // not text: no connect-* package writes it, and SQLite's TEXT is UTF-8
		}
		if _, err := st.db.Exec(`INSERT OR REPLACE INTO sessions (sid, expired, sess) VALUES ('fuzz', ?, ?)`, expired, sess); err != nil {
			t.Fatal(err)
		}
		_, err := st.Get(ctx, "fuzz")
		if err != nil && !errors.Is(err, connectsid.ErrMalformedSession) && !errors.Is(err, connectsid.ErrExpired) {
			t.Fatalf("Get = %v", err)
		}
		_, _ = st.TTL(ctx, "fuzz")
	})
}
