package pgstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/expressbridge/expressbridge/connectsid/pgstore"
	"github.com/expressbridge/expressbridge/connectsid/storetest"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// TestConformance runs the contract every store passes against PostgreSQL
// and connect-pg-simple.
func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, storetest.Harness{
		Flavors: []storetest.Flavor{
			{Name: "express4+connect-pg-simple10", App: testenv.NodeAppConfig{ExpressFlavor: "4", StoreFlavor: "connect-pg-simple"}},
			{Name: "express5+connect-pg-simple10", App: testenv.NodeAppConfig{ExpressFlavor: "5", StoreFlavor: "connect-pg-simple"}},
		},
		Start:   startPGBackend,
		Timeout: pgstore.DefaultTimeout,
	})
}

// startTable starts a database with connect-pg-simple's table, which the
// Express app would create itself (createTableIfMissing), so that a test
// without the app has it too, and returns it with a pool of OpenURL's,
// closed at cleanup.
func startTable(t *testing.T, opts ...testenv.PostgresOption) (*testenv.Postgres, *pgxpool.Pool) {
	pg := testenv.StartPostgres(t, opts...)
	pg.Exec(t, `CREATE TABLE session (sid varchar NOT NULL PRIMARY KEY, sess json NOT NULL, expire timestamp(6) NOT NULL)`)
	pool, err := pgstore.OpenURL(context.Background(), pg.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pg, pool
}

func startPGBackend(t *testing.T, opts storetest.Options) *storetest.Backend {
	var popts []testenv.PostgresOption
	if opts.Own {
		popts = append(popts, testenv.WithPrivatePostgres())
	}
	pg, pool := startTable(t, popts...)
	ctx := context.Background()
	store, err := pgstore.New(pool, pgstore.Options{TTL: opts.TTL})
	if err != nil {
		t.Fatal(err)
	}
	admin := pg.Pool(t)
	setExpire := func(t testing.TB, sid string, unix int64) {
		if _, err := admin.Exec(ctx, `UPDATE `+store.Table()+` SET expire = to_timestamp($1) WHERE sid = $2`, float64(unix), sid); err != nil {
			t.Fatal(err)
		}
	}
	return &storetest.Backend{
		Store: store,
		App: func(cfg testenv.NodeAppConfig) testenv.NodeAppConfig {
			cfg.DatabaseURL = pg.URL()
			return cfg
		},
		Record: func(t testing.TB, sid string) (string, bool) {
			var rec string
			err := admin.QueryRow(ctx, `SELECT sess::text FROM `+store.Table()+` WHERE sid = $1`, sid).Scan(&rec)
			if errors.Is(err, pgx.ErrNoRows) {
				return "", false
			} else if err != nil {
				t.Fatal(err)
			}
			return rec, true
		},
		Keep: func(t testing.TB, sid string, d time.Duration) {
			setExpire(t, sid, time.Now().Add(d).Unix())
		},
		Expire: func(t testing.TB, sid string) {
			// connect-pg-simple's pruning, of a row past its expire.
			setExpire(t, sid, time.Now().Unix()-10)
			if _, err := admin.Exec(ctx, `DELETE FROM `+store.Table()+` WHERE expire < to_timestamp($1)`, float64(time.Now().Unix())); err != nil {
				t.Fatal(err)
			}
		},
		EnableWatch: func(t testing.TB) {
			if err := store.InstallNotify(ctx); err != nil {
				t.Fatal(err)
			}
		},
		Kill:    pg.Kill,
		Restart: pg.Start,
	}
}
