package pgstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/pgstore"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// The expire arithmetic of connect-pg-simple's #getExpireTime and of
// express-session's touch, on a fixed clock.
func TestExpire(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_250) // .250 s past a whole second
	store, err := pgstore.New(nil, pgstore.Options{TTL: 600 * time.Second, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name             string
		cookie           string
		set, touch       int64
		setWhy, touchWhy string
	}{
		{"expires with milliseconds", `{"originalMaxAge":3600000,"expires":"2023-11-14T23:13:20.001Z"}`,
			1_700_003_601, 1_700_003_601, "ceil(expires/1s)", "ceil((now+maxAge)/1s)"},
		{"expires on a whole second", `{"originalMaxAge":3600000,"expires":"2023-11-14T23:13:20.000Z"}`,
			1_700_003_600, 1_700_003_601, "no rounding up", "ceil((now+maxAge)/1s)"},
		{"expires in the past", `{"originalMaxAge":1000,"expires":"1970-01-01T00:00:00.500Z"}`,
			1, 1_700_000_002, "still written, as connect-pg-simple does", "ceil((now+1s)/1s)"},
		{"browser-session cookie", `{"originalMaxAge":null,"expires":null}`,
			1_700_000_601, 1_700_000_601, "ceil(now/1s + ttl)", "ceil(now/1s + ttl)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sess, err := connectsid.DecodeSession("sid", `{"cookie":`+tt.cookie+`}`)
			if err != nil {
				t.Fatal(err)
			}
			if got := store.SetExpire(sess); got != tt.set {
				t.Errorf("SetExpire = %d, want %d (%s)", got, tt.set, tt.setWhy)
			}
			if got := store.TouchExpire(sess); got != tt.touch {
				t.Errorf("TouchExpire = %d, want %d (%s)", got, tt.touch, tt.touchWhy)
			}
		})
	}
	// connect-pg-simple's default ttl is a day.
	def, _ := pgstore.New(nil, pgstore.Options{Now: func() time.Time { return now }})
	sess, _ := connectsid.DecodeSession("sid", `{"cookie":{}}`)
	if got := def.SetExpire(sess); got != 1_700_000_001+86400 {
		t.Errorf("default TTL: SetExpire = %d", got)
	}
}

func TestTableAndChannel(t *testing.T) {
	tests := []struct {
		schema, table, quoted, channel string
	}{
		{"", "", `"session"`, "expressbridge:session"},
		{"app", "sess", `"app"."sess"`, "expressbridge:app.sess"},
		{`we"ird`, `t"`, `"we""ird"."t"""`, `expressbridge:we"ird.t"`},
		{"", strings.Repeat("x", 60), `"` + strings.Repeat("x", 60) + `"`, ""},
	}
	for _, tt := range tests {
		s, err := pgstore.New(nil, pgstore.Options{SchemaName: tt.schema, TableName: tt.table})
		if err != nil {
			t.Fatal(err)
		}
		if s.Table() != tt.quoted {
			t.Errorf("Table() = %s, want %s", s.Table(), tt.quoted)
		}
		if tt.channel != "" && s.Channel() != tt.channel || len(s.Channel()) > 63 {
			t.Errorf("Channel() = %q, want %q (at most 63 bytes)", s.Channel(), tt.channel)
		}
	}
}

func TestOpenURL(t *testing.T) {
	ctx := context.Background()
	for _, bad := range []string{"redis://127.0.0.1:6379", "mysql://u:p@h/db", "postgres://u:hunter2@h:notaport/db"} {
		pool, err := pgstore.OpenURL(ctx, bad)
		if err == nil {
			pool.Close()
			t.Errorf("OpenURL(%q) accepted it", bad)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("OpenURL's error shows the password: %v", err)
		}
	}
	pool, err := pgstore.OpenURL(ctx, "postgresql://u:hunter2@127.0.0.1:1/db?sslmode=disable")
	if err != nil {
		t.Fatalf("OpenURL of a database that is down must still give a pool: %v", err)
	}
	pool.Close()
	if got := pgstore.Redact("postgres://u:hunter2@h/db"); strings.Contains(got, "hunter2") {
		t.Errorf("Redact = %s", got)
	}
}

// Express's pool (node-pg) ignores $PGTZ; a Go pool that sent it would
// shift every expire by the zones' difference. A timezone in the URL is
// the operator's explicit choice and is kept.
func TestOpenURLIgnoresPGTZ(t *testing.T) {
	t.Setenv("PGTZ", "Asia/Tokyo") // not this machine's default (Etc/UTC)
	pg := testenv.StartPostgres(t)
	ctx := context.Background()
	for _, tt := range []struct{ query, want string }{{"", ""}, {"&timezone=America%2FLima", "America/Lima"}} {
		pool, err := pgstore.OpenURL(ctx, pg.URL()+tt.query)
		if err != nil {
			t.Fatal(err)
		}
		var tz string
		err = pool.QueryRow(ctx, "SHOW TimeZone").Scan(&tz)
		pool.Close()
		if err != nil || tz == "Asia/Tokyo" || tt.want != "" && tz != tt.want {
			t.Errorf("OpenURL(…%s): TimeZone %q, %v; want %q (the server's default when empty)", tt.query, tz, err, tt.want)
		}
	}
}
