package knexstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // the "sqlite" driver, pure Go

	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/mysqlstore"
	"github.com/expressbridge/expressbridge/connectsid/pgstore"
)

const (
	// sqliteBusyTimeout is how long a statement waits for a lock the
	// Express app (or anyone) holds on the file: under DefaultTimeout, so
	// that a file locked for long answers ErrStoreUnavailable in time.
	sqliteBusyTimeout = time.Second
	// sqliteConns bounds the connections to one file: SQLite serialises
	// writers anyway.
	sqliteConns = 4
)

// Schemes are the URL schemes Open takes.
var Schemes = []string{"knex+postgres", "knex+postgresql", "knex+mysql", "knex+sqlite"}

// DialectOf returns the dialect a knex+ URL names, or false.
func DialectOf(rawURL string) (Dialect, bool) {
	scheme, _, ok := strings.Cut(rawURL, "://")
	if !ok {
		return "", false
	}
	switch strings.ToLower(scheme) {
	case "knex+postgres", "knex+postgresql":
		return Postgres, true
	case "knex+mysql":
		return MySQL, true
	case "knex+sqlite":
		return SQLite, true
	}
	return "", false
}

// Open opens the store a URL names, the knex client's connection with
// "knex+" before it:
//
//	knex+postgres://user:pass@host:5432/db[?sslmode=…]  (pgstore.OpenURL's form)
//	knex+mysql://user:pass@host:3306/db[?tls=…&timeout=…]  (mysqlstore.ParseURL's form)
//	knex+sqlite:///absolute/path/to/file.sqlite
//
// each with an optional ?table= (a different opts.TableName beside it is
// refused, as a mistake).
// The SQLite file must exist (the Express app creates it). It does not
// connect: a database that is down gives a store whose calls fail with
// ErrStoreUnavailable until it is back. Errors never hold the password.
// Close releases the connections.
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	d, ok := DialectOf(rawURL)
	if !ok {
		return nil, errors.New("knex URL: the scheme must be knex+postgres://, knex+mysql:// or knex+sqlite://")
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // not the whole URL, password included
		}
		return nil, fmt.Errorf("knex URL: cannot parse: %v", err)
	}
	q := u.Query()
	if t := q.Get("table"); t != "" {
		if opts.TableName != "" && opts.TableName != t {
			return nil, fmt.Errorf("knex URL: its ?table=%s and the table option %s differ", t, opts.TableName)
		}
		opts.TableName = t
	}
	q.Del("table")
	u.RawQuery = q.Encode()
	u.Scheme = strings.TrimPrefix(strings.ToLower(u.Scheme), "knex+")

	var (
		db    *sql.DB
		close func() error
	)
	switch d {
	case Postgres:
		pool, err := pgstore.OpenURL(ctx, u.String())
		if err != nil {
			return nil, fmt.Errorf("knex+%v", err)
		}
		db = stdlib.OpenDBFromPool(pool)
		close = func() error { err := db.Close(); pool.Close(); return err }
	case MySQL:
		// mysql2's connection from the same URL is express-mysql-session's
		// too: one parser (TLS, timeout), with found rows counted so that
		// a touch writing the same expired still counts its row.
		mc, err := mysqlstore.ParseURL(u.String())
		if err != nil {
			return nil, fmt.Errorf("knex+%v", err)
		}
		mc.Driver.ClientFoundRows = true
		conn, err := mysql.NewConnector(mc.Driver)
		if err != nil {
			return nil, fmt.Errorf("knex+mysql URL %s: %v", Redact(rawURL), err)
		}
		db = sql.OpenDB(conn)
		close = db.Close
	case SQLite:
		dsn, err := sqliteDSN(u)
		if err != nil {
			return nil, fmt.Errorf("knex+sqlite URL %s: %v", Redact(rawURL), err)
		}
		if db, err = sql.Open("sqlite", dsn); err != nil {
			return nil, fmt.Errorf("knex+sqlite URL %s: %v", Redact(rawURL), err)
		}
		db.SetMaxOpenConns(sqliteConns)
		close = db.Close
	}
	s, err := New(db, d, opts)
	if err != nil {
		_ = close()
		return nil, err
	}
	s.close = close
	return s, nil
}

// sqliteDSN is modernc.org/sqlite's name for a sqlite:///path URL: the
// file opened read-write, never created, with a busy timeout.
func sqliteDSN(u *url.URL) (string, error) {
	switch {
	case u.Host != "":
		return "", errors.New("the form is knex+sqlite:///absolute/path (three slashes, no host)")
	case !strings.HasPrefix(u.Path, "/"):
		return "", errors.New("the path must be absolute: knex+sqlite:///absolute/path")
	case len(u.Query()) > 0:
		return "", errors.New("the only parameter is table")
	}
	file := (&url.URL{Scheme: "file", Path: u.Path}).String()
	return file + fmt.Sprintf("?mode=rw&_pragma=busy_timeout(%d)", sqliteBusyTimeout.Milliseconds()), nil
}

// Redact returns a knex+ URL without its password, for logs and messages.
func Redact(rawURL string) string { return connectsid.RedactURL(rawURL) }
