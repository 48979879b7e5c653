package knexstore

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/connectsid/storetest"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// The suite's Express flavors on connect-session-knex.
func knexFlavors(dialect string) []storetest.Flavor {
	return []storetest.Flavor{
		{Name: "express4+connect-session-knex5+" + dialect, App: testenv.NodeAppConfig{ExpressFlavor: "4", StoreFlavor: "connect-session-knex"}},
		{Name: "express5+connect-session-knex5+" + dialect, App: testenv.NodeAppConfig{ExpressFlavor: "5", StoreFlavor: "connect-session-knex"}},
	}
}

// TestConformancePostgres runs the contract every store passes against
// PostgreSQL and connect-session-knex on knex's pg client.
func TestConformancePostgres(t *testing.T) {
	t.Parallel()
	storetest.Run(t, storetest.Harness{
		Flavors:  knexFlavors("pg"),
		Start:    startPostgresBackend,
		Timeout:  DefaultTimeout,
		FixedTTL: DefaultTTL,
		Polled:   true,
	})
}

// TestConformanceSQLite runs it against one SQLite file, which Express
// writes through better-sqlite3 and Go reads through modernc.org/sqlite.
func TestConformanceSQLite(t *testing.T) {
	t.Parallel()
	storetest.Run(t, storetest.Harness{
		Flavors:  knexFlavors("better-sqlite3"),
		Start:    startSQLiteBackend,
		Timeout:  DefaultTimeout,
		FixedTTL: DefaultTTL,
		Polled:   true,
	})
}

// TestConformanceMySQL runs it against MariaDB (the machine's 10.11) and
// connect-session-knex on knex's mysql2 client.
func TestConformanceMySQL(t *testing.T) {
	t.Parallel()
	storetest.Run(t, storetest.Harness{
		Flavors:  knexFlavors("mysql2"),
		Start:    startMySQLBackend,
		Timeout:  DefaultTimeout,
		FixedTTL: DefaultTTL,
		Polled:   true,
		// A DATETIME holds whole seconds: knex cuts the milliseconds.
		Resolution: time.Second,
	})
}

func startMySQLBackend(t *testing.T, opts storetest.Options) *storetest.Backend {
	var mopts []testenv.MariaDBOption
	if opts.Own {
		mopts = append(mopts, testenv.WithPrivateMariaDB())
	}
	my := testenv.StartMariaDB(t, mopts...)
	st := openStore(t, "knex+"+my.URL())
	b := backend(t, st)
	b.App = func(cfg testenv.NodeAppConfig) testenv.NodeAppConfig {
		cfg.DatabaseURL = my.URL()
		return cfg
	}
	b.Kill, b.Restart = my.Kill, my.Start
	return b
}

func startPostgresBackend(t *testing.T, opts storetest.Options) *storetest.Backend {
	var popts []testenv.PostgresOption
	if opts.Own {
		popts = append(popts, testenv.WithPrivatePostgres())
	}
	pg := testenv.StartPostgres(t, popts...)
	st := openStore(t, "knex+"+pg.URL())
	b := backend(t, st)
	b.App = func(cfg testenv.NodeAppConfig) testenv.NodeAppConfig {
		cfg.DatabaseURL = pg.URL()
		return cfg
	}
	b.Kill, b.Restart = pg.Kill, pg.Start
	return b
}

func startSQLiteBackend(t *testing.T, opts storetest.Options) *storetest.Backend {
	file := sqliteFile(t)
	st := openStore(t, "knex+sqlite://"+file)
	b := backend(t, st)
	b.App = func(cfg testenv.NodeAppConfig) testenv.NodeAppConfig {
		cfg.DatabaseURL = "sqlite://" + file
		return cfg
	}
	// A file does not go down: another process holding its lock
	// (a migration, a backup, a stuck writer) is its outage.
	var lock *sql.Conn
	b.Kill = func(t testing.TB) {
		lock = exclusiveLock(t, file)
	}
	b.Restart = func(t testing.TB) {
		if _, err := lock.ExecContext(context.Background(), "ROLLBACK"); err != nil {
			t.Fatal(err)
		}
		_ = lock.Close()
	}
	return b
}

// sqliteFile makes an empty SQLite file with connect-session-knex's table,
// which the Express app would create, so that tests without the app have
// it too.
func sqliteFile(t testing.TB) string {
	file := filepath.Join(t.TempDir(), "sessions.sqlite")
	db, err := sql.Open("sqlite", "file:"+file+"?mode=rwc")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := New(db, SQLite, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateTable(context.Background()); err != nil {
		t.Fatal(err)
	}
	return file
}

// exclusiveLock takes the file's exclusive lock on a connection of its
// own, held until ROLLBACK; closed at cleanup.
func exclusiveLock(t testing.TB, file string) *sql.Conn {
	db, err := sql.Open("sqlite", "file:"+file+"?mode=rw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	return conn
}

// openStore opens rawURL's store, creates its table, and closes it at
// cleanup.
func openStore(t testing.TB, rawURL string) *Store {
	st, err := Open(context.Background(), rawURL, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.CreateTable(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

// backend is the suite's hooks on st's table, through st's own handle.
func backend(t *testing.T, st *Store) *storetest.Backend {
	ctx := context.Background()
	d, sid := st.d, st.d.quote(st.opts.SIDFieldName)
	sess := "sess"
	if d.name == Postgres {
		sess = "sess::text"
	}
	setExpired := func(t testing.TB, id string, at time.Time) {
		if _, err := st.db.ExecContext(ctx, `UPDATE `+st.table+` SET expired = `+d.ph(1)+` WHERE `+sid+` = `+d.ph(2),
			d.date(at.UnixMilli()), id); err != nil {
			t.Fatal(err)
		}
	}
	// connect-session-knex's dbCleanup condition.
	cleanup := `expired < CAST(` + d.ph(1) + ` AS timestamp with time zone)`
	switch d.name {
	case MySQL:
		cleanup = `expired < CAST(? AS DATETIME)`
	case SQLite:
		cleanup = `datetime(expired) < datetime(?)`
	}
	return &storetest.Backend{
		Store: st,
		Record: func(t testing.TB, id string) (string, bool) {
			var rec string
			err := st.db.QueryRowContext(ctx, `SELECT `+sess+` FROM `+st.table+` WHERE `+sid+` = `+d.ph(1), id).Scan(&rec)
			if errors.Is(err, sql.ErrNoRows) {
				return "", false
			} else if err != nil {
				t.Fatal(err)
			}
			return rec, true
		},
		Keep: func(t testing.TB, id string, dur time.Duration) {
			setExpired(t, id, time.Now().Add(dur))
		},
		Expire: func(t testing.TB, id string) {
			// connect-session-knex's cleanup, of a row past its expired.
			setExpired(t, id, time.Now().Add(-10*time.Second))
			if _, err := st.db.ExecContext(ctx, `DELETE FROM `+st.table+` WHERE `+cleanup, d.date(time.Now().UnixMilli())); err != nil {
				t.Fatal(err)
			}
		},
		EnableWatch: func(testing.TB) {},
	}
}
