package pgstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/pgstore"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

const secret = "cross-language secret ✓"

type rig struct {
	pg    *testenv.Postgres
	app   *testenv.NodeApp
	pool  *pgxpool.Pool
	store *pgstore.Store
	ver   *connectsid.Verifier
}

// newRig starts a database and the Express app on connect-pg-simple with
// the table and schema of opts, which the app creates (its
// createTableIfMissing); the schema is created here, as an operator would.
func newRig(t *testing.T, cfg testenv.NodeAppConfig, opts pgstore.Options) *rig {
	t.Helper()
	pg := testenv.StartPostgres(t)
	if opts.SchemaName != "" {
		pg.Exec(t, "CREATE SCHEMA "+pgstore.QuoteIdent(opts.SchemaName))
	}
	cfg.StoreFlavor, cfg.DatabaseURL, cfg.Secrets = "connect-pg-simple", pg.URL(), []string{secret}
	cfg.PGTable, cfg.PGSchema = opts.TableName, opts.SchemaName
	app := testenv.StartNodeApp(t, cfg)
	ver, err := connectsid.NewVerifier(secret)
	if err != nil {
		t.Fatal(err)
	}
	pool := pg.Pool(t)
	store, err := pgstore.New(pool, opts)
	if err != nil {
		t.Fatal(err)
	}
	return &rig{pg: pg, app: app, pool: pool, store: store, ver: ver}
}

// login logs in through Express and returns the cookie and the sid Go reads
// from it.
func (g *rig) login(t *testing.T, user string) (cookie, sid string) {
	t.Helper()
	cookie = g.app.Login(context.Background(), t, user)
	sid, _, err := g.ver.FromHeader(cookie, "connect.sid")
	if err != nil {
		t.Fatalf("Go cannot read the cookie Express set (%s): %v", connectsid.ErrorCode(err), err)
	}
	return cookie, sid
}

// row returns the stored record's text and its expire in Unix seconds,
// read with SQL of the test's own.
func (g *rig) row(t *testing.T, sid string) (rec string, expire int64) {
	t.Helper()
	var epoch float64
	err := g.pool.QueryRow(context.Background(), `SELECT sess::text, extract(epoch FROM expire::timestamptz)::float8 FROM `+
		g.store.Table()+` WHERE sid = $1`, sid).Scan(&rec, &epoch)
	if err != nil {
		t.Fatalf("row of %s: %v", connectsid.Redact(sid), err)
	}
	return rec, int64(epoch)
}

// setExpire moves a row's expire, as time passing would.
func (g *rig) setExpire(t *testing.T, sid string, unix int64) {
	t.Helper()
	if _, err := g.pool.Exec(context.Background(), `UPDATE `+g.store.Table()+` SET expire = to_timestamp($1) WHERE sid = $2`,
		float64(unix), sid); err != nil {
		t.Fatal(err)
	}
}

// result is one sid's outcome of GetMany.
type result struct {
	Session *connectsid.Session
	Err     error
}

// getMany collects GetMany's answers in sids' order.
func getMany(ctx context.Context, store *pgstore.Store, sids []string) ([]result, error) {
	var res []result
	err := store.GetMany(ctx, sids, func(sid string, sess *connectsid.Session, err error) {
		if sid != sids[len(res)] {
			panic("GetMany out of order")
		}
		res = append(res, result{sess, err})
	})
	return res, err
}

func ceilSeconds(t time.Time) int64 { return int64(math.Ceil(float64(t.UnixMilli()) / 1000)) }

// The row's expire, written by Express and by Go, is connect-pg-simple's:
// ceil(cookie.expires) on set, ceil(now + maxAge) on touch, which does not
// rewrite the record. (The records themselves cross in the conformance
// suite.)
func TestExpireAsConnectPgSimple(t *testing.T) {
	t.Parallel()
	g := newRig(t, testenv.NodeAppConfig{}, pgstore.Options{})
	ctx := context.Background()
	cookie, sid := g.login(t, "Zoë")
	_, expire := g.row(t, sid)
	sess, err := g.store.Get(ctx, sid)
	if err != nil {
		t.Fatal(err)
	}
	if want := ceilSeconds(*sess.Cookie().Expires); expire != want || g.store.SetExpire(sess) != want {
		t.Errorf("Express stored expire %d, Go computes %d; want ceil(cookie.expires) = %d", expire, g.store.SetExpire(sess), want)
	}

	// Go's Set writes what connect-pg-simple's set would for this record.
	if err := sess.Set("visits", 42); err != nil {
		t.Fatal(err)
	}
	if err := g.store.Set(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if rec, exp := g.row(t, sid); rec != string(sess.Encode()) || exp != ceilSeconds(*sess.Cookie().Expires) {
		t.Errorf("after Go's Set: expire %d, want ceil(cookie.expires) = %d; record stored as-is: %v",
			exp, ceilSeconds(*sess.Cookie().Expires), rec == string(sess.Encode()))
	}

	// An unmodified request: Express touches the row, expire =
	// ceil((now + maxAge)/1s) on its clock. Go's Touch writes the same.
	before := time.Now()
	if !g.app.WhoAmI(ctx, t, cookie).LoggedIn {
		t.Fatal("Express refuses the session Go saved")
	}
	after := time.Now()
	if _, touched := g.row(t, sid); touched < ceilSeconds(before.Add(time.Hour)) || touched > ceilSeconds(after.Add(time.Hour)) {
		t.Errorf("Express's touch wrote expire %d, want ceil(now + 1h) in [%d, %d]", touched,
			ceilSeconds(before.Add(time.Hour)), ceilSeconds(after.Add(time.Hour)))
	}
	g.setExpire(t, sid, time.Now().Unix()+100)
	before = time.Now()
	if err := g.store.Touch(ctx, sess); err != nil {
		t.Fatal(err)
	}
	after = time.Now()
	if _, exp := g.row(t, sid); exp < ceilSeconds(before.Add(time.Hour)) || exp > ceilSeconds(after.Add(time.Hour)) {
		t.Errorf("Go's Touch wrote expire %d, want ceil(now + originalMaxAge) as Express's touch", exp)
	}
	if rec, _ := g.row(t, sid); rec != string(sess.Encode()) {
		t.Error("Touch must not rewrite the record")
	}
}

// A row whose expire has passed is refused by Go exactly when
// connect-pg-simple refuses it: expire >= to_timestamp(ceil(now)).
func TestExpiredRow(t *testing.T) {
	t.Parallel()
	g := newRig(t, testenv.NodeAppConfig{}, pgstore.Options{})
	ctx := context.Background()
	cookie, sid := g.login(t, "Zoë")
	now := time.Now()
	nowSec := ceilSeconds(now)

	tests := []struct {
		name   string
		expire int64
		want   error
	}{
		{"expire a second ahead", nowSec + 1, nil},
		{"expire this very second", nowSec, nil},
		{"expire a second ago", nowSec - 1, connectsid.ErrExpired},
		{"expire a day ago", nowSec - 86400, connectsid.ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g.setExpire(t, sid, tt.expire)
			store, _ := pgstore.New(g.pool, pgstore.Options{Now: func() time.Time { return now }})
			_, err := store.Get(ctx, sid)
			if !errors.Is(err, tt.want) && (err != nil || tt.want != nil) {
				t.Fatalf("Get = %v, want %v", err, tt.want)
			}
			res, err := getMany(ctx, store, []string{sid})
			if err != nil || !errors.Is(res[0].Err, tt.want) && (res[0].Err != nil || tt.want != nil) {
				t.Fatalf("GetMany = %v, %v; want %v", res, err, tt.want)
			}
		})
	}
	// Express agrees on a row that expired, seen on the real clock.
	g.setExpire(t, sid, time.Now().Unix()-2)
	if g.app.WhoAmI(ctx, t, cookie).LoggedIn {
		t.Error("Express accepts a row whose expire has passed")
	}
	if sess, err := g.store.Get(ctx, sid); !errors.Is(err, connectsid.ErrExpired) || sess == nil {
		t.Errorf("Get of an expired row = %v, %v; want ErrExpired with the session", sess, err)
	}
	if ttl, err := g.store.TTL(ctx, sid); err != nil || ttl > -time.Second {
		t.Errorf("TTL of an expired row = %v, %v; want negative", ttl, err)
	}
	if ids, err := g.store.IDs(ctx, 0); err != nil || len(ids) != 0 {
		t.Errorf("IDs = %v, %v; expired rows are not listed", ids, err)
	}
}

// Names from flags are quoted identically on both sides, however odd.
func TestCustomTableSchemaAndDisableTouch(t *testing.T) {
	t.Parallel()
	opts := pgstore.Options{SchemaName: `app "data"`, TableName: `Sess'ions; DROP TABLE x --`, DisableTouch: true}
	g := newRig(t, testenv.NodeAppConfig{DisableTouch: true}, opts)
	if want := `"app ""data"""."Sess'ions; DROP TABLE x --"`; g.store.Table() != want {
		t.Fatalf("Table() = %s, want %s", g.store.Table(), want)
	}
	ctx := context.Background()
	cookie, sid := g.login(t, "Zoë")
	sess, err := g.store.Get(ctx, sid)
	if err != nil {
		t.Fatalf("Go cannot read the table Express created: %v", err)
	}
	if err := g.store.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	// DisableTouch: neither Express's touch nor Go's moves expire.
	g.setExpire(t, sid, time.Now().Unix()+100)
	if !g.app.WhoAmI(ctx, t, cookie).LoggedIn {
		t.Fatal("Express refuses its own session")
	}
	if err := g.store.Touch(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if _, exp := g.row(t, sid); math.Abs(float64(exp-time.Now().Unix()-100)) > 1 {
		t.Errorf("expire moved to %d with disableTouch", exp)
	}
	sess.Set("visits", 1)
	if err := g.store.Set(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if ids, err := g.store.IDs(ctx, 10); err != nil || len(ids) != 1 || ids[0] != sid {
		t.Errorf("IDs = %v, %v", ids, err)
	}
	var visits float64
	json.Unmarshal(g.app.WhoAmI(ctx, t, cookie).Session, &struct{ Visits *float64 }{&visits})
	if visits != 1 {
		t.Error("Express does not see Go's Set in the custom table")
	}
	// The default table is not there: Ping says so, and Get is a system fault.
	other, _ := pgstore.New(g.pool, pgstore.Options{})
	if err := other.Ping(ctx); !errors.Is(err, pgstore.ErrNoTable) || !errors.Is(err, connectsid.ErrStoreUnavailable) {
		t.Errorf("Ping without the table = %v", err)
	}
	if _, err := other.Get(ctx, sid); !errors.Is(err, pgstore.ErrNoTable) {
		t.Errorf("Get without the table = %v", err)
	}
}

func TestBadRecords(t *testing.T) {
	t.Parallel()
	pg := testenv.StartPostgres(t)
	pg.Exec(t, `CREATE TABLE session (sid varchar NOT NULL PRIMARY KEY, sess json NOT NULL, expire timestamp(6) NOT NULL)`)
	pool := pg.Pool(t)
	store, _ := pgstore.New(pool, pgstore.Options{})
	ctx := context.Background()
	const sid = "bad-record-sid-0123456789abcdef"
	tests := []struct {
		name, record string
		want         error
	}{
		{"not an object", "[1,2,3]", connectsid.ErrMalformedSession},
		{"a string", `"x"`, connectsid.ErrMalformedSession},
		{"no cookie", `{"loggedIn":true}`, connectsid.ErrMalformedSession},
		{"cookie of the wrong type", `{"cookie":[],"loggedIn":true}`, connectsid.ErrMalformedSession},
		{"1 MB", `{"cookie":{},"x":"` + strings.Repeat("x", 1<<20) + `"}`, connectsid.ErrMalformedSession},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := pool.Exec(ctx, `INSERT INTO session VALUES ($1, $2, now() + interval '1 hour')
				ON CONFLICT (sid) DO UPDATE SET sess = $2`, sid, tt.record); err != nil {
				t.Fatal(err)
			}
			_, err := store.Get(ctx, sid)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Get = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), connectsid.Redact(sid)) || strings.Contains(err.Error(), sid) {
				t.Fatalf("error %q must name the sid, redacted", err)
			}
		})
	}
	// sids PostgreSQL cannot hold are no session, not a fault.
	for _, bad := range []string{"nul\x00sid", "bad-utf8-\xff"} {
		if _, err := store.Get(ctx, bad); !errors.Is(err, connectsid.ErrNoSession) {
			t.Errorf("Get(%q) = %v, want ErrNoSession", bad, err)
		}
	}
	if _, err := pgstore.New(pool, pgstore.Options{TableName: "a\x00b"}); err == nil {
		t.Error("New accepted a table name with NUL")
	}
}

// GetMany answers for many sessions in one query, each as Get would.
func TestGetMany(t *testing.T) {
	t.Parallel()
	g := newRig(t, testenv.NodeAppConfig{}, pgstore.Options{})
	ctx := context.Background()
	_, live := g.login(t, "Ann")
	outCookie, out := g.login(t, "Bob")
	g.app.Logout(ctx, t, outCookie)
	_, expired := g.login(t, "Cy")
	g.setExpire(t, expired, time.Now().Unix()-5)
	if _, err := g.pool.Exec(ctx, `INSERT INTO session VALUES ('malformed', '[1]', now() + interval '1 hour')`); err != nil {
		t.Fatal(err)
	}
	sids := []string{live, out, expired, "malformed", "never-existed", "nul\x00", live}
	want := []error{nil, connectsid.ErrNoSession, connectsid.ErrExpired, connectsid.ErrMalformedSession,
		connectsid.ErrNoSession, connectsid.ErrNoSession, nil}
	res, err := getMany(ctx, g.store, sids)
	if err != nil || len(res) != len(sids) {
		t.Fatalf("GetMany = %d results, %v", len(res), err)
	}
	for i := range sids {
		if !errors.Is(res[i].Err, want[i]) && (res[i].Err != nil || want[i] != nil) {
			t.Errorf("sids[%d]: %v, want %v", i, res[i].Err, want[i])
		}
		single, err := g.store.Get(ctx, sids[i])
		if (err == nil) != (res[i].Err == nil) || connectsid.ErrorCode(err) != connectsid.ErrorCode(res[i].Err) {
			t.Errorf("sids[%d]: GetMany says %v, Get says %v", i, res[i].Err, err)
		}
		if single != nil && res[i].Session != nil && !bytes.Equal(single.Encode(), res[i].Session.Encode()) {
			t.Errorf("sids[%d]: GetMany's session differs from Get's", i)
		}
	}
	if user, _ := res[0].Session.String("username"); user != "Ann" {
		t.Errorf("username = %q", user)
	}
	if res, err := getMany(ctx, g.store, nil); err != nil || len(res) != 0 {
		t.Errorf("GetMany(nil) = %v, %v", res, err)
	}
	// 2000 sessions, one query: t.Log shows what it costs.
	many := make([]string, 2000)
	batch := &pgx.Batch{}
	for i := range many {
		many[i] = fmt.Sprintf("bulk-%05d", i)
		batch.Queue(`INSERT INTO session VALUES ($1, '{"cookie":{"originalMaxAge":null,"expires":null},"loggedIn":true}', now() + interval '1 hour')`, many[i])
	}
	if err := g.pool.SendBatch(ctx, batch).Close(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err = getMany(ctx, g.store, many)
	if err != nil {
		t.Fatal(err)
	}
	d := time.Since(start)
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("bulk %d: %v", i, r.Err)
		}
	}
	t.Logf("GetMany of %d sessions: %v", len(many), d)
}

func TestDatabaseDown(t *testing.T) {
	t.Parallel()
	pg, pool := startTable(t, testenv.WithPrivatePostgres())
	ctx := context.Background()
	// Timing sees each call once: a missing row is an answer, a dead
	// database an error.
	var (
		mu      sync.Mutex
		timings []string
	)
	timed := func() string {
		mu.Lock()
		defer mu.Unlock()
		s := strings.Join(timings, " ")
		timings = nil
		return s
	}
	store, _ := pgstore.New(pool, pgstore.Options{Timing: func(op string, d time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		timings = append(timings, fmt.Sprintf("%s:%v", op, err == nil))
	}})
	if _, err := store.Get(ctx, "x"); !errors.Is(err, connectsid.ErrNoSession) {
		t.Fatalf("Get = %v", err)
	}
	if got := timed(); got != "get:true" {
		t.Errorf("Timing after a Get of a missing row: %q, want get:true", got)
	}
	// The pool's connections are ended (a failover, an administrator): the
	// next call still gets its answer.
	if n := pg.TerminateBackends(t); n == 0 {
		t.Fatal("the pool held no connection")
	}
	if _, err := store.Get(ctx, "x"); !errors.Is(err, connectsid.ErrNoSession) {
		t.Fatalf("first call after pg_terminate_backend: %v", err)
	}
	timed()
	pg.Kill(t)
	if _, err := store.Get(ctx, "x"); !errors.Is(err, connectsid.ErrStoreUnavailable) {
		t.Fatalf("Get with the database down: %v", err)
	}
	if got := timed(); got != "get:false" {
		t.Errorf("Timing after a Get with the database down: %q, want get:false", got)
	}
	// Every call's failure with the database down, and its return, are the
	// conformance suite's; GetMany is PostgreSQL's own.
	start := time.Now()
	if _, err := getMany(ctx, store, []string{"x"}); !errors.Is(err, connectsid.ErrStoreUnavailable) {
		t.Fatalf("GetMany with the database down: %v, want ErrStoreUnavailable", err)
	}
	if d := time.Since(start); d > pgstore.DefaultTimeout+500*time.Millisecond {
		t.Fatalf("GetMany: a dead database held the caller for %v", d)
	}
}

// A database that accepts the query but never answers (a lock, a stalled
// server) must not hold a caller longer than the timeout.
func TestContextBoundsEveryCall(t *testing.T) {
	t.Parallel()
	pg := testenv.StartPostgres(t)
	pg.Exec(t, `CREATE TABLE session (sid varchar NOT NULL PRIMARY KEY, sess json NOT NULL, expire timestamp(6) NOT NULL)`)
	ctx := context.Background()
	pool := pg.Pool(t)
	store, _ := pgstore.New(pool, pgstore.Options{Timeout: 300 * time.Millisecond})
	locker, err := pgx.Connect(ctx, pg.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close(ctx)
	tx, err := locker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "LOCK TABLE session IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = store.Get(ctx, "x")
	if !errors.Is(err, connectsid.ErrStoreUnavailable) || time.Since(start) > time.Second {
		t.Fatalf("Get on a locked table = %v after %v", err, time.Since(start))
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := store.Get(cctx, "x"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with a canceled context = %v", err)
	}
	tx.Rollback(ctx)
	if _, err := store.Get(ctx, "x"); !errors.Is(err, connectsid.ErrNoSession) {
		t.Fatalf("Get once the lock is gone = %v", err)
	}
}
