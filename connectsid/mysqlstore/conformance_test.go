package mysqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/connectsid/mysqlstore"
	"github.com/expressbridge/expressbridge/connectsid/storetest"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// TestConformance runs the contract every store passes against MariaDB and
// express-mysql-session.
func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, storetest.Harness{
		Flavors: []storetest.Flavor{
			{Name: "express4+express-mysql-session3", App: testenv.NodeAppConfig{ExpressFlavor: "4", StoreFlavor: "express-mysql-session"}},
			{Name: "express5+express-mysql-session3", App: testenv.NodeAppConfig{ExpressFlavor: "5", StoreFlavor: "express-mysql-session"}},
		},
		Start:   startMyBackend,
		Timeout: mysqlstore.DefaultTimeout,
		Polled:  true,
	})
}

// startTable starts a database with express-mysql-session's table, created
// from the package's own schema.sql as it creates it (createDatabaseTable),
// so that a test without the app has it too, and returns it with a pool of
// OpenURL's, closed at cleanup.
func startTable(t testing.TB, opts ...testenv.MariaDBOption) (*testenv.MariaDB, *sql.DB) {
	m := testenv.StartMariaDB(t, opts...)
	schema, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "node-app", "node_modules", "express-mysql-session", "schema.sql"))
	if err != nil {
		t.Fatalf("express-mysql-session's schema.sql: %v (run npm ci in node-app)", err)
	}
	m.Exec(t, string(schema))
	db, _, err := mysqlstore.OpenURL(m.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return m, db
}

func startMyBackend(t *testing.T, opts storetest.Options) *storetest.Backend {
	var mopts []testenv.MariaDBOption
	if opts.Own {
		mopts = append(mopts, testenv.WithPrivateMariaDB())
	}
	m, db := startTable(t, mopts...)
	ctx := context.Background()
	store, err := mysqlstore.New(db, mysqlstore.Options{Expiration: opts.TTL})
	if err != nil {
		t.Fatal(err)
	}
	admin := m.DB(t)
	setExpires := func(t testing.TB, sid string, unix int64) {
		if _, err := admin.ExecContext(ctx, "UPDATE sessions SET expires = ? WHERE session_id = ?", unix, sid); err != nil {
			t.Fatal(err)
		}
	}
	return &storetest.Backend{
		Store: store,
		App: func(cfg testenv.NodeAppConfig) testenv.NodeAppConfig {
			cfg.DatabaseURL = m.URL()
			return cfg
		},
		Record: func(t testing.TB, sid string) (string, bool) {
			var rec string
			err := admin.QueryRowContext(ctx, "SELECT data FROM sessions WHERE session_id = ?", sid).Scan(&rec)
			if errors.Is(err, sql.ErrNoRows) {
				return "", false
			} else if err != nil {
				t.Fatal(err)
			}
			return rec, true
		},
		Keep: func(t testing.TB, sid string, d time.Duration) {
			setExpires(t, sid, time.Now().Add(d).Unix())
		},
		Expire: func(t testing.TB, sid string) {
			// express-mysql-session's clearExpiredSessions, of a row past
			// its expires.
			setExpires(t, sid, time.Now().Unix()-10)
			if _, err := admin.ExecContext(ctx, "DELETE FROM sessions WHERE expires < ?", time.Now().Unix()); err != nil {
				t.Fatal(err)
			}
		},
		EnableWatch: func(testing.TB) {},
		Kill:        m.Kill,
		Restart:     m.Start,
	}
}
