package knexstore

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"

	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/mysqlstore"
	"github.com/expressbridge/expressbridge/connectsid/pgstore"
)

// Dialect is the SQL database under connect-session-knex's knex client.
type Dialect string

// The dialects connect-session-knex has fast paths for and this package
// speaks.
const (
	Postgres Dialect = "postgres" // knex client "pg"
	MySQL    Dialect = "mysql"    // knex client "mysql" or "mysql2", MySQL or MariaDB
	SQLite   Dialect = "sqlite"   // knex client "sqlite3" or "better-sqlite3"
)

// dialect is what differs between the databases: how knex writes a date,
// how connect-session-knex's expiry condition reads, and how each says
// that a table is missing or a connection was lost.
type dialect struct {
	name Dialect
	// quote quotes an identifier.
	quote func(string) string
	// ph is the placeholder of the i-th (1-based) parameter.
	ph func(i int) string
	// date is connect-session-knex's dateAsISO(knex, ms).
	date func(ms int64) string
	// live is connect-session-knex's expiredCondition, the date parameter
	// numbered n: true while the row's expired has not passed.
	live func(n int) string
	// expiryMS is expired as Unix milliseconds (a number), for TTL.
	expiryMS string
	// noTable reports the database's "no such table".
	noTable func(error) bool
	// lost reports the loss of a connection, as opposed to the
	// database's answer: only then is a statement retried.
	lost func(error) bool
}

func dialectOf(d Dialect) (*dialect, bool) {
	switch d {
	case Postgres:
		return &postgres, true
	case MySQL:
		return &mysqlDialect, true
	case SQLite:
		return &sqliteDialect, true
	}
	return nil, false
}

func dollar(i int) string { return "$" + strconv.Itoa(i) }
func question(int) string { return "?" }

// isoDate is JavaScript's Date.prototype.toISOString of a time in ms.
func isoDate(ms int64) string { return connectsid.ISOString(time.UnixMilli(ms)) }

var postgres = dialect{
	name:  Postgres,
	quote: pgstore.QuoteIdent, // SQLite quotes as PostgreSQL does
	ph:    dollar,
	date:  isoDate,
	live: func(n int) string {
		return "CAST(" + dollar(n) + " AS timestamp with time zone) <= expired"
	},
	expiryMS: "(extract(epoch FROM expired) * 1000)::float8",
	noTable:  pgstore.NoSuchTable,
	lost:     pgstore.ConnectionLost,
}

var mysqlDialect = dialect{
	name:  MySQL,
	quote: mysqlstore.QuoteIdent,
	ph:    question,
	// date.toISOString().slice(0, 19).replace("T", " "): UTC, the
	// milliseconds cut off (not rounded).
	date: func(ms int64) string { return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05") },
	live: func(int) string { return "CAST(? AS DATETIME) <= expired" },
	// A DATETIME has no time zone, and knex wrote UTC into it: counted
	// from the epoch as a DATETIME, whatever the session's time_zone.
	expiryMS: "TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expired) DIV 1000",
	noTable:  mysqlstore.NoSuchTable,
	lost:     mysqlstore.ConnectionLost,
}

var sqliteDialect = dialect{
	name:  SQLite,
	quote: pgstore.QuoteIdent, // SQLite quotes as PostgreSQL does
	ph:    question,
	date:  isoDate,
	// SQLite has no date type: knex stores the ISO text, and
	// connect-session-knex compares through datetime(), to the second.
	live:     func(int) string { return "datetime(?) <= datetime(expired)" },
	expiryMS: "(julianday(expired) - 2440587.5) * 86400000.0",
	noTable: func(err error) bool {
		var e *sqlite.Error
		return errors.As(err, &e) && strings.Contains(e.Error(), "no such table")
	},
	// A file has no connection to lose; SQLITE_BUSY has already waited
	// out the busy timeout.
	lost: func(error) bool { return false },
}
