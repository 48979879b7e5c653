package diagnose

import (
	"strconv"
	"strings"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/storeurl"
)

// Where is the store a hint or a message speaks of.
type Where struct {
	Kind storeurl.Kind
	// URL is the store's address without its password.
	URL string
	// Prefix is connect-redis's prefix (Redis).
	Prefix string
	// Table is the session table (PostgreSQL); empty when not known.
	Table string
}

// WhereOf describes an opened store.
func WhereOf(st *storeurl.Store) Where {
	w := Where{Kind: st.Kind, URL: st.URL}
	if st.Redis != nil {
		w.Prefix = st.Redis.Prefix()
	}
	if st.PG != nil {
		w.Table = st.PG.Table()
	}
	if st.MySQL != nil {
		w.Table = st.MySQL.Table()
	}
	if st.Knex != nil {
		w.Table = st.Knex.Table()
	}
	return w
}

func (w Where) postgres() bool { return w.Kind == storeurl.Postgres }

func (w Where) mysql() bool { return w.Kind == storeurl.MySQL }

// knex says the store is connect-session-knex's table.
func (w Where) knex() bool { return w.Kind == storeurl.Knex }

// sql says the store is a table.
func (w Where) sql() bool { return w.postgres() || w.mysql() || w.knex() }

// table names the session table for a message.
func (w Where) table() string {
	if w.Table == "" {
		return "the session table"
	}
	return w.Table
}

// HintFor is the next thing to try after err, an *auth.Refusal or an
// error of connectsid or its stores, when nothing more is known of it: the
// one table of hints by refusal code that the diagnosis and every command
// share. It is empty for an error without a code. A diagnosis that knows
// more (the cookies a header holds, a session found under another prefix)
// gives a more precise hint of its own.
func HintFor(err error, w Where) Text {
	code := connectsid.ErrorCode(err)
	if ref := auth.AsRefusal(err); ref != nil {
		code = ref.Code
	}
	switch code {
	case connectsid.CodeNoCookie:
		return text("pass the Cookie header the browser sends to the app, or the cookie's value (s%3A…)")
	case connectsid.CodeNotSigned:
		return text("the cookie must be the signed value Express sets (s%3A…), not the bare session ID")
	case connectsid.CodeBadSignature:
		return text("check that ", name(SettingSecrets), " are exactly the app's secret option, in its order")
	case connectsid.CodeMalformed:
		return text("a signed cookie looks like s%3A<session ID>.<signature>; was it copied whole?")
	case connectsid.CodeNoSession:
		if w.mysql() {
			return text("the user logged out, or the row's expires passed and express-mysql-session's clearExpired deleted it: "+
				"log in to the app again; if the app sees the session, check that ", name(SettingStoreURL), " (database and ?table=) is the app's")
		}
		if w.knex() {
			return text("the user logged out, or the row's expired passed and connect-session-knex's cleanup deleted it: "+
				"log in to the app again; if the app sees the session, check that ", name(SettingStoreURL),
				" (database or file, ?table=) is the app's")
		}
		if w.postgres() {
			return text("the user logged out, or the row's expire passed and connect-pg-simple's pruning deleted it: "+
				"log in to the app again; if the app sees the session, check that ", name(SettingStoreURL), " (database), ",
				name(SettingSchema), " and ", name(SettingTable), " are the app's")
		}
		return text("the user logged out, or the session ended and Redis dropped it: log in to the app again; "+
			"if the app sees the session, check that ", nameShown(SettingPrefix, strconv.Quote(w.Prefix)), " and ",
			name(SettingStoreURL), " (host and database number) are the app's")
	case connectsid.CodeExpired:
		return text("the user must log in again in the Express app")
	case connectsid.CodeMalformedSession:
		switch {
		case w.knex():
			return text("express-session always stores a cookie object and connect-session-knex a date in expired: "+
				"something else writes rows into "+w.table()+"; check ?table= in ", name(SettingStoreURL))
		case w.postgres(), w.mysql():
			return text("express-session always stores a cookie object: something else writes rows into "+w.table()+
				"; check ", name(SettingTable))
		case strings.Contains(malformedWhy(err), "JSON"):
			return text("connect-redis stores JSON.stringify(session): does the app set connect-redis's serializer option, " +
				"or does something else write keys under " + strconv.Quote(w.Prefix) + "?")
		}
		return text("express-session always stores a cookie object: something else writes keys under "+
			strconv.Quote(w.Prefix)+"; check ", name(SettingPrefix))
	case connectsid.CodeStoreUnavailable:
		if w.mysql() {
			return text("is MariaDB/MySQL running, and does the table exist (the app creates it at start)? check ", name(SettingStoreURL), " and ", name(SettingTable))
		}
		if w.knex() {
			return text("is the database running (for SQLite: the file there, not locked), and does the table exist "+
				"(the app creates it at start)? check ", name(SettingStoreURL))
		}
		if w.postgres() {
			return text("is PostgreSQL running, and does the table exist? check ", name(SettingStoreURL), " and ", name(SettingTable))
		}
		return text("is redis-server running? check ", name(SettingStoreURL))
	case auth.CodeNotLoggedIn:
		return text("log in to the app; if it marks logins with another field (one that is truthy), ",
			set(Change{SettingLoginField, "NAME"}), " (a dotted path such as passport.user)")
	case auth.CodeBadOrigin:
		return text("serve the page from the bridge's own host, or add its origin to ", name(SettingAllowedOrigins))
	}
	return Text{}
}

// Unreachable is the message for a store that could not be asked: its
// kind, its address and the cause, without the sentinel's words.
func Unreachable(err error, w Where) string {
	cause := strings.TrimPrefix(err.Error(), connectsid.ErrStoreUnavailable.Error()+": ")
	kind := "redis"
	switch {
	case w.postgres():
		kind = "postgres"
	case w.knex():
		kind = "knex"
	}
	if w.mysql() {
		kind = "mysql"
	}
	return "cannot reach " + kind + " at " + w.URL + ": " + cause
}

// malformedWhy is why a record is not a session, from a store's
// ErrMalformedSession: the words after "(sid …): ".
func malformedWhy(err error) string {
	if err == nil {
		return ""
	}
	if _, why, ok := strings.Cut(err.Error(), "): "); ok {
		return why
	}
	return err.Error()
}
