package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/redisstore"
)

// doctor hands one cookie to the gate that serve uses (auth.Gate: cookie,
// signature, store, record, login, user) with a trace, and prints one line
// per step the gate walked, stopping at the first that fails with its cause
// and the next thing to try. It never walks the steps itself: what it adds
// is diagnosis (the names present, other prefixes, the fields), so doctor,
// the bridge's refusal log and ?explain=1 cannot disagree.

// stepAccepted is doctor's verdict line after the gate's steps.
const stepAccepted = "accepted"

// Limits of the search for a session under other prefixes.
const (
	// scanCount is SCAN's COUNT hint: keys looked at per call.
	scanCount = 1000
	// maxScanCalls bounds the search to about 200,000 keys per Redis node:
	// a few seconds on a busy production Redis, never a full pass over a huge one.
	maxScanCalls = 200
	// scanTimeout bounds the whole search.
	scanTimeout = 5 * time.Second
	// maxFoundKeys is how many keys ending in the session ID are reported.
	maxFoundKeys = 5
)

// Output layout.
const (
	stepWidth     = len(auth.StepSignature) + 2 // the message column
	maxShownValue = 40                          // longest field value shown with --show-values
)

type doctorOptions struct {
	showIDs    bool
	showValues bool
}

func newDoctorCmd(a *app) *cobra.Command {
	var do doctorOptions
	cmd := &cobra.Command{
		Use:   "doctor [COOKIE | -]",
		Short: "Tell why the bridge would accept or refuse a cookie, step by step",
		Long: `doctor hands a session cookie to the same gate that serve uses for every
handshake, with the same options, and prints one line per step: cookie (the
cookie of --cookie-name in the header), signature (the app's secrets), store
(the record in Redis under --prefix), record (a session record, not
expired), login (--login-field is truthy; passport apps: passport.user) and
user (--user-field, the user's name or id). It
stops at the first step that fails, with its cause and the next thing to
try: the cookie names present, a session found under another prefix, a
secret rotation in progress, the fields a record holds.

COOKIE is the cookie's value (s%3A…) or a whole Cookie header, as the
browser sends it (copy it from the developer tools' network tab); without
COOKIE, or with "-", it is read from stdin. The cookie is never printed, nor
any secret; session IDs are shortened unless --show-ids and field values
hidden unless --show-values.

The step names and error codes are the bridge's, as in its refusal log
(--log-level debug) and in ?explain=1. With --json the steps are printed as
an array of {"step","ok","code","message","details","hint",…}; the last is
{"step":"accepted","user":…} when the cookie would be accepted.

Exit status: 0 accepted, 1 refused, 2 usage error, 3 Redis unavailable.`,
		Example: `  export SESSION_SECRET='keyboard cat' REDIS_URL=redis://127.0.0.1:6379
  expressbridge doctor 'theme=dark; connect.sid=s%3Ad-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR.rPdcmAd8H7LnDrih7JlnEAc5ob49dAfrkjmDX6FZaPs'
  pbpaste | expressbridge doctor --secret-file /etc/myapp/secrets --prefix myapp:
  expressbridge doctor --json "$COOKIE" | jq '.[-1]'`,
		Args: cobra.MaximumNArgs(1),
	}
	o := addSessionFlags(cmd, a)
	g := addGateFlags(cmd)
	fs := cmd.Flags()
	fs.BoolVar(&do.showIDs, "show-ids", false, "print whole session IDs instead of shortened ones")
	fs.BoolVar(&do.showValues, "show-values", false, "print the values of the record's fields, not only their names")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		// Everything that is the command line's fault first: exit 2.
		in, err := a.cookieInput(args)
		if err != nil {
			return err
		}
		v, err := o.verifier()
		if err != nil {
			return err
		}
		// The gate judges expiry; the store hands it every record.
		store, err := o.openStore(cmd.Context())
		if err != nil {
			return err
		}
		defer store.close()
		now := time.Now()
		gate, err := g.gate(v, store, o.cookieName, nil, nil)
		if err != nil {
			return err
		}
		d := &doctor{o: o, g: g, opts: do, gate: gate, v: v, store: store, now: now}
		exit := d.diagnose(cmd.Context(), parseCookieArg(in))
		if a.json {
			a.writeJSONIndent(d.checks)
		} else {
			d.print(a.stdout)
		}
		if exit != exitOK {
			return &cliError{code: d.checks[len(d.checks)-1].Code, exit: exit, quiet: true}
		}
		return nil
	}
	return cmd
}

// check is one step of the diagnosis, as printed.
type check struct {
	Step    string   `json:"step"`
	OK      bool     `json:"ok"`
	Warning bool     `json:"warning,omitempty"` // ok, but worth knowing (the user step only)
	Code    string   `json:"code,omitempty"`    // the bridge's refusal code, when not ok
	Message string   `json:"message"`
	Details []string `json:"details,omitempty"`
	Hint    string   `json:"hint,omitempty"` // the next thing to try

	// Facts for scripts, each on its step.
	SID        string     `json:"sid,omitempty"`         // signature: shortened unless --show-ids
	Secret     int        `json:"secret,omitempty"`      // signature: which secret verified, from 1
	Secrets    int        `json:"secrets,omitempty"`     // signature: how many there are
	TTLSeconds *int64     `json:"ttl_seconds,omitempty"` // store: the key's TTL; absent when none
	Found      []foundKey `json:"found,omitempty"`       // store: the session under other prefixes
	Fields     []string   `json:"fields,omitempty"`      // login, user: the record's fields
	User       *string    `json:"user,omitempty"`        // accepted
}

// foundKey is the session found under another prefix.
type foundKey struct {
	Prefix     string `json:"prefix"`
	TTLSeconds *int64 `json:"ttl_seconds"` // null: the key has no TTL
}

// doctor is one diagnosis.
type doctor struct {
	o      *sessionOptions
	g      *gateOptions
	opts   doctorOptions
	gate   *auth.Gate
	v      *connectsid.Verifier
	store  *openedStore
	now    time.Time
	ttl    time.Duration // of the session's key once found; -1: none
	checks []check
}

// pass and fail add a step and return it, to be completed before the next
// step is added.
func (d *doctor) pass(step, msg string, details ...string) *check {
	d.checks = append(d.checks, check{Step: step, OK: true, Message: msg, Details: details})
	return &d.checks[len(d.checks)-1]
}

func (d *doctor) fail(step, code, msg, hint string, details ...string) *check {
	d.checks = append(d.checks, check{Step: step, Code: code, Message: msg, Details: details, Hint: hint})
	return &d.checks[len(d.checks)-1]
}

// diagnose has the gate walk its steps for the cookie, turns each step
// into a check, and returns the exit status: exitOK when the bridge would
// accept the cookie.
func (d *doctor) diagnose(ctx context.Context, arg cookieArg) int {
	var steps []auth.StepInfo
	tctx := auth.WithTrace(ctx, &auth.Trace{Step: func(i auth.StepInfo) { steps = append(steps, i) }})
	var err error
	if arg.kind == argHeader {
		_, err = d.gate.CheckCookie(tctx, arg.text)
	} else {
		// A value given alone has no name to check: the walk starts at the signature.
		d.pass(auth.StepCookie, fmt.Sprintf("a cookie value, not a header: its name (%s) was not checked", cell(d.o.cookieName)))
		_, err = d.gate.CheckValue(tctx, connectsid.DecodeValue(arg.text))
	}
	for _, st := range steps {
		if exit, stop := d.step(ctx, arg, st); stop {
			return exit
		}
	}
	if err != nil { // cannot happen: the failing step returned above
		ref := auth.AsRefusal(err)
		d.fail(ref.Step, ref.Code, ref.Message, "")
		return exitStatus(ref.Code)
	}
	return exitOK
}

// step turns one step of the gate's walk into a check. stop reports that
// the diagnosis ends there, with exit.
func (d *doctor) step(ctx context.Context, arg cookieArg, st auth.StepInfo) (exit int, stop bool) {
	switch st.Step {
	case auth.StepCookie:
		if !d.cookie(arg, st) {
			return exitRefused, true
		}
	case auth.StepSignature:
		if !d.signature(ctx, st) {
			return exitRefused, true
		}
	case auth.StepStore:
		if exit := d.lookup(ctx, st); exit != exitOK {
			return exit, true
		}
	case auth.StepRecord:
		if !d.record(st) {
			return exitRefused, true
		}
	case auth.StepLogin:
		if !d.login(st) {
			return exitRefused, true
		}
	case auth.StepUser:
		// The user never refuses; then the verdict.
		user := d.user(st)
		c := d.pass(stepAccepted, "this cookie would be accepted as "+cell(user))
		if !st.HasUser {
			c.Message = "this cookie would be accepted, with an empty user name"
		}
		c.User = &user
		return exitOK, true
	}
	return exitOK, false
}

// Steps -----------------------------------------------------------------------

// cookie explains the gate's cookie step: the names present when it
// found none, duplicates when it did.
func (d *doctor) cookie(arg cookieArg, st auth.StepInfo) bool {
	name := d.o.cookieName
	header := arg.text
	cookies := connectsid.ParseCookies(header)
	value, found := connectsid.Lookup(header, name)
	switch {
	case !found && len(cookies) == 0:
		d.fail(auth.StepCookie, connectsid.CodeNoCookie, "the header holds no cookie",
			"pass the Cookie header the browser sends to the app, or the cookie's value (s%3A…)")
		return false
	case !found:
		msg := fmt.Sprintf("no cookie named %s among the %d cookies of the header", cell(name), len(cookies))
		if len(cookies) == 1 {
			msg = fmt.Sprintf("no cookie named %s: the header holds one other cookie", cell(name))
		}
		c := d.fail(auth.StepCookie, connectsid.CodeNoCookie, msg, "", "names present: "+listNames(sortedKeys(cookies)))
		var signed []string
		for _, n := range sortedKeys(cookies) {
			if looksSigned(cookies[n]) {
				signed = append(signed, n)
			}
		}
		switch len(signed) {
		case 0:
			c.Hint = "none looks like a signed session (s%3A…): log in to the app and copy the Cookie header of a request to it"
		case 1:
			c.Hint = fmt.Sprintf("%s looks like a signed session (s%%3A…): pass --cookie-name %s", cell(signed[0]), shellWord(signed[0]))
		default:
			c.Hint = fmt.Sprintf("%s look like signed sessions (s%%3A…): pass --cookie-name with the one the app's name option sets",
				listNames(signed))
		}
		return false
	case value == "" || st.Refusal != nil:
		d.fail(auth.StepCookie, connectsid.CodeNoCookie, fmt.Sprintf("the cookie %s is empty", cell(name)),
			"log in to the app again, then copy the Cookie header of a request to it")
		return false
	}
	among := fmt.Sprintf("among %s", plural(len(cookies), "cookie"))
	if len(cookies) == 1 {
		among = "the header's only cookie"
	}
	c := d.pass(auth.StepCookie, fmt.Sprintf("%s found (%s)", cell(name), among))
	if n := countCookies(header, name); n > 1 {
		c.Details = append(c.Details, fmt.Sprintf("the header holds %d cookies named %s (a cookie of another domain or path?): "+
			"Express reads the first, and so does doctor", n, cell(name)))
	}
	return true
}

// signature explains the gate's signature step. On a bad signature it
// asks Redis whether the session exists all the same, which tells a wrong
// secret from a cookie of another app.
func (d *doctor) signature(ctx context.Context, st auth.StepInfo) bool {
	n := d.v.Secrets()
	if st.Refusal == nil {
		idx := st.SecretIndex
		msg := fmt.Sprintf("verified with secret %d of %d", idx+1, n)
		if idx > 0 {
			msg += " — a rotation is in progress: cookies signed with older secrets are still in use"
		}
		c := d.pass(auth.StepSignature, msg)
		c.SID, c.Secret, c.Secrets = d.id(st.SID), idx+1, n
		return true
	}
	err, value := st.Refusal.Unwrap(), st.Value
	code := st.Refusal.Code
	switch code {
	case connectsid.CodeNotSigned:
		d.fail(auth.StepSignature, code, "the value is not signed: it does not start with s: (s%3A when encoded)",
			"pass the signed value Express sets (s%3A…), not the bare session ID")
	case connectsid.CodeMalformed:
		_, why, _ := strings.Cut(err.Error(), ": ")
		if why == "" {
			why = err.Error()
		}
		d.fail(auth.StepSignature, code, "the value cannot be a signed session ID: "+why,
			"a signed cookie looks like s%3A<session ID>.<signature>; was it copied whole?")
	default: // bad-signature
		body := strings.TrimPrefix(value, "s:")
		dot := strings.LastIndexByte(body, '.')
		sid, mac := body[:dot], body[dot+1:] // Unsign checked both
		if len(mac) != macChars {
			d.fail(auth.StepSignature, code,
				fmt.Sprintf("the signature is %d characters long, not %d: the cookie was cut or changed", utf8.RuneCountInString(mac), macChars),
				"copy the cookie's value whole, from the browser's developer tools")
			return false
		}
		c := d.fail(auth.StepSignature, code,
			fmt.Sprintf("no secret verifies the signature (%s tried, from %s)", plural(n, "secret"), d.o.secretSource), d.secretHint())
		c.Secrets = n
		switch exists, err := d.exists(ctx, sid); {
		case err != nil: // Redis cannot tell; the store step would say why
		case exists:
			c.Details = append(c.Details, fmt.Sprintf("yet session %s exists %s: the app signed this cookie, with a secret not in the list",
				d.id(sid), d.store.whereShort()))
		default:
			c.Details = append(c.Details, fmt.Sprintf("and no session %s exists %s: the cookie may be another app's or "+
				"another environment's", d.id(sid), d.store.whereShort()))
		}
	}
	return false
}

func (d *doctor) secretHint() string {
	if d.o.secretSource == envSecret {
		return "check that " + envSecret + " is exactly the app's secret option; an app with several secrets " +
			"needs --secret-file, one per line, in the app's order"
	}
	return "check that --secret-file holds exactly the app's secret option, one secret per line, in the app's order"
}

// lookup explains the gate's store step. A missing session is searched for
// under other prefixes; a found one gets its TTL.
func (d *doctor) lookup(ctx context.Context, st auth.StepInfo) int {
	sid := st.SID
	if st.Refusal != nil {
		switch st.Refusal.Code {
		case connectsid.CodeStoreUnavailable:
			d.unavailable(st.Cause)
			return exitUnavailable
		case connectsid.CodeNoSession:
			return d.missing(ctx, sid)
		}
		d.fail(auth.StepStore, st.Refusal.Code, st.Refusal.Message, "") // cannot happen: Get's codes are above
		return exitStatus(st.Refusal.Code)
	}
	ttl, terr := d.store.TTL(ctx, sid)
	switch connectsid.ErrorCode(terr) {
	case connectsid.CodeStoreUnavailable:
		d.unavailable(terr)
		return exitUnavailable
	case connectsid.CodeNoSession: // the session ended a moment ago
		return d.missing(ctx, sid)
	}
	d.ttl = ttl
	c := d.pass(auth.StepStore, fmt.Sprintf("session %s found %s (%s)", d.id(sid), d.store.whereShort(), ttlText(ttl)))
	c.TTLSeconds = ttlSeconds(ttl)
	return exitOK
}

func (d *doctor) unavailable(err error) {
	e := d.o.explain(err).(*cliError) // explain names the address and scrubs the password
	d.fail(auth.StepStore, connectsid.CodeStoreUnavailable, e.msg, e.hint)
}

// missing reports a session that is not under the prefix, and where else
// it is.
func (d *doctor) missing(ctx context.Context, sid string) int {
	c := d.fail(auth.StepStore, connectsid.CodeNoSession,
		fmt.Sprintf("no session %s %s at %s", d.id(sid), d.store.where(), d.store.url), "")
	if d.store.pg != nil {
		c.Hint = "the user logged out, or the row's expire passed and connect-pg-simple's pruning deleted it: log in to the app " +
			"again; if the app sees the session, --store-url (database), --schema or --table is not the app's"
		return exitRefused
	}
	found, emptyKey, complete, err := d.search(ctx, sid)
	if err != nil { // Redis answered the GET: the session is missing all the same
		c.Details = append(c.Details, "the search under other prefixes failed: "+d.o.scrubURL(err.Error()))
	}
	if emptyKey {
		c.Details = append(c.Details, fmt.Sprintf("the key %s%s holds an empty string, which connect-redis reads as no session",
			d.store.redis.Prefix(), d.id(sid)))
	}
	c.Found = found
	switch {
	case len(found) == 1:
		c.Details = append(c.Details, fmt.Sprintf("found it under %q (%s)", found[0].Prefix, ttlText(ttlOf(found[0]))))
		c.Hint = "pass --prefix " + shellWord(found[0].Prefix)
	case len(found) > 1:
		where := make([]string, len(found))
		for i, f := range found {
			where[i] = fmt.Sprintf("%q (%s)", f.Prefix, ttlText(ttlOf(f)))
		}
		c.Details = append(c.Details, "found it under "+strings.Join(where, ", "))
		c.Hint = "pass --prefix with the app's (connect-redis's prefix option)"
	default:
		if complete {
			c.Details = append(c.Details, "no other key of this Redis database ends with the session ID")
		} else {
			c.Details = append(c.Details, fmt.Sprintf("no other key ends with the session ID among the first ~%d of each node "+
				"(the search is bounded)", scanCount*maxScanCalls))
		}
		c.Hint = "the user logged out, or the session ended and Redis dropped it: log in to the app again; if the app " +
			"sees the session, --redis-url (host and database number) is not the app's Redis"
	}
	return exitRefused
}

// search looks for keys ending in sid under any other prefix, with SCAN
// bounded by maxScanCalls per node and scanTimeout. complete reports that
// every node was searched to the end.
func (d *doctor) search(ctx context.Context, sid string) (found []foundKey, emptyKey, complete bool, err error) {
	sctx, cancel := context.WithTimeout(ctx, scanTimeout)
	defer cancel()
	pattern, own := "*"+redisstore.EscapeGlob(sid), d.store.redis.Key(sid)
	var keys []string
	var mu sync.Mutex // ForEachMaster scans the nodes at once
	complete = true
	scan := func(ctx context.Context, c redis.Cmdable) error {
		var cursor uint64
		for range maxScanCalls {
			batch, next, err := c.Scan(ctx, cursor, pattern, scanCount).Result()
			if err != nil {
				if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
					break // out of time: report what was found
				}
				return err
			}
			mu.Lock()
			for _, k := range batch {
				switch {
				case k == own:
					emptyKey = true // GET found nothing there: empty
				case strings.HasSuffix(k, sid) && len(keys) < maxFoundKeys:
					keys = append(keys, k)
				}
			}
			mu.Unlock()
			if next == 0 {
				return nil
			}
			cursor = next
		}
		mu.Lock()
		complete = false
		mu.Unlock()
		return nil
	}
	client := d.store.redis.Client()
	if cc, ok := client.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(sctx, func(ctx context.Context, c *redis.Client) error { return scan(ctx, c) })
	} else {
		err = scan(sctx, client)
	}
	if err != nil {
		return nil, false, false, fmt.Errorf("redis scan: %w", err)
	}
	// The TTLs, on a time of their own: the scan may have used all of its.
	ctx, cancel = context.WithTimeout(ctx, redisstore.DefaultTimeout)
	defer cancel()
	for _, k := range keys {
		f := foundKey{Prefix: strings.TrimSuffix(k, sid)}
		if ttl, err := client.PTTL(ctx, k).Result(); err == nil && ttl >= 0 {
			f.TTLSeconds = ttlSeconds(ttl)
		}
		found = append(found, f)
	}
	return found, emptyKey, complete, nil
}

// exists reports whether the store holds the session, for the signature
// step's diagnosis; err is set when the store could not tell.
func (d *doctor) exists(ctx context.Context, sid string) (bool, error) {
	_, err := d.store.TTL(ctx, sid)
	switch connectsid.ErrorCode(err) {
	case "":
		return true, nil
	case connectsid.CodeNoSession:
		return false, nil
	}
	return false, err
}

// malformed reports a record that is not a session, which the bridge
// refuses at the record step.
func (d *doctor) malformed(err error) {
	_, why, ok := strings.Cut(err.Error(), "): ")
	if !ok {
		why = err.Error()
	}
	if d.store.pg != nil {
		d.fail(auth.StepRecord, connectsid.CodeMalformedSession, "the record is not a session record: "+why,
			"express-session always stores a cookie object: something else writes rows into "+d.store.pg.Table()+"; check --table")
		return
	}
	hint := fmt.Sprintf("express-session always stores a cookie object: something else writes keys under %q; check --prefix",
		d.store.redis.Prefix())
	if strings.Contains(why, "JSON") {
		hint = fmt.Sprintf("connect-redis stores JSON.stringify(session): does the app set connect-redis's serializer option, "+
			"or does something else write keys under %q?", d.store.redis.Prefix())
	}
	d.fail(auth.StepRecord, connectsid.CodeMalformedSession, "the record is not a session record: "+why, hint)
}

// record explains the gate's record step: a record that is not a session,
// or the cookie's expiry, which Express leaves to the Redis TTL and the gate
// checks unless --accept-expired.
func (d *doctor) record(st auth.StepInfo) bool {
	if st.Refusal != nil && st.Refusal.Code == connectsid.CodeMalformedSession {
		d.malformed(st.Cause)
		return false
	}
	sess := st.Session
	exp := sess.Cookie().Expires
	if exp == nil {
		d.pass(auth.StepRecord, "a session with a browser-session cookie (no cookie.expires): the key's TTL ends it")
		return true
	}
	when := exp.UTC().Format(time.RFC3339)
	if st.Refusal == nil && exp.After(d.now) {
		d.pass(auth.StepRecord, fmt.Sprintf("a session, cookie.expires in %s (%s)", shortDuration(exp.Sub(d.now)), when))
		return true
	}
	ago := fmt.Sprintf("cookie.expires passed %s ago (%s)", shortDuration(d.now.Sub(*exp)), when)
	if st.Refusal == nil { // --accept-expired
		d.pass(auth.StepRecord, "a session; "+ago, "accepted all the same, as Express does while Redis holds the key (--accept-expired)")
		return true
	}
	d.fail(auth.StepRecord, connectsid.CodeExpired, "the session has expired: "+ago,
		"the user must log in to the app again; Express itself accepts such a session while Redis holds the key: "+
			"pass --accept-expired to do the same (apps with rolling: true need it)",
		d.holds())
	return false
}

// holds says that the store still holds an expired session, and for how long.
func (d *doctor) holds() string {
	if d.store.pg != nil {
		return fmt.Sprintf("the row's expire is %s away (connect-pg-simple still serves it)", shortDuration(d.ttl))
	}
	return fmt.Sprintf("Redis still holds the key (%s)", ttlText(d.ttl))
}

// passportField is where passport keeps its serialized user, the login
// of most Express apps.
const passportField = "passport.user"

// login explains the gate's login step: the field, and where the login is
// marked when it is not there.
func (d *doctor) login(st auth.StepInfo) bool {
	field, sess, raw := d.g.loginField, st.Session, st.Raw
	if st.Refusal == nil {
		what := "true"
		if string(raw) != "true" {
			what = jsonType(raw) + ", which JavaScript counts as true"
			if d.opts.showValues {
				what = shownValue(raw)
			}
		}
		d.pass(auth.StepLogin, cell(field)+" is "+what)
		return true
	}
	var c *check
	switch {
	case raw == nil:
		c = d.fail(auth.StepLogin, auth.CodeNotLoggedIn, fmt.Sprintf("the record has no field %s", cell(field)), "")
		var trues []string
		for _, k := range sess.Keys() {
			if v, ok := sess.Bool(k); ok && v {
				trues = append(trues, k)
			}
		}
		passport, hasPassport := sess.Raw("passport")
		user, hasUser := sess.Path("passport", "user")
		switch {
		case len(sess.Keys()) == 0:
			c.Hint = "the session holds nothing but its cookie: its user has not logged in (or the app saves sessions before login)"
		case field != passportField && hasUser && auth.Truthy(user):
			c.Hint = "passport.user is set: the app logs in with passport; pass --login-field passport.user --user-field passport.user"
		case hasPassport && auth.Truthy(passport) && !hasUser:
			c.Hint = "passport holds no user: the user logged out (passport's logout keeps the session and removes passport.user), " +
				"or has not logged in yet"
		case len(trues) == 1:
			c.Hint = fmt.Sprintf("%s is true: if it marks the login, pass --login-field %s", cell(trues[0]), shellWord(trues[0]))
		default:
			c.Hint = "log in to the app; if it marks logins with another field (one that is truthy), pass --login-field NAME " +
				"(a dotted path such as passport.user)"
		}
	case string(raw) == "false":
		c = d.fail(auth.StepLogin, auth.CodeNotLoggedIn, fmt.Sprintf("%s is false: the session's user is not logged in", cell(field)),
			"log in to the app again")
	default:
		what := jsonType(raw)
		if d.opts.showValues || what == "null" {
			what = shownValue(raw)
		} else if string(raw) == `""` {
			what = "an empty string"
		}
		c = d.fail(auth.StepLogin, auth.CodeNotLoggedIn, fmt.Sprintf("%s is %s, which JavaScript counts as false", cell(field), what),
			"the login passes when --login-field is truthy (true, a non-empty string, a non-zero number, an object)")
	}
	c.Fields = sess.Keys()
	c.Details = append(c.Details, d.fieldsLine(sess))
	return false
}

// user explains the gate's user step, warning when the record has no user:
// the bridge then accepts the session with an empty name.
func (d *doctor) user(st auth.StepInfo) string {
	field, sess := d.g.userField, st.Session
	if st.HasUser {
		d.pass(auth.StepUser, fmt.Sprintf("%s is %s", cell(field), cell(strconv.Quote(st.User))))
		return st.User
	}
	msg := fmt.Sprintf("the record has no field %s: the bridge accepts the session with an empty user name", cell(field))
	if st.Raw != nil {
		msg = fmt.Sprintf("%s is %s, not a string or a number: the bridge accepts the session with an empty user name",
			cell(field), jsonType(st.Raw))
	}
	c := d.pass(auth.StepUser, msg, d.fieldsLine(sess))
	c.Warning, c.Fields = true, sess.Keys()
	var strs []string
	for _, k := range sess.Keys() {
		if _, ok := sess.String(k); ok {
			strs = append(strs, k)
		}
	}
	c.Hint = "pass --user-field with the field that holds the user's name"
	if len(strs) > 0 {
		c.Hint += " (string fields: " + listNames(strs) + ")"
	} else {
		c.Hint += " (a dotted path such as passport.user)"
	}
	return ""
}

// fieldsLine lists the record's fields, with their values when asked.
func (d *doctor) fieldsLine(sess *connectsid.Session) string {
	keys := sess.Keys()
	if len(keys) == 0 {
		return "fields present: none but cookie"
	}
	shown := make([]string, len(keys))
	for i, k := range keys {
		raw, _ := sess.Raw(k)
		if d.opts.showValues {
			shown[i] = cell(k) + "=" + shownValue(raw)
		} else {
			shown[i] = cell(k) + " (" + jsonType(raw) + ")"
		}
	}
	line := "fields present: " + strings.Join(shown, ", ")
	if !d.opts.showValues {
		line += "; --show-values shows the values"
	}
	return line
}

// Output ----------------------------------------------------------------------

// print writes the steps aligned, one line each, details and hint below.
func (d *doctor) print(w io.Writer) {
	indent := strings.Repeat(" ", 2+stepWidth)
	for _, c := range d.checks {
		mark := "✔"
		switch {
		case !c.OK:
			mark = "✘"
		case c.Warning:
			mark = "!"
		}
		if c.Step == stepAccepted {
			fmt.Fprintf(w, "%s %s\n", mark, c.Message)
			continue
		}
		fmt.Fprintf(w, "%s %-*s%s\n", mark, stepWidth, c.Step, c.Message)
		for _, l := range c.Details {
			fmt.Fprintf(w, "%s%s\n", indent, l)
		}
		if c.Hint != "" {
			fmt.Fprintf(w, "%shint: %s\n", indent, c.Hint)
		}
	}
}

// writeJSONIndent prints v as indented JSON, as session list does.
func (a *app) writeJSONIndent(v any) {
	enc := json.NewEncoder(a.stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// id is a session ID as doctor shows it.
func (d *doctor) id(sid string) string { return cell(shownID(sid, d.opts.showIDs)) }

// Helpers ---------------------------------------------------------------------

// macChars is the length of a cookie signature: base64 of a SHA-256 HMAC
// without its padding.
const macChars = 43

// looksSigned reports whether a decoded cookie value looks like a signed
// session ID: s:<id>.<signature of macChars>.
func looksSigned(v string) bool {
	if !strings.HasPrefix(v, "s:") {
		return false
	}
	dot := strings.LastIndexByte(v, '.')
	return dot > 2 && len(v)-dot-1 == macChars
}

// countCookies counts the pairs named name in a Cookie header, roughly as
// the cookie package splits them, to tell of duplicates.
func countCookies(header, name string) int {
	n := 0
	for pair := range strings.SplitSeq(header, ";") {
		k, _, ok := strings.Cut(pair, "=")
		if ok && strings.Trim(k, " \t") == name {
			n++
		}
	}
	return n
}

// listNames joins names for a message, at most maxNamesInHint of them.
func listNames(names []string) string {
	shown := make([]string, 0, min(len(names), maxNamesInHint+1))
	for i, n := range names {
		if i == maxNamesInHint {
			shown = append(shown, fmt.Sprintf("… (%d more)", len(names)-i))
			break
		}
		shown = append(shown, cell(n))
	}
	return strings.Join(shown, ", ")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// jsonType names the type of a JSON value as a person would.
func jsonType(raw []byte) string {
	switch s := string(raw); {
	case s == "true" || s == "false":
		return "a boolean"
	case s == "null":
		return "null"
	case strings.HasPrefix(s, `"`):
		return "a string"
	case strings.HasPrefix(s, "{"):
		return "an object"
	case strings.HasPrefix(s, "["):
		return "an array"
	}
	return "a number"
}

// shownValue is a field's JSON text on one line, cut at maxShownValue
// characters.
func shownValue(raw []byte) string {
	s := cell(string(raw))
	if utf8.RuneCountInString(s) > maxShownValue {
		s = string([]rune(s)[:maxShownValue]) + "…"
	}
	return s
}

// shellWordRe matches words that need no quoting in a shell.
var shellWordRe = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// shellWord quotes s for a shell command line, when it needs it.
func shellWord(s string) string {
	s = cell(s)
	if shellWordRe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// shortDuration prints d to the second without zero units ("24h", "58m12s"),
// or in days when long.
func shortDuration(d time.Duration) string {
	if d >= 48*time.Hour {
		return roundDuration(d)
	}
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// ttlText says what a key's TTL is (-1: none).
func ttlText(ttl time.Duration) string {
	if ttl < 0 {
		return "no TTL: Redis keeps it until it is deleted"
	}
	return "TTL " + shortDuration(ttl)
}

func ttlSeconds(ttl time.Duration) *int64 {
	if ttl < 0 {
		return nil
	}
	s := int64(ttl.Round(time.Second) / time.Second)
	return &s
}

func ttlOf(f foundKey) time.Duration {
	if f.TTLSeconds == nil {
		return -1
	}
	return time.Duration(*f.TTLSeconds) * time.Second
}
