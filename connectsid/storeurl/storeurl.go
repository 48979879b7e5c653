// Package storeurl opens the session store a URL names: Redis (redis://,
// rediss://, redis+cluster://, a Sentinel URL with ?master_name=) through
// redisstore, PostgreSQL (postgres://, postgresql://) through pgstore,
// MariaDB and MySQL (mysql://) through mysqlstore, connect-session-knex's
// table (knex+postgres://, knex+mysql://, knex+sqlite:///path) through
// knexstore, and cookie-session (cookie-session:, with
// ?algorithm=sha1|sha256|sha512), whose sessions are kept in the cookie and
// so have no store at all. It
// holds the one set of rules for store URLs that the library and every
// command share; it does no I/O until the store is first used.
package storeurl

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/knexstore"
	"github.com/expressbridge/expressbridge/connectsid/mysqlstore"
	"github.com/expressbridge/expressbridge/connectsid/pgstore"
	"github.com/expressbridge/expressbridge/connectsid/redisstore"
)

// Kind is the family of store a URL names.
type Kind string

// The store kinds.
const (
	Redis    Kind = "redis"
	Postgres Kind = "postgres"
	MySQL    Kind = "mysql" // MariaDB or MySQL, express-mysql-session's table
	Knex     Kind = "knex"  // connect-session-knex on PostgreSQL, MySQL or SQLite
	// CookieSession is cookie-session's: no store, the session is the
	// cookie (connectsid/cookiesession reads it with the app's keys).
	CookieSession Kind = "cookie-session"
)

// Name names the kind as a log line or an error should: "PostgreSQL",
// "MySQL", "redis", "cookie-session".
func (k Kind) Name() string {
	switch k {
	case Postgres:
		return "PostgreSQL"
	case MySQL:
		return "MySQL"
	}
	return string(k)
}

// ErrBadURL means the URL cannot name a store: it does not parse, its
// scheme is no store's, or an option does not fit its kind. It is the
// caller's mistake, never the store's.
var ErrBadURL = errors.New("storeurl: bad store URL")

// Options are the stores' own options. Redis's fields are connect-redis's,
// PostgreSQL's connect-pg-simple's, MySQL's express-mysql-session's; TTL
// and DisableTouch are every store's.
type Options struct {
	// Prefix is connect-redis's prefix (redisstore.DefaultPrefix when empty).
	Prefix string
	// Table and Schema are connect-pg-simple's tableName and schemaName;
	// Table is also express-mysql-session's schema.tableName (a mysql://
	// URL may name it as ?table= instead).
	Table, Schema string
	// TTL is the TTL of records whose cookie has no expiry
	// (redisstore.DefaultTTL when zero).
	TTL time.Duration
	// DisableTTL is connect-redis's disableTTL (Redis only).
	DisableTTL bool
	// DisableTouch is connect-redis's, connect-pg-simple's and
	// express-mysql-session's disableTouch (connect-session-knex has none).
	DisableTouch bool
	// Timing, when set, times each round trip of the SQL stores (Redis is
	// timed by a hook on its client).
	Timing func(op string, d time.Duration, err error)
}

// Store is an opened store: exactly one of Redis, PG, MySQL and Knex is
// set, or none for CookieSession.
type Store struct {
	Kind Kind
	// URL is the store's URL without its password, for logs.
	URL   string
	Redis *redisstore.Store
	PG    *pgstore.Store
	MySQL *mysqlstore.Store
	Knex  *knexstore.Store
	// CookieAlgorithm is keygrip's algorithm of a CookieSession URL
	// (?algorithm=, cookiesession.SHA1 by default).
	CookieAlgorithm string
	close           func()
}

// Close releases the store's connections.
func (s *Store) Close() { s.close() }

// Where says where the store keeps sessions, for logs: under a prefix, or
// in a table.
func (s *Store) Where() string {
	if s.PG != nil {
		return "in table " + s.PG.Table()
	}
	if s.MySQL != nil {
		return "in table " + s.MySQL.Table()
	}
	if s.Knex != nil {
		return "in table " + s.Knex.Table()
	}
	if s.Kind == CookieSession {
		return "in the cookie (cookie-session: nothing on a server)"
	}
	return fmt.Sprintf("under prefix %q", s.Redis.Prefix())
}

// KindOf tells the store a URL names; it fails with ErrBadURL.
func KindOf(rawURL string) (Kind, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("%w: not a URL", ErrBadURL)
	}
	switch strings.ToLower(u.Scheme) {
	case "redis", "rediss", "redis+cluster", "rediss+cluster":
		return Redis, nil
	case "postgres", "postgresql":
		return Postgres, nil
	case "mysql":
		return MySQL, nil
	case "knex+postgres", "knex+postgresql", "knex+mysql", "knex+sqlite":
		return Knex, nil
	case "cookie-session":
		return CookieSession, nil
	}
	return "", fmt.Errorf("%w: the scheme %q is not a store's: use redis://, rediss://, redis+cluster://, postgres://, mysql://, "+
		"knex+postgres://, knex+mysql://, knex+sqlite:///path or cookie-session:",
		ErrBadURL, u.Scheme)
}

// Redact returns rawURL without its password.
func Redact(rawURL string) string { return connectsid.RedactURL(rawURL) }

// Open opens the store rawURL names with opts. Errors wrap ErrBadURL and
// hold the URL only without its password. The caller must Close the store.
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	kind, err := KindOf(rawURL)
	if err != nil {
		return nil, err
	}
	if opts.TTL < 0 {
		return nil, fmt.Errorf("%w: TTL must not be negative, not %v", ErrBadURL, opts.TTL)
	}
	if err := Check(kind, opts); err != nil {
		return nil, err
	}
	if opts.TTL == 0 {
		opts.TTL = redisstore.DefaultTTL
	}
	switch kind {
	case Postgres:
		return openPostgres(ctx, rawURL, opts)
	case MySQL:
		return openMySQL(rawURL, opts)
	case Knex:
		return openKnex(ctx, rawURL, opts)
	case CookieSession:
		return openCookieSession(rawURL, opts)
	}
	if opts.Prefix == "" {
		opts.Prefix = redisstore.DefaultPrefix
	}
	client, err := redisstore.OpenURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %s", ErrBadURL, redisstore.Redact(rawURL), Scrub(err.Error(), rawURL))
	}
	st := redisstore.New(client, redisstore.Options{
		Prefix:       opts.Prefix,
		TTL:          opts.TTL,
		DisableTTL:   opts.DisableTTL,
		DisableTouch: opts.DisableTouch,
	})
	return &Store{Kind: Redis, URL: redisstore.Redact(rawURL), Redis: st, close: func() { _ = client.Close() }}, nil
}

func openPostgres(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	pool, err := pgstore.OpenURL(ctx, rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	st, err := pgstore.New(pool, pgstore.Options{
		TableName:    opts.Table,
		SchemaName:   opts.Schema,
		TTL:          opts.TTL,
		DisableTouch: opts.DisableTouch,
		Timing:       opts.Timing,
	})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	return &Store{Kind: Postgres, URL: pgstore.Redact(rawURL), PG: st, close: pool.Close}, nil
}

// openCookieSession checks a cookie-session: URL. It opens nothing: the
// session is the cookie.
func openCookieSession(rawURL string, opts Options) (*Store, error) {
	u, _ := url.Parse(rawURL) // KindOf parsed it
	if u.Host != "" || (u.Path != "" && u.Path != "/") || u.Opaque != "" || u.User != nil {
		return nil, fmt.Errorf("%w: %s: a cookie-session URL names no server: cookie-session: or cookie-session:?algorithm=sha256", ErrBadURL, Redact(rawURL))
	}
	q := u.Query()
	alg := q.Get("algorithm")
	switch alg {
	case "":
		alg = "sha1"
	case "sha1", "sha256", "sha512":
	default:
		return nil, fmt.Errorf("%w: algorithm=%q: keygrip's algorithm is sha1 (its default), sha256 or sha512", ErrBadURL, alg)
	}
	for k := range q {
		if k != "algorithm" {
			return nil, fmt.Errorf("%w: %q is not an option of cookie-session: (only algorithm)", ErrBadURL, k)
		}
	}
	return &Store{Kind: CookieSession, URL: rawURL, CookieAlgorithm: alg, close: func() {}}, nil
}

func openMySQL(rawURL string, opts Options) (*Store, error) {
	db, table, err := mysqlstore.OpenURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrBadURL, Scrub(err.Error(), rawURL))
	}
	if opts.Table != "" && table != "" && opts.Table != table {
		_ = db.Close()
		return nil, fmt.Errorf("%w: the URL's ?table=%s and the table option %s differ", ErrBadURL, table, opts.Table)
	}
	if table == "" {
		table = opts.Table
	}
	st, err := mysqlstore.New(db, mysqlstore.Options{
		TableName:    table,
		Expiration:   opts.TTL,
		DisableTouch: opts.DisableTouch,
		Timing:       opts.Timing,
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	return &Store{Kind: MySQL, URL: mysqlstore.Redact(rawURL), MySQL: st, close: func() { _ = db.Close() }}, nil
}

func openKnex(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	st, err := knexstore.Open(ctx, rawURL, knexstore.Options{TableName: opts.Table, Timing: opts.Timing})
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrBadURL, Scrub(err.Error(), rawURL))
	}
	return &Store{Kind: Knex, URL: knexstore.Redact(rawURL), Knex: st, close: func() { _ = st.Close() }}, nil
}

// Scrub removes rawURL and its password from msg (url.Parse's errors
// quote the whole URL), leaving Redact's form of it.
func Scrub(msg, rawURL string) string {
	msg = strings.ReplaceAll(msg, rawURL, Redact(rawURL))
	if u, err := url.Parse(rawURL); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
	}
	return msg
}

// Ping says whether the store answers; a CookieSession always does.
func (s *Store) Ping(ctx context.Context) error {
	if s.Kind == CookieSession {
		return nil
	}
	return s.Sessions().Ping(ctx)
}

// Sessions is what every store Open opens does.
type Sessions interface {
	Get(ctx context.Context, sid string) (*connectsid.Session, error)
	Set(ctx context.Context, sess *connectsid.Session) error
	Touch(ctx context.Context, sess *connectsid.Session) error
	Destroy(ctx context.Context, sid string) error
	TTL(ctx context.Context, sid string) (time.Duration, error)
	IDs(ctx context.Context, limit int) ([]string, error)
	Ping(ctx context.Context) error
}

// Sessions is the one store s opened, whichever it is; nil for
// CookieSession, which has none.
func (s *Store) Sessions() Sessions {
	switch {
	case s.PG != nil:
		return s.PG
	case s.MySQL != nil:
		return s.MySQL
	case s.Knex != nil:
		return s.Knex
	case s.Redis != nil:
		return s.Redis
	}
	return nil
}
