package storeurl

import (
	"fmt"
	"strings"

	"github.com/expressbridge/expressbridge/connectsid/redisstore"
)

// OptionError is an option that does not fit the store a URL names. It
// wraps ErrBadURL. A CLI names its own flags from Options.
type OptionError struct {
	// Options are the Options fields at fault, by name: "Table", "Schema",
	// "TTL", "DisableTTL" or "DisableTouch".
	Options []string
	// Why completes the sentence that starts with the options' names, e.g.
	// "is connect-redis's: connect-pg-simple always writes expire".
	Why string
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("%v: %s %s", ErrBadURL, strings.Join(e.Options, " and "), e.Why)
}

// Unwrap makes errors.Is(err, ErrBadURL) hold.
func (e *OptionError) Unwrap() error { return ErrBadURL }

// Check says whether opts fit a store of kind, before anything is opened:
// nil, or an *OptionError naming the options that do not fit and why.
// Open calls it; a TTL of zero is the default TTL.
func Check(kind Kind, opts Options) error {
	refuse := func(why string, names ...string) error { return &OptionError{Options: names, Why: why} }
	switch kind {
	case CookieSession:
		if names := set(opts, "Table", "Schema", "DisableTTL"); names != nil {
			return refuse(isAre(names)+" a store's: cookie-session keeps the session in the cookie", names...)
		}
	case Knex:
		switch {
		case opts.DisableTTL || opts.DisableTouch:
			names := set(opts, "DisableTTL", "DisableTouch")
			return refuse(isAre(names)+" not connect-session-knex's: it always writes expired and touches", names...)
		case opts.Schema != "":
			return refuse("is connect-pg-simple's: connect-session-knex takes a table, not a schema", "Schema")
		case opts.TTL != 0 && opts.TTL != redisstore.DefaultTTL:
			return refuse("is not connect-session-knex's: a cookie without maxAge lives one day", "TTL")
		}
	case Postgres:
		if opts.DisableTTL {
			return refuse("is connect-redis's: connect-pg-simple always writes expire", "DisableTTL")
		}
	case MySQL:
		switch {
		case opts.DisableTTL:
			return refuse("is connect-redis's: express-mysql-session always writes expires", "DisableTTL")
		case opts.Schema != "":
			return refuse("is connect-pg-simple's: on MySQL the database is the mysql:// URL's path", "Schema")
		}
	case Redis:
		if names := set(opts, "Table", "Schema"); names != nil {
			return refuse(isAre(names)+" connect-pg-simple's, express-mysql-session's or connect-session-knex's: "+
				"they need a postgres://, mysql:// or knex+ URL", names...)
		}
	}
	return nil
}

// set returns those of names whose option in opts is set, nil if none.
func set(opts Options, names ...string) []string {
	var out []string
	for _, n := range names {
		var on bool
		switch n {
		case "Table":
			on = opts.Table != ""
		case "Schema":
			on = opts.Schema != ""
		case "DisableTTL":
			on = opts.DisableTTL
		case "DisableTouch":
			on = opts.DisableTouch
		}
		if on {
			out = append(out, n)
		}
	}
	return out
}

func isAre(names []string) string {
	if len(names) == 1 {
		return "is"
	}
	return "are"
}
