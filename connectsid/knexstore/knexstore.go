// Package knexstore reads and writes express-session records exactly as
// connect-session-knex (5) does, on PostgreSQL, MySQL/MariaDB and SQLite:
// one row per session in its table sessions(sid varchar(255) primary key,
// sess json, expired), with the same expiry arithmetic and the same
// conditions, so that Express and Go share sessions in both directions.
//
// What each database holds, as knex writes it:
//
//   - PostgreSQL: sess json (the text kept as written), expired timestamptz
//     to the millisecond.
//   - MySQL and MariaDB: sess json (MariaDB's is LONGTEXT, kept as written;
//     MySQL's own JSON type normalises the text), expired DATETIME in UTC
//     to the second (the milliseconds cut off).
//   - SQLite: sess json (text), expired the ISO 8601 text of
//     Date.toISOString, compared through datetime() to the second.
//
// Times are the app server's clock (Options.Now), never the database's, as
// connect-session-knex's are. It knows nothing of HTTP; every call honours
// its context and is bounded by Options.Timeout, so that a dead database
// answers connectsid.ErrStoreUnavailable quickly.
//
// connect-session-knex has no change notifications: Watch reports none,
// and the caller revalidates its open sessions with GetMany, one query per
// 10,000 of them (expressbridge.New does so every second).
package knexstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/expressbridge/expressbridge/connectsid"
)

// Defaults, each the same as connect-session-knex's unless said otherwise.
const (
	DefaultTableName    = "sessions"
	DefaultSIDFieldName = "sid"
	// DefaultTTL is connect-session-knex's fixed expiry of a record whose
	// cookie has no maxAge (it has no ttl option).
	DefaultTTL = 86400 * time.Second
	// DefaultTimeout bounds one store call; ours, so that a dead database
	// delays a handshake by at most this much.
	DefaultTimeout = 2 * time.Second
	// maxBatch bounds the sids of one GetMany query, under every
	// dialect's limit on parameters.
	maxBatch = 10_000
)

// ErrNoTable means the session table does not exist (yet):
// connect-session-knex creates it at start unless createTable is false.
var ErrNoTable = errors.New("session table does not exist")

// ErrNoWatch is what Watch gives onSync: the databases report no changes,
// so the caller must poll (GetMany).
var ErrNoWatch = errors.New("connect-session-knex's table reports no session changes: revalidate open sessions by polling")

// Options are connect-session-knex's options that change what is stored,
// plus the Go side's limits. The zero value is its defaults.
type Options struct {
	// TableName is connect-session-knex's tableName ("sessions").
	TableName string
	// SIDFieldName is its sidFieldName ("sid").
	SIDFieldName string
	// MaxRecordSize bounds a record before decoding
	// (connectsid.DefaultMaxRecordSize when zero).
	MaxRecordSize int
	// Timeout bounds each call (DefaultTimeout when zero).
	Timeout time.Duration
	// Now returns the time used for expired and its checks (time.Now
	// when nil): connect-session-knex uses the app server's clock.
	Now func() time.Time
	// Timing, when set, is called after each round trip with the
	// operation ("get", "get many", "set", "update", "touch", "destroy",
	// "ttl", "ids", "ping"), how long it took (a retry included) and its
	// error; a missing row is an answer, not an error.
	Timing func(op string, d time.Duration, err error)
}

// Store is a session store on a database/sql handle. It is safe for
// concurrent use.
type Store struct {
	db    *sql.DB
	d     *dialect
	opts  Options
	table string // quoted
	q     queries
	close func() error
}

// queries are the statements, built once for the table.
type queries struct {
	get, set, update, touch, destroy, ttl, exists string
	getMany, ids                                  string // prefixes, completed per call
}

// New returns a store on db, a handle on a database of dialect d (the
// caller opened it with a driver of its choice: pgx's stdlib, go-sql-driver
// /mysql with clientFoundRows=true, modernc.org/sqlite). Zero fields of
// opts take their defaults. It fails on an unknown dialect or a name that
// holds a NUL byte. Close does not close db.
func New(db *sql.DB, d Dialect, opts Options) (*Store, error) {
	dl, ok := dialectOf(d)
	if !ok {
		return nil, fmt.Errorf("knexstore: unknown dialect %q (postgres, mysql or sqlite)", d)
	}
	if opts.TableName == "" {
		opts.TableName = DefaultTableName
	}
	if opts.SIDFieldName == "" {
		opts.SIDFieldName = DefaultSIDFieldName
	}
	if strings.ContainsRune(opts.TableName+opts.SIDFieldName, 0) {
		return nil, errors.New("knexstore: table and column names cannot hold a NUL byte")
	}
	if opts.MaxRecordSize <= 0 {
		opts.MaxRecordSize = connectsid.DefaultMaxRecordSize
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Store{db: db, d: dl, opts: opts, table: dl.quote(opts.TableName), close: func() error { return nil }}
	t, sid, p := s.table, dl.quote(opts.SIDFieldName), dl.ph
	sess := "sess"
	if d == Postgres {
		sess = "sess::text"
	}
	// connect-session-knex's statements with the same parameters; Get
	// and GetMany also say whether the row is live instead of hiding it.
	// Parameters are in the order they appear, for the "?" dialects.
	s.q = queries{
		get:     `SELECT ` + sess + `, ` + dl.live(1) + ` FROM ` + t + ` WHERE ` + sid + ` = ` + p(2),
		getMany: `SELECT ` + sid + `, ` + sess + `, ` + dl.live(1) + ` FROM ` + t + ` WHERE ` + sid + ` IN (`,
		touch:   `UPDATE ` + t + ` SET expired = ` + p(1) + ` WHERE ` + sid + ` = ` + p(2) + ` AND ` + dl.live(3),
		destroy: `DELETE FROM ` + t + ` WHERE ` + sid + ` = ` + p(1),
		ttl:     `SELECT ` + dl.expiryMS + ` FROM ` + t + ` WHERE ` + sid + ` = ` + p(1),
		ids:     `SELECT ` + sid + ` FROM ` + t + ` WHERE ` + dl.live(1),
	}
	// Update's write: set's columns as an UPDATE only (never an insert),
	// and only of the text Update read, compared as the text Get reads
	// and byte for byte (MariaDB's json is utf8mb4_bin, which pads
	// spaces; SQLite compares text as bytes).
	s.q.update = `UPDATE ` + t + ` SET expired = ` + p(1) + `, sess = ` + p(2) + ` WHERE ` + sid + ` = ` + p(3) + ` AND `
	switch d {
	case Postgres:
		s.q.update = `UPDATE ` + t + ` SET expired = $1::timestamp with time zone, sess = $2::json WHERE ` + sid + ` = $3 AND sess::text = $4`
	case MySQL:
		s.q.update += `CAST(sess AS BINARY) = CAST(? AS BINARY)`
	case SQLite:
		s.q.update += `sess = ?`
	}
	switch d {
	case Postgres:
		// The same row as getPostgresFastQuery's update-then-insert, in
		// one statement that two writers cannot race.
		s.q.set = `INSERT INTO ` + t + ` (` + sid + `, expired, sess) VALUES ($1, $2::timestamp with time zone, $3::json)` +
			` ON CONFLICT (` + sid + `) DO UPDATE SET expired = EXCLUDED.expired, sess = EXCLUDED.sess`
		s.q.exists = `SELECT to_regclass($1::text) IS NOT NULL`
	case MySQL:
		s.q.set = `INSERT INTO ` + t + ` (` + sid + `, expired, sess) VALUES (?, ?, ?)` +
			` ON DUPLICATE KEY UPDATE expired=VALUES(expired), sess=VALUES(sess)`
		s.q.exists = `SELECT COUNT(*) > 0 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?`
	case SQLite:
		s.q.set = `INSERT OR REPLACE INTO ` + t + ` (` + sid + `, expired, sess) VALUES (?, ?, ?)`
		s.q.exists = `SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?`
	}
	return s, nil
}

// Dialect returns the store's dialect.
func (s *Store) Dialect() Dialect { return s.d.name }

// Table returns the table's name as the SQL uses it, quoted.
func (s *Store) Table() string { return s.table }

// DB returns the underlying handle.
func (s *Store) DB() *sql.DB { return s.db }

// Close releases what Open opened; for a store from New it does nothing.
func (s *Store) Close() error { return s.close() }

// Get loads a session. It fails with connectsid.ErrNoSession when there is
// no row, ErrExpired when the row's expired has passed (connect-session-knex's
// get does not return such rows), ErrMalformedSession when the row is not
// one connect-session-knex writes (a record that is not a session, too
// large, NULL, or an expired the database cannot read as a date),
// ErrStoreUnavailable when the database cannot be asked (wrapping ErrNoTable
// when the table is missing). With ErrExpired the decoded session is
// returned when there is one. Like connect-session-knex it leaves
// cookie.expires alone: whether a record past it is accepted is the
// gate's (auth.Config.AcceptExpired).
func (s *Store) Get(ctx context.Context, sid string) (*connectsid.Session, error) {
	// 1. A sid the databases cannot hold (NUL, bad UTF-8) has no row.
	if !storable(sid) {
		return nil, noSession(sid, "not storable in SQL")
	}
	// 2. One query, retried once on a lost connection.
	var (
		rec  sql.NullString
		live sql.NullBool
	)
	now := s.d.date(s.opts.Now().UnixMilli())
	err := s.do(ctx, "get", func(ctx context.Context) error {
		return s.db.QueryRowContext(ctx, s.q.get, now, sid).Scan(&rec, &live)
	})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, noSession(sid, "")
	case err != nil:
		return nil, err
	}
	// 3. The record and its expired.
	return s.judge(sid, rec, live)
}

// GetMany loads many sessions in one round trip (WHERE sid IN (…), in
// batches of 10,000), for revalidating every open session at once. Once
// the queries have succeeded it calls each(sid, sess, err) for every sid,
// in order, with exactly what Get would have returned for it. When a query
// fails it calls each for none and returns ErrStoreUnavailable.
func (s *Store) GetMany(ctx context.Context, sids []string, each func(sid string, sess *connectsid.Session, err error)) error {
	// 1. Only sids the databases can hold go into the queries.
	ask := make([]string, 0, len(sids))
	for _, sid := range sids {
		if storable(sid) {
			ask = append(ask, sid)
		}
	}
	// 2. One query per batch.
	type row struct {
		rec  sql.NullString
		live sql.NullBool
	}
	rows := make(map[string]row, len(ask))
	now := s.d.date(s.opts.Now().UnixMilli())
	for len(ask) > 0 {
		batch := ask[:min(len(ask), maxBatch)]
		ask = ask[len(batch):]
		var b strings.Builder
		b.WriteString(s.q.getMany)
		args := make([]any, 0, len(batch)+1)
		args = append(args, now)
		for i, sid := range batch {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(s.d.ph(i + 2))
			args = append(args, sid)
		}
		b.WriteByte(')')
		err := s.do(ctx, "get many", func(ctx context.Context) error {
			rs, err := s.db.QueryContext(ctx, b.String(), args...)
			if err != nil {
				return err
			}
			defer rs.Close()
			for rs.Next() {
				var (
					sid string
					r   row
				)
				if err := rs.Scan(&sid, &r.rec, &r.live); err != nil {
					return err
				}
				rows[sid] = r
			}
			return rs.Err()
		})
		if err != nil {
			return err
		}
	}
	// 3. Each sid judged as Get judges it.
	for _, sid := range sids {
		r, ok := rows[sid]
		if !ok {
			each(sid, nil, noSession(sid, ""))
			continue
		}
		sess, err := s.judge(sid, r.rec, r.live)
		each(sid, sess, err)
	}
	return nil
}

// judge applies Get's rules to one row.
func (s *Store) judge(sid string, rec sql.NullString, live sql.NullBool) (*connectsid.Session, error) {
	if !rec.Valid {
		return nil, fmt.Errorf("%w (sid %s): sess is NULL", connectsid.ErrMalformedSession, connectsid.Redact(sid))
	}
	if !live.Valid {
		return nil, fmt.Errorf("%w (sid %s): expired is not a date", connectsid.ErrMalformedSession, connectsid.Redact(sid))
	}
	sess, err := connectsid.DecodeBounded(sid, rec.String, s.opts.MaxRecordSize)
	if !live.Bool {
		return sess, fmt.Errorf("%w (sid %s): the row's expired has passed", connectsid.ErrExpired, connectsid.Redact(sid))
	}
	if err != nil {
		return nil, err
	}
	return sess, nil
}

// Set saves a session as connect-session-knex's set does: an upsert of the
// record with expired = now + cookie.maxAge (that is, cookie.expires), or
// now + one day for a cookie without maxAge. A session whose cookie has
// expired is still written, with an expired in the past; Get then refuses it.
func (s *Store) Set(ctx context.Context, sess *connectsid.Session) error {
	if !storable(sess.ID()) {
		return fmt.Errorf("knexstore: sid %s cannot be stored in SQL (NUL byte or invalid UTF-8)", connectsid.Redact(sess.ID()))
	}
	rec, expired := s.setArgs(sess)
	return s.do(ctx, "set", func(ctx context.Context) error {
		_, err := s.db.ExecContext(ctx, s.q.set, sess.ID(), expired, rec)
		return err
	})
}

// setArgs are the record and expired that Set writes for sess, as the
// dialect's date.
func (s *Store) setArgs(sess *connectsid.Session) (rec, expired string) {
	return string(sess.Encode()), s.d.date(s.SetExpired(sess).UnixMilli())
}

// Update reads, changes and writes a session without losing a concurrent
// write: it reads the row as Get does, calls fn on the record, and writes
// it with Set's expired in an UPDATE that applies only while the row still
// holds the text it read (a compare-and-set on sess, byte for byte). When
// another writer changed the row it reads it again, so fn may run more
// than once. It never inserts: a row that is missing (or gone before the
// write) is ErrNoSession, one past its expired ErrExpired, and nothing is
// written. fn's error is returned as it is. It fails with ErrConflict
// after 16 lost races. The UPDATE is not retried on a lost connection
// (its effect would be unknown, and fn would run twice): that is
// ErrStoreUnavailable. Fields fn does not change are written back byte
// for byte (on MySQL's own JSON type, which normalises the text, as
// MySQL normalised them). The whole call is bounded by Options.Timeout.
// On MySQL the handle must count found rows (clientFoundRows, as Open's).
func (s *Store) Update(ctx context.Context, sid string, fn func(*connectsid.Session) error) (*connectsid.Session, error) {
	if !storable(sid) {
		return nil, noSession(sid, "not storable in SQL")
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	for range connectsid.MaxUpdateAttempts {
		// 1. The row as Get reads it, and judges it.
		var (
			rec  sql.NullString
			live sql.NullBool
		)
		now := s.d.date(s.opts.Now().UnixMilli())
		err := s.do(ctx, "update", func(ctx context.Context) error {
			return s.db.QueryRowContext(ctx, s.q.get, now, sid).Scan(&rec, &live)
		})
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return nil, noSession(sid, "")
		case err != nil:
			return nil, err
		}
		sess, err := s.judge(sid, rec, live)
		if err != nil {
			return nil, err
		}
		// 2. The change.
		if err := fn(sess); err != nil {
			return nil, err
		}
		// 3. Written only over the text read in 1; no row is another
		// writer's win or a gone row, which 1 tells apart.
		text, expired := s.setArgs(sess)
		var n int64
		err = s.once(ctx, "update", func(ctx context.Context) error {
			res, err := s.db.ExecContext(ctx, s.q.update, expired, text, sid, rec.String)
			if err == nil {
				n, err = res.RowsAffected()
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		if n > 0 {
			return sess, nil
		}
	}
	return nil, fmt.Errorf("%w (sid %s): %d attempts", connectsid.ErrConflict, connectsid.Redact(sid), connectsid.MaxUpdateAttempts)
}

// Touch renews a session's expired as express-session + connect-session-knex
// do on a request that did not change the session: express-session resets
// cookie.expires to now + originalMaxAge, and connect-session-knex writes it
// as expired, on a row that has not expired, without rewriting the record.
// A cookie without maxAge is not touched (connect-session-knex's touch
// needs cookie.expires). It fails with ErrNoSession when no live row was
// there (connect-session-knex ignores that; Go callers want to know).
func (s *Store) Touch(ctx context.Context, sess *connectsid.Session) error {
	c := sess.Cookie()
	if c.OriginalMaxAge == nil || c.Expires == nil {
		return nil
	}
	if !storable(sess.ID()) {
		return noSession(sess.ID(), "not storable in SQL")
	}
	now := s.opts.Now().UnixMilli()
	expired, nowArg := s.d.date(now+*c.OriginalMaxAge), s.d.date(now)
	var n int64
	err := s.do(ctx, "touch", func(ctx context.Context) error {
		res, err := s.db.ExecContext(ctx, s.q.touch, expired, sess.ID(), nowArg)
		if err == nil {
			n, err = res.RowsAffected()
		}
		return err
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return noSession(sess.ID(), "")
	}
	return nil
}

// Destroy deletes a session's row, as connect-session-knex's destroy; a
// missing row is not an error.
func (s *Store) Destroy(ctx context.Context, sid string) error {
	if !storable(sid) {
		return nil
	}
	return s.do(ctx, "destroy", func(ctx context.Context) error {
		_, err := s.db.ExecContext(ctx, s.q.destroy, sid)
		return err
	})
}

// TTL returns the time left until the row's expired, measured on
// Options.Now; it is negative for a row past it that connect-session-knex's
// cleanup has not deleted yet. It fails with ErrNoSession when there is no
// row, ErrMalformedSession when expired is not a date.
func (s *Store) TTL(ctx context.Context, sid string) (time.Duration, error) {
	if !storable(sid) {
		return 0, noSession(sid, "not storable in SQL")
	}
	var ms sql.NullFloat64
	err := s.do(ctx, "ttl", func(ctx context.Context) error {
		return s.db.QueryRowContext(ctx, s.q.ttl, sid).Scan(&ms)
	})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, noSession(sid, "")
	case err != nil:
		return 0, err
	case !ms.Valid:
		return 0, fmt.Errorf("%w (sid %s): expired is not a date", connectsid.ErrMalformedSession, connectsid.Redact(sid))
	}
	return time.UnixMilli(int64(ms.Float64 + 0.5)).Sub(s.opts.Now()), nil
}

// IDs returns up to limit session IDs whose row has not expired (all when
// limit ≤ 0), in no particular order.
func (s *Store) IDs(ctx context.Context, limit int) ([]string, error) {
	q := s.q.ids
	if limit > 0 {
		q += " LIMIT " + strconv.Itoa(limit)
	}
	now := s.d.date(s.opts.Now().UnixMilli())
	var ids []string
	err := s.do(ctx, "ids", func(ctx context.Context) error {
		ids = ids[:0]
		rs, err := s.db.QueryContext(ctx, q, now)
		if err != nil {
			return err
		}
		defer rs.Close()
		for rs.Next() {
			var id string
			if err := rs.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return rs.Err()
	})
	return ids, err
}

// Ping checks that the database answers and that the table exists
// (ErrStoreUnavailable wrapping ErrNoTable when it does not).
func (s *Store) Ping(ctx context.Context) error {
	name := s.opts.TableName
	if s.d.name == Postgres {
		name = s.table
	}
	var exists bool
	err := s.do(ctx, "ping", func(ctx context.Context) error {
		return s.db.QueryRowContext(ctx, s.q.exists, name).Scan(&exists)
	})
	if err != nil {
		return err
	}
	if !exists {
		return s.unavailable("ping", s.noTable())
	}
	return nil
}

// SetExpired returns the expired connect-session-knex's set writes for sess
// at Options.Now: now + cookie.maxAge (cookie.expires), or now + one day
// when the cookie has no maxAge or it is exactly 0.
func (s *Store) SetExpired(sess *connectsid.Session) time.Time {
	now := s.opts.Now().UnixMilli()
	if exp := sess.Cookie().Expires; exp != nil && exp.UnixMilli() != now {
		return time.UnixMilli(exp.UnixMilli())
	}
	return time.UnixMilli(now + DefaultTTL.Milliseconds())
}

// CreateTable creates the table as connect-session-knex does at start
// (knex's schema builder: sid varchar(255) primary key, sess json not
// null, expired timestamptz or datetime not null, an index on expired),
// when it does not exist. For a Go service that starts first, and tests.
func (s *Store) CreateTable(ctx context.Context) error {
	var stmts []string
	t, sid := s.table, s.d.quote(s.opts.SIDFieldName)
	idx := s.d.quote(s.opts.TableName + "_expired_index")
	switch s.d.name {
	case Postgres:
		stmts = []string{
			`CREATE TABLE IF NOT EXISTS ` + t + ` (` + sid + ` varchar(255), "sess" json NOT NULL, "expired" timestamptz NOT NULL, ` +
				`CONSTRAINT ` + s.d.quote(s.opts.TableName+"_pkey") + ` PRIMARY KEY (` + sid + `))`,
			`CREATE INDEX IF NOT EXISTS ` + idx + ` ON ` + t + ` ("expired")`,
		}
	case MySQL:
		stmts = []string{`CREATE TABLE IF NOT EXISTS ` + t + ` (` + sid + ` varchar(255), sess json NOT NULL, expired datetime NOT NULL, ` +
			`PRIMARY KEY (` + sid + `), INDEX ` + idx + ` (expired))`}
	case SQLite:
		stmts = []string{
			`CREATE TABLE IF NOT EXISTS ` + t + ` (` + sid + ` varchar(255), sess json NOT NULL, expired datetime NOT NULL, PRIMARY KEY (` + sid + `))`,
			`CREATE INDEX IF NOT EXISTS ` + idx + ` ON ` + t + ` (expired)`,
		}
	}
	return s.do(ctx, "create table", func(ctx context.Context) error {
		for _, q := range stmts {
			if _, err := s.db.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
}

// do runs one statement under the call's timeout and turns its failure
// into ErrStoreUnavailable (sql.ErrNoRows passes through). Its statements
// are idempotent, so a lost connection is retried once on another.
func (s *Store) do(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	return s.run(ctx, op, true, fn)
}

// once is do without the retry, for a write whose effect a lost
// connection leaves unknown (Update's compare-and-set).
func (s *Store) once(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	return s.run(ctx, op, false, fn)
}

func (s *Store) run(ctx context.Context, op string, retry bool, fn func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	start := time.Now()
	err := fn(ctx)
	if err != nil && retry && ctx.Err() == nil && !errors.Is(err, sql.ErrNoRows) && s.d.lost(err) {
		err = fn(ctx)
	}
	if s.opts.Timing != nil {
		e := err
		if errors.Is(e, sql.ErrNoRows) {
			e = nil
		}
		s.opts.Timing(op, time.Since(start), e)
	}
	if err == nil || errors.Is(err, sql.ErrNoRows) {
		return err
	}
	switch {
	case s.d.noTable(err):
		err = fmt.Errorf("%w: %w", s.noTable(), err)
	case ctx.Err() != nil && !errors.Is(err, ctx.Err()):
		err = fmt.Errorf("%w: %w", err, ctx.Err())
	}
	return s.unavailable(op, err)
}

func (s *Store) noTable() error {
	return fmt.Errorf("%w: %s (start the Express app: connect-session-knex creates it unless createTable is false)",
		ErrNoTable, s.table)
}

func (s *Store) unavailable(op string, err error) error {
	return fmt.Errorf("%w: knex %s %s: %w", connectsid.ErrStoreUnavailable, s.d.name, op, err)
}

func noSession(sid, why string) error {
	if why != "" {
		return fmt.Errorf("%w (sid %s): %s", connectsid.ErrNoSession, connectsid.Redact(sid), why)
	}
	return fmt.Errorf("%w (sid %s)", connectsid.ErrNoSession, connectsid.Redact(sid))
}

// storable reports whether every dialect can hold sid in a varchar: valid
// UTF-8 without NUL.
func storable(sid string) bool {
	return utf8.ValidString(sid) && !strings.ContainsRune(sid, 0)
}

// Watch reports no changes: no database connect-session-knex runs on
// sends any. It calls onSync(err) once with err wrapping ErrNoWatch, so
// that the caller polls (GetMany), and returns ctx's error when ctx ends.
// It is here so that the store has the shape of the others;
// expressbridge.New does not call it and polls from the start.
func (s *Store) Watch(ctx context.Context, onEvent func(sid string, op connectsid.Op), onSync func(error)) error {
	onSync(fmt.Errorf("%w (table %s)", ErrNoWatch, s.table))
	<-ctx.Done()
	return ctx.Err()
}
