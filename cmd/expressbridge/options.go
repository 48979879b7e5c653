package main

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/auth/diagnose"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/cookiesession"
	"github.com/expressbridge/expressbridge/connectsid/redisstore"
	"github.com/expressbridge/expressbridge/connectsid/storeurl"
)

// Defaults, each express-session's or connect-redis's.
const (
	defaultCookieName = "connect.sid"
	defaultRedisURL   = "redis://127.0.0.1:6379"
)

// Environment variables for the session options.
const (
	envSecretFile   = "EXPRESSBRIDGE_SECRET_FILE"
	envSecret       = "SESSION_SECRET" // one secret; never a flag
	envCookieName   = "EXPRESSBRIDGE_COOKIE_NAME"
	envRedisURL     = "REDIS_URL"
	envStoreURL     = "EXPRESSBRIDGE_STORE_URL"
	envTable        = "EXPRESSBRIDGE_TABLE"
	envSchema       = "EXPRESSBRIDGE_SCHEMA"
	envPrefix       = "EXPRESSBRIDGE_PREFIX"
	envTTL          = "EXPRESSBRIDGE_TTL"
	envDisableTTL   = "EXPRESSBRIDGE_DISABLE_TTL"
	envDisableTouch = "EXPRESSBRIDGE_DISABLE_TOUCH"
)

// sessionOptions are the settings shared by every command that deals with
// the Express app's sessions: how its cookies are signed (secrets, cookie
// name) and where its records are (Redis URL, prefix and connect-redis's
// TTL options). A command gets them with addSessionFlags (or one half, with
// addCookieFlags or addStoreFlags on a new value) and, once its flags are
// parsed, calls verifier and openStore. One value serves one run of one
// command.
type sessionOptions struct {
	a *app

	// Cookie flags.
	secretFile string
	cookieName string

	// Store flags.
	storeURLFlag string
	table        string
	schema       string
	redisURL     string
	prefix       string
	ttl          time.Duration
	disableTTL   bool
	disableTouch bool

	cookieFlags *pflag.FlagSet // where --cookie-name is, to tell whether it was set
	// cookieSessionOK: the command reads cookie-session's cookies (doctor,
	// unsign); the others have no store to work on there.
	cookieSessionOK bool
	v               *connectsid.Verifier // loaded on first use
	secretSource    string               // "--secret-file" or envSecret, for hints
	header          string               // the Cookie header last read, for the no-cookie hint
}

// addSessionFlags puts the cookie and the store flags on cmd. This is what
// every command that verifies cookies and reads their sessions uses.
func addSessionFlags(cmd *cobra.Command, a *app) *sessionOptions {
	o := &sessionOptions{a: a}
	o.addCookieFlags(cmd)
	o.addStoreFlags(cmd)
	return o
}

// addCookieFlags puts the flags needed to verify and sign cookies on cmd:
// --secret-file and --cookie-name.
func (o *sessionOptions) addCookieFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&o.secretFile, "secret-file", "",
		"file of the app's secrets, one per line in the order of its secret option, the first signs; "+
			"without it the variable "+envSecret+" holds the one secret")
	bindEnv(fs, "secret-file", envSecretFile)
	fs.StringVar(&o.cookieName, "cookie-name", defaultCookieName,
		"name of the session cookie (express-session's name option; with --store-url cookie-session: "+
			"cookie-session's, whose default is "+cookiesession.DefaultName+")")
	bindEnv(fs, "cookie-name", envCookieName)
	o.cookieFlags = fs
}

// cookieSessionName gives --cookie-name cookie-session's default when the
// user did not choose one: the store is cookie-session's.
func (o *sessionOptions) cookieSessionName() {
	if o.cookieFlags != nil && !o.cookieFlags.Changed("cookie-name") {
		o.cookieName = cookiesession.DefaultName
	}
}

// codec returns cookie-session's codec for the app's keys (the secrets),
// --cookie-name and the store URL's algorithm.
func (o *sessionOptions) codec(algorithm string) (*cookiesession.Codec, error) {
	keys, err := o.secrets()
	if err != nil {
		return nil, err
	}
	o.cookieSessionName()
	c, err := cookiesession.New(cookiesession.Config{Name: o.cookieName, Keys: keys, Algorithm: algorithm})
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	return c, nil
}

// addStoreFlags puts the store flags on cmd: the store's URL, then
// connect-redis's and connect-pg-simple's options.
func (o *sessionOptions) addStoreFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&o.storeURLFlag, "store-url", "",
		"the session store: redis://…, rediss://…, redis+cluster://…, a Sentinel URL (?master_name=), or "+
			"postgres://user:pass@host:port/db for connect-pg-simple, mysql://user:pass@host:port/db[?table=sessions] for "+
			"express-mysql-session; default: --redis-url")
	bindEnv(fs, "store-url", envStoreURL)
	fs.StringVar(&o.redisURL, "redis-url", defaultRedisURL,
		"Redis holding the sessions when --store-url is not set: redis://[user:pass@]host:port[/db], rediss:// for TLS, "+
			"?master_name=NAME for Sentinel, redis+cluster:// for Cluster")
	bindEnv(fs, "redis-url", envRedisURL)
	fs.StringVar(&o.table, "table", "", "PostgreSQL: the session table (connect-pg-simple's tableName; default session); MySQL: express-mysql-session's schema.tableName (default sessions); knex+: connect-session-knex's tableName (default sessions)")
	bindEnv(fs, "table", envTable)
	fs.StringVar(&o.schema, "schema", "", "PostgreSQL: the table's schema (connect-pg-simple's schemaName; default: the search_path's)")
	bindEnv(fs, "schema", envSchema)
	fs.StringVar(&o.prefix, "prefix", redisstore.DefaultPrefix, "Redis: key prefix (connect-redis's prefix option)")
	bindEnv(fs, "prefix", envPrefix)
	fs.DurationVar(&o.ttl, "ttl", redisstore.DefaultTTL,
		"TTL of records whose cookie has no expiry (connect-redis's and connect-pg-simple's ttl option)")
	bindEnv(fs, "ttl", envTTL)
	fs.BoolVar(&o.disableTTL, "disable-ttl", false, "records have no expiry and touch does nothing (connect-redis's disableTTL)")
	bindEnv(fs, "disable-ttl", envDisableTTL)
	fs.BoolVar(&o.disableTouch, "disable-touch", false, "touch does nothing (connect-redis's and connect-pg-simple's disableTouch)")
	bindEnv(fs, "disable-touch", envDisableTouch)
}

// scrubURL removes the store URL and its password from msg
// (storeurl.Scrub).
func (o *sessionOptions) scrubURL(msg string) string { return storeurl.Scrub(msg, o.storeURL()) }

// explain turns an error of connectsid or redisstore into what the user
// sees: its code, a message without secrets or whole cookies, a hint of what
// to try next and the exit status. cliErrors pass through.
func (o *sessionOptions) explain(err error) error {
	var ce *cliError
	if errors.As(err, &ce) {
		return ce
	}
	code := connectsid.ErrorCode(err)
	e := &cliError{code: code, msg: err.Error(), exit: exitStatus(code)}
	w := o.where()
	e.hint = diagnose.HintFor(err, w).Format(flagNames{o})
	switch code {
	case connectsid.CodeNoCookie:
		e.hint = o.noCookieHint()
	case connectsid.CodeBadSignature:
		e.hint = o.secretHint(false)
	case connectsid.CodeStoreUnavailable:
		e.msg = o.scrubURL(diagnose.Unreachable(err, w))
	case "":
		e.code, e.exit = codeError, exitRefused
	}
	return e
}

// where is the store the flags name, for diagnose's hints and messages.
func (o *sessionOptions) where() diagnose.Where {
	kind, _ := storeKind(o.storeURL())
	return diagnose.Where{Kind: kind, URL: o.redact(), Prefix: o.prefix, Table: o.table}
}

// secretHint is the bad-signature hint in the words of where the secrets
// came from (SESSION_SECRET or --secret-file), which only the command line
// knows; doctor's (diagnosis) is the more precise.
func (o *sessionOptions) secretHint(diagnosis bool) string {
	switch {
	case o.secretSource == envSecret && diagnosis:
		return "check that " + envSecret + " is exactly the app's secret option; an app with several secrets " +
			"needs --secret-file, one per line, in the app's order"
	case o.secretSource == envSecret:
		return "check that " + envSecret + " is the Express app's secret option " +
			"(an app with several secrets needs --secret-file, one per line, in the same order)"
	case diagnosis:
		return "check that --secret-file holds exactly the app's secret option, one secret per line, in the app's order"
	}
	return "check that --secret-file holds the Express app's secret option, in the same order"
}

// flagNames words diagnose's settings as this command line's flags:
// "pass --cookie-name app.sid".
type flagNames struct{ o *sessionOptions }

// Name returns the flag of a setting; the store's with its variable.
func (n flagNames) Name(s diagnose.Setting) string {
	switch s {
	case diagnose.SettingSecrets:
		if n.o.secretSource != "" {
			return n.o.secretSource
		}
		return "--secret-file"
	case diagnose.SettingStoreURL:
		if k, _ := storeKind(n.o.storeURL()); k == storeurl.Postgres || k == storeurl.MySQL || k == storeurl.Knex {
			return "--store-url / " + envStoreURL
		}
		return "--redis-url / " + envRedisURL
	case diagnose.SettingCookieName:
		return "--cookie-name"
	case diagnose.SettingPrefix:
		return "--prefix"
	case diagnose.SettingSchema:
		return "--schema"
	case diagnose.SettingTable:
		return "--table"
	case diagnose.SettingLoginField:
		return "--login-field"
	case diagnose.SettingUserField:
		return "--user-field"
	case diagnose.SettingAcceptExpired:
		return "--accept-expired"
	case diagnose.SettingAllowedOrigins:
		return "--allow-origin"
	case diagnose.SettingShowValues:
		return "--show-values"
	}
	return string(s)
}

// Set returns "pass --flag VALUE …" for the changes.
func (n flagNames) Set(changes ...diagnose.Change) string {
	words := []string{"pass"}
	for _, c := range changes {
		words = append(words, n.Name(c.Setting))
		if c.Value != "" {
			words = append(words, shellWord(c.Value))
		}
	}
	return strings.Join(words, " ")
}

// maxNamesInHint bounds the cookie names listed in the no-cookie hint.
const maxNamesInHint = 10

// noCookieHint names the cookies that the header does have.
func (o *sessionOptions) noCookieHint() string {
	if v, ok := connectsid.Lookup(o.header, o.cookieName); ok && v == "" {
		return fmt.Sprintf("the cookie %s is empty", o.cookieName)
	}
	cookies := connectsid.ParseCookies(o.header)
	if len(cookies) == 0 {
		return "the header holds no cookies; " + diagnose.HintFor(connectsid.ErrNoCookie, o.where()).Format(flagNames{o})
	}
	names := make([]string, 0, len(cookies))
	for n := range cookies {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) > maxNamesInHint {
		names = append(names[:maxNamesInHint], "…")
	}
	return fmt.Sprintf("no cookie named %s; names present: %s (use --cookie-name)", o.cookieName, strings.Join(names, ", "))
}

// Environment variables of the gate's flags, shared by serve and doctor.
const (
	envLoginField    = "EXPRESSBRIDGE_LOGIN_FIELD"
	envAcceptExpired = "EXPRESSBRIDGE_ACCEPT_EXPIRED"
)

// gateOptions are the login rule's flags, which serve and doctor share so
// that doctor judges a cookie exactly as serve does.
type gateOptions struct {
	loginField    string
	userField     string
	acceptExpired bool
}

// addGateFlags puts --login-field, --user-field and --accept-expired on cmd.
func addGateFlags(cmd *cobra.Command) *gateOptions {
	g := &gateOptions{}
	fs := cmd.Flags()
	fs.StringVar(&g.loginField, "login-field", auth.DefaultLoginField,
		"session field that marks a login, a dotted path (passport.user for passport); it passes when truthy, "+
			"as JavaScript's if (req.session.…) tests it")
	bindEnv(fs, "login-field", envLoginField)
	fs.StringVar(&g.userField, "user-field", auth.DefaultUserField,
		"session field holding the user's name or id, a dotted path (passport.user for passport): a string, or a number")
	bindEnv(fs, "user-field", envUserField)
	fs.BoolVar(&g.acceptExpired, "accept-expired", false,
		"accept records whose cookie.expires has passed while the store still holds them, as Express does "+
			"(apps with rolling: true need it)")
	bindEnv(fs, "accept-expired", envAcceptExpired)
	return g
}

// cookieSessionGate builds the gate of these flags for cookie-session's
// cookies, keygrip's algorithm given.
func (o *sessionOptions) cookieSessionGate(g *gateOptions, algorithm string) (*auth.Gate, error) {
	c, err := o.codec(algorithm)
	if err != nil {
		return nil, err
	}
	gate, err := auth.New(auth.Config{Cookies: c, LoginField: g.loginField, UserField: g.userField})
	if err != nil {
		return nil, usageErrorf("%s", strings.TrimPrefix(err.Error(), "auth: "))
	}
	return gate, nil
}

// gate builds the gate of these flags on v and store. Bad field paths and
// origins are usage errors.
func (g *gateOptions) gate(v *connectsid.Verifier, store auth.Store, cookieName string, origins []string,
	observer auth.Observer) (*auth.Gate, error) {
	gate, err := auth.New(auth.Config{
		Observer:       observer,
		Verifier:       v,
		Store:          store,
		CookieName:     cookieName,
		LoginField:     g.loginField,
		UserField:      g.userField,
		AcceptExpired:  g.acceptExpired,
		AllowedOrigins: origins,
	})
	if err != nil {
		return nil, usageErrorf("%s", strings.TrimPrefix(err.Error(), "auth: "))
	}
	return gate, nil
}
