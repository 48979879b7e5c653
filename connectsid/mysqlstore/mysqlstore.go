// Package mysqlstore reads and writes express-session records in MariaDB
// or MySQL exactly as express-mysql-session (3) does: one row per session
// in its table (session_id varchar(128) primary key, expires int unsigned
// in Unix seconds, data mediumtext holding the record's JSON), with the
// same SQL and the same expires arithmetic, so that Express and Go share
// sessions in both directions.
//
// It knows nothing of HTTP. Every call honours its context and is bounded
// by Options.Timeout, so a dead database answers
// connectsid.ErrStoreUnavailable quickly instead of hanging a caller.
//
// Times. express-mysql-session computes expires on the app server's clock
// (Date.now(), never the database's) rounded to the nearest second
// (Math.round), and its get treats a row as gone once expires <
// Math.round(Date.now() / 1000). The Go side does the same on Options.Now.
//
// Change events. Neither MariaDB nor MySQL tells a client when a row
// changes, and express-mysql-session installs nothing that would: Watch
// reports no changes, and callers revalidate the sessions they hold with
// GetMany, one query for all of them, at an interval of their choosing.
package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-sql-driver/mysql"

	"github.com/expressbridge/expressbridge/connectsid"
)

// Defaults, each the same as express-mysql-session's unless said otherwise.
const (
	DefaultTableName = "sessions"
	// DefaultExpiration is express-mysql-session's expiration (one day),
	// for records without cookie.expires.
	DefaultExpiration = 24 * time.Hour
	// DefaultTimeout bounds one store call; ours, so that a dead database
	// delays a handshake by at most this much.
	DefaultTimeout = 2 * time.Second
	// DefaultPort is MySQL's, for URLs without one.
	DefaultPort = 3306
	// dialTimeout bounds a new connection of a pool made by OpenURL: a
	// black-holed host must not use up a whole call's Timeout.
	dialTimeout = time.Second
	// maxBatch bounds the sids of one GetMany query (its text stays far
	// under max_allowed_packet); more are asked in several.
	maxBatch = 5000
)

// Errors of MariaDB and MySQL that mean the table is missing or a column
// is not express-mysql-session's.
const (
	erNoSuchTable    = 1146
	erBadField       = 1054
	erServerShutdown = 1053
)

// ErrNoTable means the session table does not exist (yet):
// express-mysql-session creates it on start with createDatabaseTable (its
// default), else the operator creates it from its schema.sql.
var ErrNoTable = errors.New("session table does not exist")

// ErrNoWatch is what Watch gives onSync: the database reports no changes,
// so the caller must poll (GetMany).
var ErrNoWatch = errors.New("MariaDB/MySQL report no session changes: revalidate open sessions by polling")

// Columns names the table's columns, as express-mysql-session's
// schema.columnNames; empty fields take its defaults.
type Columns struct {
	SessionID, Expires, Data string
}

// Options are express-mysql-session's options that change what is stored,
// plus the Go side's limits. The zero value is its defaults.
type Options struct {
	// TableName is the table ("sessions" when empty), as
	// express-mysql-session's schema.tableName, quoted as an identifier.
	TableName string
	// Columns are schema.columnNames.
	Columns Columns
	// Expiration is used for records without cookie.expires (24h when
	// zero), as express-mysql-session's expiration (in milliseconds there).
	Expiration time.Duration
	// DisableTouch makes Touch do nothing, as its disableTouch.
	DisableTouch bool
	// MaxRecordSize bounds a record before decoding
	// (connectsid.DefaultMaxRecordSize when zero).
	MaxRecordSize int
	// Timeout bounds each call (DefaultTimeout when zero).
	Timeout time.Duration
	// Now returns the time used for expires and its checks (time.Now when
	// nil): express-mysql-session uses the app server's clock.
	Now func() time.Time
	// Timing, when set, is called after each round trip with the
	// operation ("get", "get many", "set", "update", "touch", "destroy",
	// "ttl", "ids", "ping"), how long it took and its error; a missing row
	// is an answer, not an error. It runs on the caller's goroutine.
	Timing func(op string, d time.Duration, err error)
}

// Store is a session store on a database/sql pool of
// github.com/go-sql-driver/mysql. It is safe for concurrent use.
type Store struct {
	db    *sql.DB
	opts  Options
	table string // quoted
	q     queries
}

type queries struct {
	get, getMany, set, update, touch, exists, destroy, ttl, ids, ping string
}

// New returns a store on db with opts; zero fields take their defaults.
// It fails only when a name cannot be a MariaDB identifier (empty after
// defaults cannot happen; a NUL byte can): a usage error.
func New(db *sql.DB, opts Options) (*Store, error) {
	if opts.TableName == "" {
		opts.TableName = DefaultTableName
	}
	c := &opts.Columns
	if c.SessionID == "" {
		c.SessionID = "session_id"
	}
	if c.Expires == "" {
		c.Expires = "expires"
	}
	if c.Data == "" {
		c.Data = "data"
	}
	if strings.ContainsRune(opts.TableName+c.SessionID+c.Expires+c.Data, 0) {
		return nil, errors.New("mysqlstore: table and column names cannot hold a NUL byte")
	}
	if opts.Expiration <= 0 {
		opts.Expiration = DefaultExpiration
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
	t := QuoteIdent(opts.TableName)
	id, exp, data := QuoteIdent(c.SessionID), QuoteIdent(c.Expires), QuoteIdent(c.Data)
	s := &Store{db: db, opts: opts, table: t}
	// express-mysql-session's statements, with the same parameters; Get
	// and GetMany read expires to tell an expired row from a missing one.
	s.q = queries{
		get:     `SELECT ` + data + `, ` + exp + ` FROM ` + t + ` WHERE ` + id + ` = ?`,
		getMany: `SELECT ` + id + `, ` + data + `, ` + exp + ` FROM ` + t + ` WHERE ` + id + ` IN (`,
		set: `INSERT INTO ` + t + ` (` + id + `, ` + exp + `, ` + data + `) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE ` +
			exp + ` = VALUES(` + exp + `), ` + data + ` = VALUES(` + data + `)`,
		// Update's write: set's columns as an UPDATE only (never an
		// insert), and only of the text Update read, compared as bytes
		// whatever the column's collation (a _ci one would take a change
		// of case, or of trailing spaces, for no change).
		update:  `UPDATE ` + t + ` SET ` + exp + ` = ?, ` + data + ` = ? WHERE ` + id + ` = ? AND CAST(` + data + ` AS BINARY) = CAST(? AS BINARY)`,
		touch:   `UPDATE ` + t + ` SET ` + exp + ` = ? WHERE ` + id + ` = ?`,
		exists:  `SELECT 1 FROM ` + t + ` WHERE ` + id + ` = ?`,
		destroy: `DELETE FROM ` + t + ` WHERE ` + id + ` = ?`,
		ttl:     `SELECT ` + exp + ` FROM ` + t + ` WHERE ` + id + ` = ?`,
		ids:     `SELECT ` + id + ` FROM ` + t + ` WHERE ` + exp + ` >= ? LIMIT ?`,
		ping:    `SELECT ` + id + `, ` + exp + `, ` + data + ` FROM ` + t + ` LIMIT 0`,
	}
	return s, nil
}

// Table returns the table's name as the SQL uses it, quoted: `sessions`.
func (s *Store) Table() string { return s.table }

// DB returns the underlying pool.
func (s *Store) DB() *sql.DB { return s.db }

// Get loads a session. It fails with connectsid.ErrNoSession when there is
// no row, ErrExpired when the row's expires has passed
// (express-mysql-session's get returns nothing once expires <
// round(now/1s)), ErrMalformedSession when the record is too large, NULL,
// or not a session record (express-mysql-session would throw on it),
// ErrStoreUnavailable when the database cannot be asked (wrapping
// ErrNoTable when the table is missing). With ErrExpired the decoded
// session is returned when there is one. Like express-mysql-session it
// leaves the record's cookie.expires to the caller (the gate's
// AcceptExpired).
func (s *Store) Get(ctx context.Context, sid string) (*connectsid.Session, error) {
	// 1. A sid utf8mb4 cannot hold has no row.
	if !utf8.ValidString(sid) {
		return nil, noSession(sid, "not valid UTF-8")
	}
	// 2. One query (one round trip with OpenURL's interpolateParams),
	// retried once on a lost connection as every call is.
	now := jsSeconds(s.opts.Now())
	var sess *connectsid.Session
	var judged error
	err := s.do(ctx, "get", func(ctx context.Context) error {
		rows, err := s.db.QueryContext(ctx, s.q.get, sid)
		if err != nil {
			return err
		}
		defer rows.Close()
		if !rows.Next() {
			judged = noSession(sid, "")
			return rows.Err()
		}
		var data, expires sql.RawBytes
		if err := rows.Scan(&data, &expires); err != nil {
			return err
		}
		// 3. The record and its expires, judged while the driver's
		// buffer holds them (RawBytes: no copy).
		sess, judged = s.judge(sid, data, expires, now)
		return rows.Close()
	})
	if err != nil {
		return nil, err
	}
	return sess, judged
}

// GetMany loads many sessions in as few round trips as it can (WHERE
// session_id IN (…), up to 5000 sids a query), for revalidating every open
// session at once. Once every query has succeeded it calls each(sid, sess,
// err) for every sid, in order, with exactly what Get would have returned
// for it. When a query fails it calls each for none and returns
// ErrStoreUnavailable. Its types are connectsid's and the standard
// library's, so a consumer can declare it in an interface of its own
// (liveness.BatchGetter).
func (s *Store) GetMany(ctx context.Context, sids []string, each func(sid string, sess *connectsid.Session, err error)) error {
	type row struct {
		sess *connectsid.Session
		err  error
	}
	// 1. Only sids utf8mb4 can hold go into the queries.
	ask := make([]any, 0, len(sids))
	for _, sid := range sids {
		if utf8.ValidString(sid) {
			ask = append(ask, sid)
		}
	}
	// 2. One query per maxBatch sids, each row judged as Get judges it.
	got := make(map[string]row, len(ask))
	now := jsSeconds(s.opts.Now())
	for len(ask) > 0 {
		batch := ask[:min(len(ask), maxBatch)]
		ask = ask[len(batch):]
		q := s.q.getMany + strings.Repeat("?,", len(batch)-1) + "?)"
		err := s.do(ctx, "get many", func(ctx context.Context) error {
			rows, err := s.db.QueryContext(ctx, q, batch...)
			if err != nil {
				return err
			}
			defer rows.Close()
			var id, data, expires sql.RawBytes
			for rows.Next() {
				if err := rows.Scan(&id, &data, &expires); err != nil {
					return err
				}
				sid := string(id)
				sess, err := s.judge(sid, data, expires, now)
				got[sid] = row{sess, err}
			}
			return rows.Err()
		})
		if err != nil {
			return err
		}
	}
	// 3. In the caller's order; a sid without a row has no session.
	for _, sid := range sids {
		r, ok := got[sid]
		if !ok {
			each(sid, nil, noSession(sid, ""))
			continue
		}
		each(sid, r.sess, r.err)
	}
	return nil
}

// judge applies Get's rules to one row; data and expires may be the
// driver's buffers, which it does not keep.
func (s *Store) judge(sid string, data, expires sql.RawBytes, now int64) (*connectsid.Session, error) {
	// 1. expires as express-mysql-session compares it: a number of
	// seconds. Anything else is a row it did not write.
	exp, err := strconv.ParseInt(string(expires), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w (sid %s): expires is not a number of seconds", connectsid.ErrMalformedSession, connectsid.Redact(sid))
	}
	// 2. NULL data, which express-mysql-session never writes.
	if data == nil {
		return nil, fmt.Errorf("%w (sid %s): data is NULL", connectsid.ErrMalformedSession, connectsid.Redact(sid))
	}
	// 3. Decode once the record is known not too large, copying it out
	// of the driver's buffer only then.
	if len(data) > s.opts.MaxRecordSize {
		return nil, fmt.Errorf("%w (sid %s): record of %d bytes exceeds %d",
			connectsid.ErrMalformedSession, connectsid.Redact(sid), len(data), s.opts.MaxRecordSize)
	}
	sess, err := connectsid.DecodeSession(sid, string(data))
	// 4. The row's expires, which express-mysql-session's get checks.
	if exp < now {
		return sess, fmt.Errorf("%w (sid %s): the row's expires has passed", connectsid.ErrExpired, connectsid.Redact(sid))
	}
	if err != nil {
		return nil, err
	}
	return sess, nil
}

// Set saves a session as express-mysql-session's set does: an upsert of
// the record with expires = round(cookie.expires / 1s), or round((now +
// Expiration) / 1s) for a browser-session cookie. A session whose expiry
// has passed is still written (with that expires), as
// express-mysql-session does; Get then refuses it.
func (s *Store) Set(ctx context.Context, sess *connectsid.Session) error {
	if !utf8.ValidString(sess.ID()) {
		return fmt.Errorf("mysqlstore: sid %s cannot be stored in utf8mb4 (invalid UTF-8)", connectsid.Redact(sess.ID()))
	}
	rec, expires := s.setArgs(sess)
	return s.do(ctx, "set", func(ctx context.Context) error {
		_, err := s.db.ExecContext(ctx, s.q.set, sess.ID(), expires, rec)
		return err
	})
}

// setArgs are the record and expires that Set writes for sess.
func (s *Store) setArgs(sess *connectsid.Session) (rec string, expires int64) {
	return string(sess.Encode()), s.SetExpires(sess)
}

// Update reads, changes and writes a session without losing a concurrent
// write: it reads the row as Get does, calls fn on the record, and writes
// it with Set's expires in an UPDATE that applies only while the row
// still holds the bytes it read (a compare-and-set on data, compared as
// binary whatever the table's collation). When another writer changed the
// row it reads it again, so fn may run more than once. It never inserts:
// a row that is missing (or gone before the write) is ErrNoSession, one
// past its expires ErrExpired, and nothing is written. fn's error is
// returned as it is. It fails with ErrConflict after 16 lost races. The
// UPDATE is not retried on a lost connection (its effect would be
// unknown, and fn would run twice): that is ErrStoreUnavailable. Fields
// fn does not change are written back byte for byte. The whole call is
// bounded by Options.Timeout.
func (s *Store) Update(ctx context.Context, sid string, fn func(*connectsid.Session) error) (*connectsid.Session, error) {
	if !utf8.ValidString(sid) {
		return nil, noSession(sid, "not valid UTF-8")
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	for range connectsid.MaxUpdateAttempts {
		// 1. The row as Get reads it, and judges it.
		var (
			data    sql.NullString
			expires []byte
			found   = true
		)
		err := s.do(ctx, "update", func(ctx context.Context) error {
			err := s.db.QueryRowContext(ctx, s.q.get, sid).Scan(&data, &expires)
			if errors.Is(err, sql.ErrNoRows) {
				found, err = false, nil
			}
			return err
		})
		switch {
		case err != nil:
			return nil, err
		case !found:
			return nil, noSession(sid, "")
		}
		var raw sql.RawBytes
		if data.Valid {
			raw = sql.RawBytes(data.String)
		}
		sess, err := s.judge(sid, raw, expires, jsSeconds(s.opts.Now()))
		if err != nil {
			return nil, err
		}
		// 2. The change.
		if err := fn(sess); err != nil {
			return nil, err
		}
		// 3. A row that already holds what Set would write needs no
		// write: MySQL counts changed rows, so that UPDATE would count
		// none, as a lost race does.
		rec, exp := s.setArgs(sess)
		if rec == data.String && strconv.FormatInt(exp, 10) == string(expires) {
			return sess, nil
		}
		// 4. Written only over the bytes read in 1; no row changed is
		// another writer's win or a gone row, which 1 tells apart.
		var n int64
		err = s.once(ctx, "update", func(ctx context.Context) error {
			res, err := s.db.ExecContext(ctx, s.q.update, exp, rec, sid, data.String)
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

// Touch renews a session's expires as express-session +
// express-mysql-session do on a request that did not change the session:
// express-session first resets cookie.expires to now + originalMaxAge,
// then the store writes expires = round(expires / 1s) (round((now +
// Expiration) / 1s) for a browser-session cookie) without rewriting the
// record. It does nothing with DisableTouch, and fails with ErrNoSession
// when there is no row (express-mysql-session ignores that; Go callers
// want to know).
func (s *Store) Touch(ctx context.Context, sess *connectsid.Session) error {
	if s.opts.DisableTouch {
		return nil
	}
	if !utf8.ValidString(sess.ID()) {
		return noSession(sess.ID(), "not valid UTF-8")
	}
	expires := s.TouchExpires(sess)
	found := true
	err := s.do(ctx, "touch", func(ctx context.Context) error {
		res, err := s.db.ExecContext(ctx, s.q.touch, expires, sess.ID())
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil
		}
		// MySQL counts changed rows, not matched ones: an expires that
		// was already this value changes nothing. Is the row there?
		err = s.db.QueryRowContext(ctx, s.q.exists, sess.ID()).Scan(new(int))
		if errors.Is(err, sql.ErrNoRows) {
			found, err = false, nil
		}
		return err
	})
	if err != nil {
		return err
	}
	if !found {
		return noSession(sess.ID(), "")
	}
	return nil
}

// Destroy deletes a session's row, as express-mysql-session's destroy; a
// missing row is not an error.
func (s *Store) Destroy(ctx context.Context, sid string) error {
	if !utf8.ValidString(sid) {
		return nil
	}
	return s.do(ctx, "destroy", func(ctx context.Context) error {
		_, err := s.db.ExecContext(ctx, s.q.destroy, sid)
		return err
	})
}

// TTL returns the time left until the row's expires, measured on
// Options.Now; it is negative for a row past its expires that nobody has
// cleared yet (express-mysql-session's clearExpired runs every 15 minutes
// by default). It fails with ErrNoSession when there is no row.
func (s *Store) TTL(ctx context.Context, sid string) (time.Duration, error) {
	if !utf8.ValidString(sid) {
		return 0, noSession(sid, "not valid UTF-8")
	}
	var (
		expires int64
		found   = true
	)
	err := s.do(ctx, "ttl", func(ctx context.Context) error {
		err := s.db.QueryRowContext(ctx, s.q.ttl, sid).Scan(&expires)
		if errors.Is(err, sql.ErrNoRows) {
			found, err = false, nil
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	if !found {
		return 0, noSession(sid, "")
	}
	return time.Unix(expires, 0).Sub(s.opts.Now()), nil
}

// IDs returns up to limit session IDs whose row's expires has not passed
// (all when limit ≤ 0), in no particular order, as express-mysql-session's
// all() selects them.
func (s *Store) IDs(ctx context.Context, limit int) ([]string, error) {
	lim := int64(1<<63 - 1)
	if limit > 0 {
		lim = int64(limit)
	}
	now := jsSeconds(s.opts.Now())
	var ids []string
	err := s.do(ctx, "ids", func(ctx context.Context) error {
		ids = ids[:0]
		rows, err := s.db.QueryContext(ctx, s.q.ids, now, lim)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return rows.Err()
	})
	return ids, err
}

// Ping checks that the database answers and that the table exists with
// express-mysql-session's columns (ErrStoreUnavailable wrapping ErrNoTable
// when it does not).
func (s *Store) Ping(ctx context.Context) error {
	return s.do(ctx, "ping", func(ctx context.Context) error {
		rows, err := s.db.QueryContext(ctx, s.q.ping)
		if err != nil {
			return err
		}
		return rows.Close()
	})
}

// Watch reports no changes: MariaDB and MySQL send none. It calls
// onSync(err) once with err wrapping ErrNoWatch, so that the caller polls
// (GetMany), and returns ctx's error when ctx ends. It is here so that the
// store has the shape of the others; expressbridge.New does not call it
// and polls from the start.
func (s *Store) Watch(ctx context.Context, onEvent func(sid string, op connectsid.Op), onSync func(error)) error {
	onSync(fmt.Errorf("%w (table %s)", ErrNoWatch, s.table))
	<-ctx.Done()
	return ctx.Err()
}

// SetExpires returns the expires, in Unix seconds, that
// express-mysql-session's set writes for sess at Options.Now:
// round(cookie.expires / 1s), or round((now + Expiration) / 1s) for a
// browser-session cookie.
func (s *Store) SetExpires(sess *connectsid.Session) int64 {
	if exp := sess.Cookie().Expires; exp != nil {
		return jsRound(exp.UnixMilli())
	}
	return jsRound(s.opts.Now().UnixMilli() + s.opts.Expiration.Milliseconds())
}

// TouchExpires returns the expires, in Unix seconds, that a touch by
// express-session + express-mysql-session writes for sess at Options.Now:
// round((now + originalMaxAge) / 1s), or round((now + Expiration) / 1s)
// for a browser-session cookie.
func (s *Store) TouchExpires(sess *connectsid.Session) int64 {
	now := s.opts.Now().UnixMilli()
	if oma := sess.Cookie().OriginalMaxAge; oma != nil {
		return jsRound(now + *oma)
	}
	return jsRound(now + s.opts.Expiration.Milliseconds())
}

// do runs one round trip under Timeout, retrying once when a pooled
// connection turns out dead (database/sql retries driver.ErrBadConn by
// itself; this covers a connection that died mid-query), and maps its
// failure to ErrStoreUnavailable.
func (s *Store) do(ctx context.Context, op string, f func(ctx context.Context) error) error {
	return s.run(ctx, op, true, f)
}

// once is do without the retry, for a write whose effect a lost
// connection leaves unknown (Update's).
func (s *Store) once(ctx context.Context, op string, f func(ctx context.Context) error) error {
	return s.run(ctx, op, false, f)
}

func (s *Store) run(ctx context.Context, op string, retry bool, f func(ctx context.Context) error) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	start := time.Now()
	err := f(ctx)
	if err != nil && retry && ctx.Err() == nil && ConnectionLost(err) {
		err = f(ctx)
	}
	s.timing(op, start, err)
	if err != nil {
		return s.failed(ctx, op, err)
	}
	return nil
}

func (s *Store) timing(op string, start time.Time, err error) {
	if s.opts.Timing != nil {
		s.opts.Timing(op, time.Since(start), err)
	}
}

// failed wraps a round trip's error as ErrStoreUnavailable, naming a
// missing table or column and keeping ctx's own error visible to errors.Is.
func (s *Store) failed(ctx context.Context, op string, err error) error {
	var myErr *mysql.MySQLError
	switch {
	case NoSuchTable(err):
		err = fmt.Errorf("%w: %w", s.noTable(), err)
	case errors.As(err, &myErr) && myErr.Number == erBadField:
		err = fmt.Errorf("%s is not express-mysql-session's table (columns %s, %s, %s): %w",
			s.table, s.opts.Columns.SessionID, s.opts.Columns.Expires, s.opts.Columns.Data, err)
	case ctx.Err() != nil && !errors.Is(err, ctx.Err()):
		err = fmt.Errorf("%w: %w", err, ctx.Err())
	}
	return fmt.Errorf("%w: mysql %s: %w", connectsid.ErrStoreUnavailable, op, err)
}

func (s *Store) noTable() error {
	return fmt.Errorf("%w: %s (start the Express app with express-mysql-session's createDatabaseTable, its default, or create it from its schema.sql)",
		ErrNoTable, s.table)
}

func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.opts.Timeout)
}

// NoSuchTable reports whether err is MySQL's ER_NO_SUCH_TABLE (1146).
func NoSuchTable(err error) bool {
	var myErr *mysql.MySQLError
	return errors.As(err, &myErr) && myErr.Number == erNoSuchTable
}

// ConnectionLost reports whether err (from go-sql-driver/mysql) is the
// loss of a connection rather than the database's answer to the
// statement: anything but a server error, or ER_SERVER_SHUTDOWN (1053). A
// statement that failed so may be retried on another connection.
func ConnectionLost(err error) bool {
	var myErr *mysql.MySQLError
	return !errors.As(err, &myErr) || myErr.Number == erServerShutdown
}

func noSession(sid, why string) error {
	if why != "" {
		return fmt.Errorf("%w (sid %s): %s", connectsid.ErrNoSession, connectsid.Redact(sid), why)
	}
	return fmt.Errorf("%w (sid %s)", connectsid.ErrNoSession, connectsid.Redact(sid))
}

// jsSeconds is express-mysql-session's Math.round(Date.now() / 1000).
func jsSeconds(t time.Time) int64 { return jsRound(t.UnixMilli()) }

// jsRound is JavaScript's Math.round(ms / 1000): halves round up.
func jsRound(ms int64) int64 {
	q := ms / 1000
	if r := ms - q*1000; r >= 500 {
		q++
	} else if r < -500 {
		q--
	}
	return q
}

// QuoteIdent quotes a name as mysql2's ?? placeholder does: in backquotes,
// each backquote doubled. Any text but NUL is safe.
func QuoteIdent(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// Config is what a mysql:// URL names.
type Config struct {
	// Driver is the connection's configuration for go-sql-driver/mysql.
	Driver *mysql.Config
	// Table is ?table= (express-mysql-session's schema.tableName), "" when
	// the URL has none.
	Table string
}

// ParseURL reads mysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE with the
// parameters table (the session table), tls (true, false, skip-verify,
// preferred) and timeout (a new connection's bound, 1 s by default). Its
// errors never hold the password.
func ParseURL(rawURL string) (*Config, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// Not err itself: a *url.Error quotes the whole URL, password included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("mysql URL: cannot parse: %v", err)
	}
	if u.Scheme != "mysql" {
		return nil, fmt.Errorf("mysql URL %s: scheme must be mysql://", Redact(rawURL))
	}
	db := strings.TrimPrefix(u.Path, "/")
	if u.Hostname() == "" || db == "" || strings.Contains(db, "/") {
		return nil, fmt.Errorf("mysql URL %s: name the database (and the host): want mysql://USER:PASSWORD@HOST:PORT/DATABASE", Redact(rawURL))
	}
	c := mysql.NewConfig()
	c.Net, c.DBName = "tcp", db
	port := u.Port()
	if port == "" {
		port = strconv.Itoa(DefaultPort)
	}
	c.Addr = net.JoinHostPort(u.Hostname(), port)
	if u.User != nil {
		c.User = u.User.Username()
		c.Passwd, _ = u.User.Password()
	}
	c.Timeout = dialTimeout
	// Arguments interpolated by the driver (it refuses to for charsets
	// where that is unsafe): one round trip per call, not three.
	c.InterpolateParams = true
	cfg := &Config{Driver: c}
	for key, vals := range u.Query() {
		v := vals[len(vals)-1]
		switch key {
		case "table":
			cfg.Table = v
		case "tls":
			if v != "true" && v != "false" && v != "skip-verify" && v != "preferred" {
				return nil, fmt.Errorf("mysql URL %s: tls must be true, false, skip-verify or preferred", Redact(rawURL))
			}
			c.TLSConfig = v
		case "timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("mysql URL %s: timeout must be a positive duration such as 1s", Redact(rawURL))
			}
			c.Timeout = d
		default:
			return nil, fmt.Errorf("mysql URL %s: unknown parameter %q (known: table, tls, timeout)", Redact(rawURL), key)
		}
	}
	return cfg, nil
}

// OpenURL returns a pool for a mysql:// URL (ParseURL) and the table the
// URL names ("" for the default). It does not connect: a database that is
// down gives a pool whose calls fail with ErrStoreUnavailable until it is
// back.
func OpenURL(rawURL string) (db *sql.DB, table string, err error) {
	cfg, err := ParseURL(rawURL)
	if err != nil {
		return nil, "", err
	}
	conn, err := mysql.NewConnector(cfg.Driver)
	if err != nil {
		return nil, "", fmt.Errorf("mysql URL %s: %v", Redact(rawURL), err)
	}
	db = sql.OpenDB(conn)
	// Connections that outlive a server's wait_timeout are closed by it;
	// drop them first.
	db.SetConnMaxIdleTime(5 * time.Minute)
	db.SetMaxIdleConns(8)
	return db, cfg.Table, nil
}

// Redact returns a mysql:// URL without its password, for logs and
// messages.
func Redact(rawURL string) string { return connectsid.RedactURL(rawURL) }
