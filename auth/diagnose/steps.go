package diagnose

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/redisstore"
)

// cookie explains the gate's cookie step: the names present when it found
// none, duplicates when it did.
func (d *run) cookie(header string, st auth.StepInfo) bool {
	name := d.gate.CookieName
	cookies := connectsid.ParseCookies(header)
	value, found := connectsid.Lookup(header, name)
	switch {
	case !found && len(cookies) == 0:
		d.fail(auth.StepCookie, connectsid.CodeNoCookie, "the header holds no cookie", HintFor(connectsid.ErrNoCookie, d.loc))
		return false
	case !found:
		msg := fmt.Sprintf("no cookie named %s among the %d cookies of the header", OneLine(name), len(cookies))
		if len(cookies) == 1 {
			msg = fmt.Sprintf("no cookie named %s: the header holds one other cookie", OneLine(name))
		}
		names := sortedKeys(cookies)
		f := d.fail(auth.StepCookie, connectsid.CodeNoCookie, msg, Text{}, text("names present: "+listNames(names)))
		var signed []string
		for _, n := range names {
			if connectsid.LooksSigned(cookies[n]) {
				signed = append(signed, n)
			}
		}
		switch len(signed) {
		case 0:
			f.Hint = text("none looks like a signed session (s%3A…): log in to the app and copy the Cookie header of a request to it")
		case 1:
			f.Hint = text(OneLine(signed[0])+" looks like a signed session (s%3A…): ", set(Change{SettingCookieName, signed[0]}))
		default:
			f.Hint = text(listNames(signed)+" look like signed sessions (s%3A…): ", set(Change{Setting: SettingCookieName}),
				" with the one the app's name option sets")
		}
		return false
	case value == "" || st.Refusal != nil:
		d.fail(auth.StepCookie, connectsid.CodeNoCookie, fmt.Sprintf("the cookie %s is empty", OneLine(name)),
			text("log in to the app again, then copy the Cookie header of a request to it"))
		return false
	}
	among := "among " + plural(len(cookies), "cookie")
	if len(cookies) == 1 {
		among = "the header's only cookie"
	}
	f := d.pass(auth.StepCookie, fmt.Sprintf("%s found (%s)", OneLine(name), among))
	if n := connectsid.CountCookies(header, name); n > 1 {
		f.Details = append(f.Details, text(fmt.Sprintf("the header holds %d cookies named %s (a cookie of another domain or path?): "+
			"Express reads the first, and so does the gate", n, OneLine(name))))
	}
	return true
}

// signature explains the gate's signature step. On a bad signature it
// asks the store whether the session exists all the same, which tells a
// wrong secret from a cookie of another app.
func (d *run) signature(ctx context.Context, st auth.StepInfo) bool {
	n := d.gate.Verifier.Secrets()
	if st.Refusal == nil {
		idx := st.SecretIndex
		msg := fmt.Sprintf("verified with secret %d of %d", idx+1, n)
		if idx > 0 {
			msg += " — a rotation is in progress: cookies signed with older secrets are still in use"
		}
		f := d.pass(auth.StepSignature, msg)
		f.SID, f.Secret, f.Secrets = d.id(st.SID), idx+1, n
		return true
	}
	code := st.Refusal.Code
	switch code {
	case connectsid.CodeNotSigned:
		d.fail(auth.StepSignature, code, "the value is not signed: it does not start with s: (s%3A when encoded)",
			HintFor(st.Refusal, d.loc))
	case connectsid.CodeMalformed:
		err := st.Refusal.Unwrap()
		_, why, _ := strings.Cut(err.Error(), ": ")
		if why == "" {
			why = err.Error()
		}
		d.fail(auth.StepSignature, code, "the value cannot be a signed session ID: "+why, HintFor(err, d.loc))
	default: // bad-signature
		sid, mac, _ := connectsid.SplitSigned(st.Value) // Unsign split it
		if len(mac) != connectsid.SignatureLen {
			d.fail(auth.StepSignature, code,
				fmt.Sprintf("the signature is %d characters long, not %d: the cookie was cut or changed",
					utf8.RuneCountInString(mac), connectsid.SignatureLen),
				text("copy the cookie's value whole, from the browser's developer tools"))
			return false
		}
		msg := fmt.Sprintf("no secret verifies the signature (%s tried)", plural(n, "secret"))
		if d.cfg.SecretSource != "" {
			msg = fmt.Sprintf("no secret verifies the signature (%s tried, from %s)", plural(n, "secret"), d.cfg.SecretSource)
		}
		f := d.fail(auth.StepSignature, code, msg, HintFor(st.Refusal, d.loc))
		f.Secrets = n
		switch exists, err := d.exists(ctx, sid); {
		case err != nil: // the store cannot tell; the store step would say why
		case exists:
			f.Details = append(f.Details, text(fmt.Sprintf("yet session %s exists %s: the app signed this cookie, with a secret not in the list",
				d.id(sid), d.whereShort())))
		default:
			f.Details = append(f.Details, text(fmt.Sprintf("and no session %s exists %s: the cookie may be another app's or "+
				"another environment's", d.id(sid), d.whereShort())))
		}
	}
	return false
}

// exists reports whether the store holds the session; err is set when
// the store could not tell.
func (d *run) exists(ctx context.Context, sid string) (bool, error) {
	_, err := d.store.TTL(ctx, sid)
	switch connectsid.ErrorCode(err) {
	case "":
		return true, nil
	case connectsid.CodeNoSession:
		return false, nil
	}
	return false, err
}

// lookup explains the gate's store step. A missing session is searched
// for under other prefixes; a found one gets its TTL.
func (d *run) lookup(ctx context.Context, st auth.StepInfo) bool {
	sid := st.SID
	if st.Refusal != nil {
		switch st.Refusal.Code {
		case connectsid.CodeStoreUnavailable:
			d.unavailable(st.Cause)
		case connectsid.CodeNoSession:
			d.missing(ctx, sid)
		default: // cannot happen: Get's codes are above
			d.fail(auth.StepStore, st.Refusal.Code, st.Refusal.Message, HintFor(st.Refusal, d.loc))
		}
		return false
	}
	ttl, err := d.store.TTL(ctx, sid)
	switch connectsid.ErrorCode(err) {
	case connectsid.CodeStoreUnavailable:
		d.unavailable(err)
		return false
	case connectsid.CodeNoSession: // the session ended a moment ago
		d.missing(ctx, sid)
		return false
	}
	d.ttl = ttl
	f := d.pass(auth.StepStore, fmt.Sprintf("session %s found %s (%s)", d.id(sid), d.whereShort(), ttlText(ttl)))
	f.TTL = ttlOrNil(ttl)
	return true
}

func (d *run) unavailable(err error) {
	d.fail(auth.StepStore, connectsid.CodeStoreUnavailable, Unreachable(err, d.loc), HintFor(err, d.loc))
}

// where says where the store keeps sessions: under prefix "sess:", in
// table session; whereShort as the store step says it: under "sess:".
func (d *run) where() string {
	if d.loc.sql() {
		return "in table " + d.loc.table()
	}
	return "under prefix " + strconv.Quote(d.loc.Prefix)
}

func (d *run) whereShort() string {
	if d.loc.sql() {
		return "in table " + d.loc.table()
	}
	return "under " + strconv.Quote(d.loc.Prefix)
}

// missing reports a session that is not in the store, and where else it
// is.
func (d *run) missing(ctx context.Context, sid string) {
	f := d.fail(auth.StepStore, connectsid.CodeNoSession,
		fmt.Sprintf("no session %s %s at %s", d.id(sid), d.where(), d.loc.URL), HintFor(connectsid.ErrNoSession, d.loc))
	if d.cfg.Store.Redis == nil {
		return
	}
	found, emptyKey, complete, err := d.search(ctx, sid)
	if err != nil { // Redis answered the GET: the session is missing all the same
		f.Details = append(f.Details, text("the search under other prefixes failed: "+err.Error()))
	}
	if emptyKey {
		f.Details = append(f.Details, text(fmt.Sprintf("the key %s%s holds an empty string, which connect-redis reads as no session",
			d.loc.Prefix, d.id(sid))))
	}
	f.Found = found
	switch {
	case len(found) == 1:
		f.Details = append(f.Details, text(fmt.Sprintf("found it under %q (%s)", found[0].Prefix, ttlText(ttlOf(found[0].TTL)))))
		f.Hint = text(set(Change{SettingPrefix, found[0].Prefix}))
	case len(found) > 1:
		where := make([]string, len(found))
		for i, k := range found {
			where[i] = fmt.Sprintf("%q (%s)", k.Prefix, ttlText(ttlOf(k.TTL)))
		}
		f.Details = append(f.Details, text("found it under "+strings.Join(where, ", ")))
		f.Hint = text(set(Change{Setting: SettingPrefix}), " with the app's (connect-redis's prefix option)")
	case complete:
		f.Details = append(f.Details, text("no other key of this Redis database ends with the session ID"))
	default:
		f.Details = append(f.Details, text(fmt.Sprintf("no other key ends with the session ID among the first ~%d of each node "+
			"(the search is bounded)", scanCount*maxScanCalls)))
	}
}

// search looks for keys ending in sid under any other prefix, on every
// node, bounded by maxScanCalls per node and scanTimeout. complete reports
// that every node was searched to the end.
func (d *run) search(ctx context.Context, sid string) (found []Found, emptyKey, complete bool, err error) {
	rs := d.cfg.Store.Redis
	sctx, cancel := context.WithTimeout(ctx, scanTimeout)
	defer cancel()
	own := rs.Key(sid)
	var keys []string
	complete, err = rs.Scan(sctx, redisstore.ScanOptions{Match: "*" + redisstore.EscapeGlob(sid), Count: scanCount, MaxCalls: maxScanCalls},
		func(batch []string) bool {
			for _, k := range batch {
				switch {
				case k == own:
					emptyKey = true // the gate's GET found nothing there: empty
				case strings.HasSuffix(k, sid) && len(keys) < maxFoundKeys && !contains(keys, k):
					keys = append(keys, k)
				}
			}
			return true
		})
	if err != nil && sctx.Err() != nil && ctx.Err() == nil {
		complete, err = false, nil // out of time: report what was found
	}
	if err != nil {
		return nil, false, false, err
	}
	// The TTLs, on a time of their own: the scan may have used all of its.
	ctx, cancel = context.WithTimeout(ctx, redisstore.DefaultTimeout)
	defer cancel()
	for _, k := range keys {
		f := Found{Prefix: strings.TrimSuffix(k, sid)}
		if ttl, err := rs.Client().PTTL(ctx, k).Result(); err == nil && ttl >= 0 {
			f.TTL = &ttl
		}
		found = append(found, f)
	}
	return found, emptyKey, complete, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// record explains the gate's record step: a record that is not a session,
// or the cookie's expiry, which Express leaves to the store's TTL and the
// gate checks unless AcceptExpired.
func (d *run) record(st auth.StepInfo) bool {
	if st.Refusal != nil && st.Refusal.Code == connectsid.CodeMalformedSession {
		d.fail(auth.StepRecord, connectsid.CodeMalformedSession, "the record is not a session record: "+malformedWhy(st.Cause),
			HintFor(st.Cause, d.loc))
		return false
	}
	exp := st.Session.Cookie().Expires
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
	if st.Refusal == nil { // AcceptExpired
		d.pass(auth.StepRecord, "a session; "+ago,
			text("accepted all the same, as Express does while Redis holds the key (", name(SettingAcceptExpired), ")"))
		return true
	}
	d.fail(auth.StepRecord, connectsid.CodeExpired, "the session has expired: "+ago,
		text(HintFor(connectsid.ErrExpired, d.loc), "; Express itself accepts such a session while Redis holds the key: ",
			set(Change{Setting: SettingAcceptExpired}), " to do the same (apps with rolling: true need it)"),
		text(d.holds()))
	return false
}

// holds says that the store still holds an expired session, and for how
// long.
func (d *run) holds() string {
	if d.loc.mysql() {
		return fmt.Sprintf("the row's expires is %s away (express-mysql-session still serves it)", shortDuration(d.ttl))
	}
	if d.loc.knex() {
		return fmt.Sprintf("the row's expired is %s away (connect-session-knex still serves it)", shortDuration(d.ttl))
	}
	if d.loc.postgres() {
		return fmt.Sprintf("the row's expire is %s away (connect-pg-simple still serves it)", shortDuration(d.ttl))
	}
	return fmt.Sprintf("Redis still holds the key (%s)", ttlText(d.ttl))
}

// passportField is where passport keeps its serialized user, the login of
// most Express apps.
const passportField = "passport.user"

// login explains the gate's login step: the field, and where the login is
// marked when it is not there.
func (d *run) login(st auth.StepInfo) bool {
	field, sess, raw := d.gate.LoginField, st.Session, st.Raw
	if st.Refusal == nil {
		what := "true"
		if string(raw) != "true" {
			what = jsonType(raw) + ", which JavaScript counts as true"
			if d.cfg.ShowValues {
				what = shownValue(raw)
			}
		}
		d.pass(auth.StepLogin, OneLine(field)+" is "+what)
		return true
	}
	var f *Finding
	switch {
	case raw == nil:
		f = d.fail(auth.StepLogin, auth.CodeNotLoggedIn, fmt.Sprintf("the record has no field %s", OneLine(field)), Text{})
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
			f.Hint = text("the session holds nothing but its cookie: its user has not logged in (or the app saves sessions before login)")
		case field != passportField && hasUser && auth.Truthy(user):
			f.Hint = text("passport.user is set: the app logs in with passport; ",
				set(Change{SettingLoginField, passportField}, Change{SettingUserField, passportField}))
		case hasPassport && auth.Truthy(passport) && !hasUser:
			f.Hint = text("passport holds no user: the user logged out (passport's logout keeps the session and removes passport.user), " +
				"or has not logged in yet")
		case len(trues) == 1:
			f.Hint = text(OneLine(trues[0])+" is true: if it marks the login, ", set(Change{SettingLoginField, trues[0]}))
		default:
			f.Hint = HintFor(&auth.Refusal{Code: auth.CodeNotLoggedIn}, d.loc)
		}
	case string(raw) == "false":
		f = d.fail(auth.StepLogin, auth.CodeNotLoggedIn, fmt.Sprintf("%s is false: the session's user is not logged in", OneLine(field)),
			text("log in to the app again"))
	default:
		what := jsonType(raw)
		if d.cfg.ShowValues || what == "null" {
			what = shownValue(raw)
		} else if string(raw) == `""` {
			what = "an empty string"
		}
		f = d.fail(auth.StepLogin, auth.CodeNotLoggedIn, fmt.Sprintf("%s is %s, which JavaScript counts as false", OneLine(field), what),
			text("the login passes when ", name(SettingLoginField), " is truthy (true, a non-empty string, a non-zero number, an object)"))
	}
	f.Fields = sess.Keys()
	f.Details = append(f.Details, d.fieldsLine(sess))
	return false
}

// user explains the gate's user step, warning when the record has no
// user: the gate then accepts the session with an empty name.
func (d *run) user(st auth.StepInfo) string {
	field, sess := d.gate.UserField, st.Session
	if st.HasUser {
		d.pass(auth.StepUser, fmt.Sprintf("%s is %s", OneLine(field), OneLine(strconv.Quote(st.User))))
		return st.User
	}
	msg := fmt.Sprintf("the record has no field %s: the bridge accepts the session with an empty user name", OneLine(field))
	if st.Raw != nil {
		msg = fmt.Sprintf("%s is %s, not a string or a number: the bridge accepts the session with an empty user name",
			OneLine(field), jsonType(st.Raw))
	}
	f := d.pass(auth.StepUser, msg, d.fieldsLine(sess))
	f.Status, f.Fields = Warn, sess.Keys()
	var strs []string
	for _, k := range sess.Keys() {
		if _, ok := sess.String(k); ok {
			strs = append(strs, k)
		}
	}
	tail := " (a dotted path such as passport.user)"
	if len(strs) > 0 {
		tail = " (string fields: " + listNames(strs) + ")"
	}
	f.Hint = text(set(Change{Setting: SettingUserField}), " with the field that holds the user's name", tail)
	return ""
}

// fieldsLine lists the record's fields, with their values when asked.
func (d *run) fieldsLine(sess *connectsid.Session) Text {
	keys := sess.Keys()
	if len(keys) == 0 {
		return text("fields present: none but cookie")
	}
	shown := make([]string, len(keys))
	for i, k := range keys {
		raw, _ := sess.Raw(k)
		if d.cfg.ShowValues {
			shown[i] = OneLine(k) + "=" + shownValue(raw)
		} else {
			shown[i] = OneLine(k) + " (" + jsonType(raw) + ")"
		}
	}
	line := "fields present: " + strings.Join(shown, ", ")
	if d.cfg.ShowValues {
		return text(line)
	}
	return text(line+"; ", name(SettingShowValues), " shows the values")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
