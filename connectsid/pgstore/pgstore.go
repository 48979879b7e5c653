// Package pgstore reads and writes express-session records in PostgreSQL
// exactly as connect-pg-simple (10) does: one row per session in its table
// (sid varchar primary key, sess json, expire timestamp(6)), with the same
// SQL and the same expire arithmetic, so that Express and Go share sessions
// in both directions.
//
// It knows nothing of HTTP. Every call honours its context and is bounded
// by Options.Timeout, so a dead database answers
// connectsid.ErrStoreUnavailable quickly instead of hanging a caller.
//
// Times. connect-pg-simple computes expire on the app server's clock
// (JavaScript's Date.now(), never the database's now()) as whole Unix
// seconds, and writes and compares it with to_timestamp(seconds). The
// column has no time zone, so PostgreSQL converts with the session's
// TimeZone setting on the way in and on the way out; the Go side uses the
// same SQL and Options.Now, and must therefore run with the same TimeZone as
// the Node pool: the server's default unless one of them overrides it
// (OpenURL ignores $PGTZ, which pgx would otherwise send and node-pg does
// not; a timezone parameter in the URL is kept).
package pgstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/expressbridge/expressbridge/connectsid"
)

// Defaults, each the same as connect-pg-simple's unless said otherwise.
const (
	DefaultTableName = "session"
	DefaultTTL       = 86400 * time.Second // connect-pg-simple's ONE_DAY, for records without cookie.expires
	// DefaultTimeout bounds one store call; ours, so that a dead database
	// delays a handshake by at most this much.
	DefaultTimeout = 2 * time.Second
	// dialTimeout bounds a new connection of a pool made by OpenURL when
	// the URL sets no connect_timeout: a black-holed host must not use up
	// a whole call's Timeout before the one retry.
	dialTimeout = time.Second
)

// ErrNoTable means the session table does not exist (yet): connect-pg-simple
// creates it on its first query only with createTableIfMissing, else the
// operator creates it from its table.sql.
var ErrNoTable = errors.New("session table does not exist")

// Options are connect-pg-simple's options that change what is stored, plus
// the Go side's limits. The zero value is connect-pg-simple's defaults.
type Options struct {
	// TableName is the table ("session" when empty), as connect-pg-simple's
	// tableName: any text, quoted as an identifier.
	TableName string
	// SchemaName qualifies the table when non-empty, as connect-pg-simple's
	// schemaName; when empty the search_path finds the table.
	SchemaName string
	// TTL is used for records without cookie.expires (24h when zero), as
	// connect-pg-simple's ttl (which is in seconds; sub-second parts count
	// in milliseconds here).
	TTL time.Duration
	// DisableTouch makes Touch do nothing, as connect-pg-simple's disableTouch.
	DisableTouch bool
	// MaxRecordSize bounds a record before decoding
	// (connectsid.DefaultMaxRecordSize when zero).
	MaxRecordSize int
	// Timeout bounds each call (DefaultTimeout when zero).
	Timeout time.Duration
	// Now returns the time used for expire and its checks (time.Now when
	// nil): connect-pg-simple uses the app server's clock, not the database's.
	Now func() time.Time
	// Timing, when set, is called after each round trip with the
	// operation ("get", "get many", "set", "update", "touch", "destroy", "ttl",
	// "ids", "ping"), how long it took (a retry included) and its error;
	// a missing row is an answer, not an error. For metrics: it runs on
	// the caller's goroutine, so it must be quick.
	Timing func(op string, d time.Duration, err error)
}

// Store is a session store on a pgx pool. It is safe for concurrent use.
type Store struct {
	pool    *pgxpool.Pool
	opts    Options
	table   string // quoted and qualified, as connect-pg-simple's quotedTable()
	channel string // LISTEN/NOTIFY channel of the table's trigger
	q       queries
}

// queries are the statements, built once for the table.
type queries struct {
	get, getMany, set, update, touch, destroy, ttl, ids string
}

// New returns a store on pool with opts; zero fields take their defaults.
// It fails only when a name cannot be a PostgreSQL identifier (it holds a
// NUL byte): a usage error, not the database's.
func New(pool *pgxpool.Pool, opts Options) (*Store, error) {
	if opts.TableName == "" {
		opts.TableName = DefaultTableName
	}
	if strings.ContainsRune(opts.TableName+opts.SchemaName, 0) {
		return nil, errors.New("pgstore: table and schema names cannot hold a NUL byte")
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
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
	s := &Store{pool: pool, opts: opts, table: QuoteIdent(opts.TableName)}
	if opts.SchemaName != "" {
		s.table = QuoteIdent(opts.SchemaName) + "." + s.table
	}
	s.channel = channelName(opts.SchemaName, opts.TableName)
	t := s.table
	// The statements connect-pg-simple sends, with the same parameters, so
	// that PostgreSQL does exactly the same; Get and GetMany also say
	// whether the row is past its expire instead of hiding it.
	s.q = queries{
		get:     `SELECT sess::text, expire >= to_timestamp($2) FROM ` + t + ` WHERE sid = $1`,
		getMany: `SELECT sid, sess::text, expire >= to_timestamp($2) FROM ` + t + ` WHERE sid = ANY($1)`,
		set: `INSERT INTO ` + t + ` (sess, expire, sid) SELECT $1, to_timestamp($2), $3` +
			` ON CONFLICT (sid) DO UPDATE SET sess=$1, expire=to_timestamp($2) RETURNING sid`,
		// Update's write: connect-pg-simple's set as an UPDATE only (never
		// an insert), and only of the record Update read.
		update:  `UPDATE ` + t + ` SET sess = $1, expire = to_timestamp($2) WHERE sid = $3 AND sess::text = $4`,
		touch:   `UPDATE ` + t + ` SET expire = to_timestamp($1) WHERE sid = $2 RETURNING sid`,
		destroy: `DELETE FROM ` + t + ` WHERE sid = $1`,
		ttl:     `SELECT extract(epoch FROM expire::timestamptz)::float8 FROM ` + t + ` WHERE sid = $1`,
		ids:     `SELECT sid FROM ` + t + ` WHERE expire >= to_timestamp($1) LIMIT $2`,
	}
	return s, nil
}

// Table returns the table's name as the SQL uses it: quoted, and qualified
// when Options.SchemaName is set, e.g. "session" or "app"."session".
func (s *Store) Table() string { return s.table }

// Pool returns the underlying pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Get loads a session. It fails with connectsid.ErrNoSession when there is
// no row, ErrExpired when the row's expire has passed (connect-pg-simple's
// get does not return such rows: expire >= to_timestamp(ceil(now))),
// ErrMalformedSession when the record is too large or not a session
// record, ErrStoreUnavailable when the database cannot be asked (wrapping
// ErrNoTable when the table is missing). With ErrExpired the decoded
// session is returned when there is one, so that the caller can say by how
// long. Like connect-pg-simple it leaves the record's cookie.expires alone:
// the row's expire is the store's expiry, and whether a record past
// cookie.expires is accepted is the caller's to decide (the gate's,
// auth.Config.AcceptExpired).
func (s *Store) Get(ctx context.Context, sid string) (*connectsid.Session, error) {
	// 1. A sid PostgreSQL cannot hold (NUL, bad UTF-8) has no row.
	if !storable(sid) {
		return nil, noSession(sid, "not storable in PostgreSQL")
	}
	// 2. One query, retried once on a dead pooled connection (as do does,
	// written out: this is the hot path).
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var (
		rec  string
		live bool
	)
	now := jsSeconds(s.opts.Now())
	start := time.Now()
	err := s.pool.QueryRow(ctx, s.q.get, sid, now).Scan(&rec, &live)
	if err != nil && ctx.Err() == nil && ConnectionLost(err) && !errors.Is(err, pgx.ErrNoRows) {
		err = s.pool.QueryRow(ctx, s.q.get, sid, now).Scan(&rec, &live)
	}
	s.timing("get", start, err)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, noSession(sid, "")
	case err != nil:
		return nil, s.failed(ctx, "get", err)
	}
	// 3. The record, its expire and its cookie.
	return s.judge(sid, rec, live)
}

// GetMany loads many sessions in one round trip (WHERE sid = ANY($1)), for
// revalidating every open session at once when change notifications are
// not available. Once the query has succeeded it calls each(sid, sess,
// err) for every sid, in order, with exactly what Get would have returned
// for it. When the query fails it calls each for none and returns
// ErrStoreUnavailable. Its types are connectsid's and the standard
// library's, so a consumer can declare it in an interface of its own.
func (s *Store) GetMany(ctx context.Context, sids []string, each func(sid string, sess *connectsid.Session, err error)) error {
	// 1. Only sids PostgreSQL can hold go into the query.
	ask := make([]string, 0, len(sids))
	for _, sid := range sids {
		if storable(sid) {
			ask = append(ask, sid)
		}
	}
	// 2. One query for all of them.
	type row struct {
		rec  string
		live bool
	}
	var rows map[string]row
	now := jsSeconds(s.opts.Now())
	err := s.do(ctx, "get many", func(ctx context.Context) error {
		rows = make(map[string]row, len(ask))
		rs, err := s.pool.Query(ctx, s.q.getMany, ask, now)
		if err != nil {
			return err
		}
		var (
			sid string
			r   row
		)
		_, err = pgx.ForEachRow(rs, []any{&sid, &r.rec, &r.live}, func() error {
			rows[sid] = r
			return nil
		})
		return err
	})
	if err != nil {
		return err
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
func (s *Store) judge(sid, rec string, live bool) (*connectsid.Session, error) {
	// 1. Decode, without copying the record, once it is known not too large.
	sess, err := connectsid.DecodeBounded(sid, rec, s.opts.MaxRecordSize)
	// 2. The row's expire, which connect-pg-simple's query checks.
	if !live {
		return sess, fmt.Errorf("%w (sid %s): the row's expire has passed", connectsid.ErrExpired, connectsid.Redact(sid))
	}
	if err != nil {
		return nil, err
	}
	return sess, nil
}

// Set saves a session as connect-pg-simple's set does: an upsert of the
// record with expire = ceil(cookie.expires / 1s), or ceil(now/1s + TTL)
// for a browser-session cookie. Unlike connect-redis, a session whose
// expiry has passed is still written (with that expire), as
// connect-pg-simple does; Get then refuses it by that expire.
func (s *Store) Set(ctx context.Context, sess *connectsid.Session) error {
	if !storable(sess.ID()) {
		return fmt.Errorf("pgstore: sid %s cannot be stored in PostgreSQL (NUL byte or invalid UTF-8)", connectsid.Redact(sess.ID()))
	}
	rec, expire := string(sess.Encode()), s.SetExpire(sess)
	return s.do(ctx, "set", func(ctx context.Context) error {
		_, err := s.pool.Exec(ctx, s.q.set, rec, expire, sess.ID())
		return err
	})
}

// Update reads, changes and writes a session without losing a concurrent
// write: it reads the row as Get does, calls fn on the record, and writes
// it with Set's expire in an UPDATE that applies only while the row still
// holds the text it read (a compare-and-set on sess::text; the json column
// keeps the text as written). When another writer changed the row, it
// reads it again. It never inserts: a row that is missing (or gone before
// the write) is ErrNoSession, one past its expire ErrExpired, and nothing
// is written. fn's error is returned as it is. It fails with ErrConflict
// after 16 lost races. The UPDATE is not retried on a lost connection
// (its effect would be unknown, and fn would run twice): that is
// ErrStoreUnavailable. Fields fn does not change are written back byte
// for byte.
func (s *Store) Update(ctx context.Context, sid string, fn func(*connectsid.Session) error) (*connectsid.Session, error) {
	if !storable(sid) {
		return nil, noSession(sid, "not storable in PostgreSQL")
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	for range connectsid.MaxUpdateAttempts {
		// 1. The row as Get reads it.
		var (
			rec  string
			live bool
		)
		err := s.pool.QueryRow(ctx, s.q.get, sid, jsSeconds(s.opts.Now())).Scan(&rec, &live)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return nil, noSession(sid, "")
		case err != nil:
			return nil, s.failed(ctx, "update", err)
		}
		sess, err := s.judge(sid, rec, live)
		if err != nil {
			return nil, err
		}
		// 2. The change.
		if err := fn(sess); err != nil {
			return nil, err
		}
		// 3. Written only over the text read in 1.
		start := time.Now()
		tag, err := s.pool.Exec(ctx, s.q.update, string(sess.Encode()), s.SetExpire(sess), sid, rec)
		s.timing("update", start, err)
		if err != nil {
			return nil, s.failed(ctx, "update", err)
		}
		if tag.RowsAffected() == 1 {
			return sess, nil
		}
	}
	return nil, fmt.Errorf("%w (sid %s): %d attempts", connectsid.ErrConflict, connectsid.Redact(sid), connectsid.MaxUpdateAttempts)
}

// Touch renews a session's expire as express-session + connect-pg-simple do
// on a request that did not change the session: express-session first
// resets cookie.expires to now + originalMaxAge, then connect-pg-simple
// sets expire = ceil(expires / 1s) (ceil(now/1s + TTL) for a
// browser-session cookie) without rewriting the record. It does nothing
// with DisableTouch, and fails with ErrNoSession when there is no row
// (connect-pg-simple ignores that; Go callers want to know).
func (s *Store) Touch(ctx context.Context, sess *connectsid.Session) error {
	if s.opts.DisableTouch {
		return nil
	}
	if !storable(sess.ID()) {
		return noSession(sess.ID(), "not storable in PostgreSQL")
	}
	expire := s.TouchExpire(sess)
	var n int64
	err := s.do(ctx, "touch", func(ctx context.Context) error {
		tag, err := s.pool.Exec(ctx, s.q.touch, expire, sess.ID())
		n = tag.RowsAffected()
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

// Destroy deletes a session's row, as connect-pg-simple's destroy; a
// missing row is not an error.
func (s *Store) Destroy(ctx context.Context, sid string) error {
	if !storable(sid) {
		return nil
	}
	return s.do(ctx, "destroy", func(ctx context.Context) error {
		_, err := s.pool.Exec(ctx, s.q.destroy, sid)
		return err
	})
}

// TTL returns the time left until the row's expire, measured on
// Options.Now; it is negative for a row past its expire that nobody has
// pruned yet (PostgreSQL deletes nothing by itself). It fails with
// ErrNoSession when there is no row.
func (s *Store) TTL(ctx context.Context, sid string) (time.Duration, error) {
	if !storable(sid) {
		return 0, noSession(sid, "not storable in PostgreSQL")
	}
	var (
		epoch float64
		found = true
	)
	err := s.do(ctx, "ttl", func(ctx context.Context) error {
		err := s.pool.QueryRow(ctx, s.q.ttl, sid).Scan(&epoch)
		if errors.Is(err, pgx.ErrNoRows) {
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
	expire := time.UnixMilli(int64(epoch * 1000))
	return expire.Sub(s.opts.Now()), nil
}

// IDs returns up to limit session IDs whose row's expire has not passed
// (all when limit ≤ 0), in no particular order.
func (s *Store) IDs(ctx context.Context, limit int) ([]string, error) {
	var lim *int64
	if limit > 0 {
		l := int64(limit)
		lim = &l
	}
	now := jsSeconds(s.opts.Now())
	var ids []string
	err := s.do(ctx, "ids", func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx, s.q.ids, now, lim)
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	return ids, err
}

// Ping checks that the database answers and that the table exists
// (ErrStoreUnavailable wrapping ErrNoTable when it does not), with the same
// to_regclass check connect-pg-simple's createTableIfMissing makes.
func (s *Store) Ping(ctx context.Context) error {
	var exists bool
	err := s.do(ctx, "ping", func(ctx context.Context) error {
		return s.pool.QueryRow(ctx, `SELECT to_regclass($1::text) IS NOT NULL`, s.table).Scan(&exists)
	})
	if err != nil {
		return err
	}
	if !exists {
		return s.unavailable("ping", s.noTable())
	}
	return nil
}

// SetExpire returns the expire, in Unix seconds, that connect-pg-simple's
// set writes for sess at Options.Now: ceil(cookie.expires / 1s), or
// ceil(now/1s + TTL) for a browser-session cookie.
func (s *Store) SetExpire(sess *connectsid.Session) int64 {
	if exp := sess.Cookie().Expires; exp != nil {
		return ceilDiv(exp.UnixMilli(), 1000)
	}
	return ceilDiv(s.opts.Now().UnixMilli()+s.opts.TTL.Milliseconds(), 1000)
}

// TouchExpire returns the expire, in Unix seconds, that a touch by
// express-session + connect-pg-simple writes for sess at Options.Now:
// ceil((now + originalMaxAge) / 1s), or ceil(now/1s + TTL) for a
// browser-session cookie.
func (s *Store) TouchExpire(sess *connectsid.Session) int64 {
	now := s.opts.Now().UnixMilli()
	if oma := sess.Cookie().OriginalMaxAge; oma != nil {
		return ceilDiv(now+*oma, 1000)
	}
	return ceilDiv(now+s.opts.TTL.Milliseconds(), 1000)
}

// do runs one statement under the call's timeout and turns its failure
// into ErrStoreUnavailable. A pooled connection that died with a database
// restart or pg_terminate_backend fails the first attempt; every statement
// here is idempotent, so one retry on a fresh connection is safe.
func (s *Store) do(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	start := time.Now()
	err := fn(ctx)
	if err != nil && ctx.Err() == nil && ConnectionLost(err) {
		err = fn(ctx)
	}
	s.timing(op, start, err)
	if err == nil {
		return nil
	}
	return s.failed(ctx, op, err)
}

// timing reports one round trip to Options.Timing.
func (s *Store) timing(op string, start time.Time, err error) {
	if s.opts.Timing == nil {
		return
	}
	if errors.Is(err, pgx.ErrNoRows) {
		err = nil
	}
	s.opts.Timing(op, time.Since(start), err)
}

// failed turns the failure of op under ctx into ErrStoreUnavailable,
// naming a missing table and keeping ctx's own error visible to errors.Is.
func (s *Store) failed(ctx context.Context, op string, err error) error {
	switch {
	case NoSuchTable(err):
		err = fmt.Errorf("%w: %w", s.noTable(), err)
	case ctx.Err() != nil && !errors.Is(err, ctx.Err()):
		err = fmt.Errorf("%w: %w", err, ctx.Err())
	}
	return s.unavailable(op, err)
}

// NoSuchTable reports whether err is PostgreSQL's undefined_table (42P01).
func NoSuchTable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42P01"
}

// ConnectionLost reports whether err (from pgx) is the loss of a
// connection rather than the database's answer to the statement: a
// network error, or the FATAL a backend sends when it is terminated (class
// 57P: admin or crash shutdown, pg_terminate_backend) or cannot take
// connections yet (class 08). A statement that failed so may be retried on
// another connection.
func ConnectionLost(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return true
	}
	return strings.HasPrefix(pgErr.Code, "57P") || strings.HasPrefix(pgErr.Code, "08")
}

func (s *Store) noTable() error {
	return fmt.Errorf("%w: %s (start the Express app with connect-pg-simple's createTableIfMissing, or create it from its table.sql)",
		ErrNoTable, s.table)
}

func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.opts.Timeout)
}

func (s *Store) unavailable(op string, err error) error {
	return fmt.Errorf("%w: postgres %s: %w", connectsid.ErrStoreUnavailable, op, err)
}

func noSession(sid, why string) error {
	if why != "" {
		return fmt.Errorf("%w (sid %s): %s", connectsid.ErrNoSession, connectsid.Redact(sid), why)
	}
	return fmt.Errorf("%w (sid %s)", connectsid.ErrNoSession, connectsid.Redact(sid))
}

// storable reports whether PostgreSQL can hold sid in a varchar: valid
// UTF-8 (the encoding connect-pg-simple's tables use) without NUL.
func storable(sid string) bool {
	return utf8.ValidString(sid) && !strings.ContainsRune(sid, 0)
}

// jsSeconds is connect-pg-simple's currentTimestamp(): Math.ceil(Date.now()
// / 1000), as the float8 that to_timestamp takes.
func jsSeconds(t time.Time) float64 { return float64(ceilDiv(t.UnixMilli(), 1000)) }

// ceilDiv is JavaScript's Math.ceil(a / b) for integers, b > 0.
func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a > 0 {
		q++
	}
	return q
}

// QuoteIdent quotes a name as connect-pg-simple does (and as SQL requires):
// in double quotes, each double quote doubled. Any text but NUL is safe.
func QuoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// quoteLiteral quotes text as an SQL string literal, as libpq's
// PQescapeLiteral: an E-prefixed literal when it holds a backslash, so the result
// does not depend on standard_conforming_strings.
func quoteLiteral(text string) string {
	text = strings.ReplaceAll(text, `'`, `''`)
	if strings.Contains(text, `\`) {
		return `E'` + strings.ReplaceAll(text, `\`, `\\`) + `'`
	}
	return `'` + text + `'`
}

// channelName is the NOTIFY channel of a table: "expressbridge:" and the
// unquoted qualified name, or a hash of it when that would pass
// PostgreSQL's 63-byte limit on channel names.
func channelName(schema, table string) string {
	name := table
	if schema != "" {
		name = schema + "." + table
	}
	if ch := "expressbridge:" + name; len(ch) <= 63 {
		return ch
	}
	sum := sha256.Sum256([]byte(schema + "\x00" + table))
	return "expressbridge:" + hex.EncodeToString(sum[:16])
}

// OpenURL returns a pool for a postgres:// or postgresql:// URL (libpq's
// URL form: user, password, host, port, database and parameters such as
// sslmode, connect_timeout, pool_max_conns). It ignores $PGTZ, as node-pg
// does, so that expire means the same to both. It does not connect: a
// database that is down gives a pool whose calls fail with
// ErrStoreUnavailable until it is back. Without connect_timeout each new
// connection is bounded by 1 s; calls are also bounded by their context.
func OpenURL(ctx context.Context, rawURL string) (*pgxpool.Pool, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// Not err itself: a *url.Error quotes the whole URL, password included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("postgres URL: cannot parse: %v", err)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return nil, fmt.Errorf("postgres URL %s: scheme must be postgres:// or postgresql://", Redact(rawURL))
	}
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		// Not %w: a ParseConfigError carries the unredacted URL.
		why := "cannot parse"
		if inner := errors.Unwrap(err); inner != nil {
			why = inner.Error()
		}
		return nil, fmt.Errorf("postgres URL %s: %s", Redact(rawURL), why)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = dialTimeout
	}
	// node-pg ignores PGTZ; pgx would send it as the session's TimeZone and
	// then read and write every expire shifted from Express's (see the
	// package doc). Only a timezone the URL itself names is kept.
	if !u.Query().Has("timezone") {
		delete(cfg.ConnConfig.RuntimeParams, "timezone")
	}
	return pgxpool.NewWithConfig(ctx, cfg)
}

// Redact returns a PostgreSQL URL without its password, for logs and
// messages.
func Redact(rawURL string) string { return connectsid.RedactURL(rawURL) }
