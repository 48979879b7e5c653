package mysqlstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/mysqlstore"
)

// TestRowsNotWritten: rows express-mysql-session would not write are
// malformed-session (or no session), never a panic, in Get and GetMany
// alike; a missing table is store-unavailable naming it.
func TestRowsNotWritten(t *testing.T) {
	t.Parallel()
	m, db := startTable(t)
	later := time.Now().Add(time.Hour).Unix()
	for _, r := range []struct {
		sid  string
		data any // nil: NULL
		exp  int64
	}{
		{"ok", benchRecord, later},
		{"null", nil, later},
		{"notjson", "not json", later},
		{"array", "[1,2]", later},
		{"nocookie", `{"loggedIn":true}`, later},
		{"huge", `{"cookie":{},"x":"` + strings.Repeat("a", connectsid.DefaultMaxRecordSize) + `"}`, later},
		{"expired", benchRecord, time.Now().Unix() - 5},
		{"expired-bad", "{", time.Now().Unix() - 5},
	} {
		m.Exec(t, "INSERT INTO sessions VALUES (?, ?, ?)", r.sid, r.exp, r.data)
	}
	s, err := mysqlstore.New(db, mysqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	wants := map[string]error{"ok": nil, "null": connectsid.ErrMalformedSession, "notjson": connectsid.ErrMalformedSession,
		"array": connectsid.ErrMalformedSession, "nocookie": connectsid.ErrMalformedSession, "huge": connectsid.ErrMalformedSession,
		"expired": connectsid.ErrExpired, "expired-bad": connectsid.ErrExpired, "missing": connectsid.ErrNoSession,
		"\xff": connectsid.ErrNoSession}
	var sids []string
	for sid, want := range wants {
		sids = append(sids, sid)
		_, err := s.Get(ctx, sid)
		if want == nil && err != nil || want != nil && !errors.Is(err, want) {
			t.Errorf("Get(%q) = %v, want %v", sid, err, want)
		}
	}
	n := 0
	if err := s.GetMany(ctx, sids, func(sid string, _ *connectsid.Session, err error) {
		n++
		if want := wants[sid]; want == nil && err != nil || want != nil && !errors.Is(err, want) {
			t.Errorf("GetMany: %q = %v, want %v", sid, err, want)
		}
	}); err != nil || n != len(sids) {
		t.Fatalf("GetMany = %v after %d of %d", err, n, len(sids))
	}

	other, err := mysqlstore.New(db, mysqlstore.Options{TableName: "nope"})
	if err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{"Get": func() error { _, err := other.Get(ctx, "ok"); return err }(), "Ping": other.Ping(ctx)} {
		if !errors.Is(err, connectsid.ErrStoreUnavailable) || !errors.Is(err, mysqlstore.ErrNoTable) || !strings.Contains(err.Error(), "`nope`") {
			t.Errorf("%s on a missing table = %v, want ErrStoreUnavailable wrapping ErrNoTable naming it", name, err)
		}
	}
}

// TestRounding: expires as express-mysql-session computes it,
// Math.round(ms / 1000).
func TestRounding(t *testing.T) {
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s, err := mysqlstore.New(nil, mysqlstore.Options{Now: func() time.Time { return base }, Expiration: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		expires string
		want    int64
	}{
		{"2030-01-01T00:00:10.499Z", base.Unix() + 10},
		{"2030-01-01T00:00:10.500Z", base.Unix() + 11},
		{"", base.Unix() + 2}, // now + 1.5 s, rounded up
	} {
		rec := `{"cookie":{"originalMaxAge":null,"expires":null}}`
		if tc.expires != "" {
			rec = `{"cookie":{"originalMaxAge":10000,"expires":"` + tc.expires + `"}}`
		}
		sess, err := connectsid.DecodeSession("x", rec)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.SetExpires(sess); got != tc.want {
			t.Errorf("SetExpires(%q) = %d, want %d", tc.expires, got, tc.want)
		}
	}
}
