package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/redisstore"
	"github.com/expressbridge/expressbridge/connectsid/storeurl"
)

// sessionStore is what the commands need of a session store: the methods
// redisstore.Store and pgstore.Store share.
type sessionStore interface {
	Get(ctx context.Context, sid string) (*connectsid.Session, error)
	Touch(ctx context.Context, sess *connectsid.Session) error
	Destroy(ctx context.Context, sid string) error
	TTL(ctx context.Context, sid string) (time.Duration, error)
	IDs(ctx context.Context, limit int) ([]string, error)
}

// sessions is the opened store's one store, whichever it is.
func sessions(st *storeurl.Store) sessionStore { return st.Sessions() }

// storeKind tells the store a URL names.
func storeKind(rawURL string) (storeurl.Kind, error) {
	k, err := storeurl.KindOf(rawURL)
	if err != nil {
		return "", errors.New(badCause(err))
	}
	return k, nil
}

// badCause is a storeurl error without the package's prefix.
func badCause(err error) string {
	return strings.TrimPrefix(err.Error(), storeurl.ErrBadURL.Error()+": ")
}

// storeURL is the URL the flags name: --store-url, else --redis-url.
func (o *sessionOptions) storeURL() string {
	if o.storeURLFlag != "" {
		return o.storeURLFlag
	}
	return o.redisURL
}

// storeFlag names the flag the store URL came from, for messages.
func (o *sessionOptions) storeFlag() string {
	if o.storeURLFlag != "" {
		return "--store-url"
	}
	return "--redis-url"
}

// redact returns the store URL without its password.
func (o *sessionOptions) redact() string { return storeurl.Redact(o.storeURL()) }

// storeOptions are the flags' store options, for storeurl.Open.
func (o *sessionOptions) storeOptions() storeurl.Options {
	return storeurl.Options{
		Prefix:       o.prefix,
		Table:        o.table,
		Schema:       o.schema,
		TTL:          o.ttl,
		DisableTTL:   o.disableTTL,
		DisableTouch: o.disableTouch,
	}
}

// optionFlag names the flag of a storeurl.Options field.
func optionFlag(field string) string {
	switch field {
	case "DisableTTL":
		return "--disable-ttl"
	case "DisableTouch":
		return "--disable-touch"
	case "TTL":
		return "--ttl"
	}
	return "--" + strings.ToLower(field) // Table, Schema
}

// checkStoreFlags refuses the flag combinations storeurl.Check refuses, in
// the flags' own words, and those only a CLI has (--ttl zero, an empty
// --prefix).
func (o *sessionOptions) checkStoreFlags() (storeurl.Kind, error) {
	kind, err := storeKind(o.storeURL())
	if err != nil {
		e := usageErrorf("bad %s %s: %v", o.storeFlag(), o.redact(), err)
		e.hint = "the forms are redis://[user:pass@]host:port[/db], postgres://user:pass@host:port/db, mysql://user:pass@host:port/db[?table=…], " +
			"knex+postgres://…, knex+mysql://user:pass@host:3306/db, knex+sqlite:///absolute/path and cookie-session:[?algorithm=sha256]"
		return "", e
	}
	if o.ttl <= 0 {
		return "", usageErrorf("--ttl must be positive, not %v", o.ttl)
	}
	var oe *storeurl.OptionError
	if err := storeurl.Check(kind, o.storeOptions()); errors.As(err, &oe) {
		flags := make([]string, len(oe.Options))
		for i, name := range oe.Options {
			flags[i] = optionFlag(name)
		}
		return "", usageErrorf("%s %s", strings.Join(flags, " and "), oe.Why)
	}
	if kind != storeurl.Redis {
		return kind, nil
	}
	if o.prefix == "" {
		return "", usageErrorf("--prefix must not be empty (connect-redis's default is %q)", redisstore.DefaultPrefix)
	}
	return kind, nil
}

// openStore connects to the store the flags describe (no I/O yet for
// either kind: a store that is down fails the first call). Its Get returns
// records whose cookie.expires has passed, as connect-redis's and
// connect-pg-simple's do: the commands judge that with
// connectsid.Session.Expired, the gate with its AcceptExpired. The caller
// must call Close. Failures are usage errors: the URL is wrong, not the
// store.
func (o *sessionOptions) openStore(ctx context.Context) (*storeurl.Store, error) {
	kind, err := o.checkStoreFlags()
	if err != nil {
		return nil, err
	}
	if kind == storeurl.CookieSession && !o.cookieSessionOK {
		return nil, usageErrorf("cookie-session keeps each session in its cookie: there is no store for this command; " +
			"doctor and unsign read the Cookie header")
	}
	st, err := storeurl.Open(ctx, o.storeURL(), o.storeOptions())
	if err != nil {
		return nil, o.badStore(kind, err)
	}
	return st, nil
}

// badStore is storeurl's refusal of the flags' URL, in the flags' words.
func (o *sessionOptions) badStore(kind storeurl.Kind, err error) error {
	if kind == storeurl.Postgres {
		e := usageErrorf("bad --store-url: %s", o.scrubURL(badCause(err)))
		e.hint = "the form is postgres://user:pass@host:port/db[?sslmode=…]"
		return e
	}
	if kind == storeurl.MySQL {
		e := usageErrorf("bad --store-url: %s", o.scrubURL(badCause(err)))
		e.hint = "the form is mysql://user:pass@host:port/db[?table=sessions]"
		return e
	}
	if kind == storeurl.Knex {
		e := usageErrorf("bad --store-url: %s", o.scrubURL(badCause(err)))
		e.hint = "the forms are knex+postgres://user:pass@host:port/db, knex+mysql://user:pass@host:3306/db " +
			"and knex+sqlite:///absolute/path, each with an optional ?table="
		return e
	}
	cause := strings.TrimPrefix(badCause(err), o.redact()+": ")
	e := usageErrorf("bad %s %s: %s", o.storeFlag(), o.redact(), o.scrubURL(cause))
	e.hint = "the form is redis://[user:pass@]host:port[/db]; check --redis-url / " + envRedisURL
	return e
}

// store install-notify ---------------------------------------------------------

func newStoreCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Prepare the session store for the bridge",
		Long: `The store commands prepare the app's session store. Redis needs nothing: serve
switches keyspace notifications on itself. PostgreSQL (connect-pg-simple) can
tell the bridge of logouts at once through LISTEN/NOTIFY once a trigger is
installed on the session table; without it serve reads every open session
once a second.`,
		Example: `  expressbridge store install-notify --store-url postgres://app@db/app --print
  expressbridge store install-notify --store-url postgres://app@db/app`,
		Args: cobra.ArbitraryArgs,
		RunE: runGroup,
	}
	cmd.AddCommand(newInstallNotifyCmd(a))
	return cmd
}

func newInstallNotifyCmd(a *app) *cobra.Command {
	var print bool
	cmd := &cobra.Command{
		Use:   "install-notify",
		Short: "Install the trigger that reports session changes (PostgreSQL)",
		Long: `install-notify installs, on the connect-pg-simple session table of --store-url
(--schema, --table), a row trigger and its PL/pgSQL function that send
pg_notify on every insert, change or delete of a session, so that serve ends
a connection within milliseconds of its user's logout instead of at its next
once-a-second read. It changes no row and no column, runs as one
transaction, and can be run again (it replaces the trigger with the same
one). It needs the table's owner or a superuser, and PostgreSQL 11 or later.

With --print it only prints the SQL, for a migration or a DBA; nothing is
sent to the database. A running serve notices the trigger within 30 s.

Remove it with:
  DROP TRIGGER expressbridge_notify ON <table>; DROP FUNCTION [<schema>.]expressbridge_notify();

Exit status: 0 installed (or printed), 2 usage error, 3 PostgreSQL unavailable
or refused.`,
		Example: `  expressbridge store install-notify --store-url "$DATABASE_URL" --print > migrations/042_expressbridge_notify.sql
  expressbridge store install-notify --store-url "$DATABASE_URL" --schema app --table sessions`,
		Args: cobra.NoArgs,
	}
	o := &sessionOptions{a: a}
	o.addStoreFlags(cmd)
	cmd.Flags().BoolVar(&print, "print", false, "print the SQL instead of running it")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if k, err := storeKind(o.storeURL()); err == nil && k != storeurl.Postgres {
			return usageErrorf("install-notify is for PostgreSQL (--store-url postgres://…): on Redis, serve switches " +
				"keyspace notifications on by itself")
		}
		store, err := o.openStore(cmd.Context())
		if err != nil {
			return err
		}
		defer store.Close()
		if print {
			fmt.Fprint(a.stdout, store.PG.NotifySQL())
			return nil
		}
		if err := store.PG.InstallNotify(cmd.Context()); err != nil {
			e := o.explain(err).(*cliError)
			if e.code == connectsid.CodeStoreUnavailable && !strings.Contains(err.Error(), "connect") {
				e.msg = "PostgreSQL refused the trigger: " + o.scrubURL(strings.TrimPrefix(err.Error(), connectsid.ErrStoreUnavailable.Error()+": "))
				e.hint = "run it as the table's owner (or a superuser), or hand the SQL of --print to one"
			}
			return e
		}
		if a.json {
			a.writeJSON(struct {
				OK    bool   `json:"ok"`
				Table string `json:"table"`
			}{true, store.PG.Table()})
			return nil
		}
		fmt.Fprintf(a.stdout, "installed the expressbridge_notify trigger on %s: serve now hears logouts at once\n", store.PG.Table())
		return nil
	}
	return cmd
}
