// Package auth is the gate every door of expressbridge goes through: the
// WebSocket handshake, Socket.IO, plain Go HTTP routes and `expressbridge
// doctor`. Given a request (or a Cookie header) it walks the steps an
// Express app with express-session walks, in order:
//
//  1. origin: a browser page of an allowed origin (requests only);
//  2. cookie: the session cookie of the app's name;
//  3. signature: signed with one of the app's secrets;
//  4. store: the record in the app's session store;
//  5. record: a session record, not expired;
//  6. login: the login field truthy, as JavaScript tests it;
//
// and returns the session and its user, or a *Refusal with an HTTP
// status, a code and the step that failed. The rules live here once, so the
// doors cannot drift apart.
package auth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/expressbridge/expressbridge/connectsid"
)

// Defaults for Config's zero fields.
const (
	DefaultCookieName = "connect.sid"
	DefaultLoginField = "loggedIn"
	DefaultUserField  = "username"
	// DefaultTimeout bounds one store lookup: a dead store costs a request
	// at most this, then it is refused 503.
	DefaultTimeout = 5 * time.Second
)

// Store is what the gate needs from a session store: one lookup. Get fails
// with connectsid.ErrNoSession, ErrExpired (the store's own expiry, such as
// a PostgreSQL row past its expire), ErrMalformedSession or
// ErrStoreUnavailable; any other error counts as unavailable. It returns
// records whose cookie.expires has passed, as connect-redis and
// connect-pg-simple do: the gate judges those (Config.AcceptExpired).
// redisstore.Store and pgstore.Store are two.
type Store interface {
	Get(ctx context.Context, sid string) (*connectsid.Session, error)
}

// CookieSessions keeps each session whole in its cookie, as cookie-session
// does: it finds, verifies and decodes the session in a Cookie header, in
// place of the Verifier and the Store. FromHeader fails with errors that
// wrap connectsid's sentinels (ErrNoCookie, ErrNotSigned, ErrBadSignature,
// ErrMalformedSession); keyIndex is the key that verified, when one did.
// cookiesession.Codec is one.
type CookieSessions interface {
	FromHeader(header string) (sid string, keyIndex int, sess *connectsid.Session, err error)
	// Name is the session cookie's name.
	Name() string
}

// Config configures a Gate. Verifier and Store are required, or else
// Cookies; every other zero field takes the default named beside it.
type Config struct {
	Verifier *connectsid.Verifier
	Store    Store
	// Cookies, when set, reads sessions kept in the cookie (cookie-session)
	// instead of Verifier and Store: there is then no store to reload a
	// session from, and CookieName is Cookies.Name().
	Cookies CookieSessions
	// CookieName is express-session's name option (DefaultCookieName).
	CookieName string
	// LoginField is the dotted path of the field that marks a login
	// (DefaultLoginField): "passport.user" for passport. It passes when
	// the value is truthy as JavaScript sees it.
	LoginField string
	// LoggedIn, when set, replaces the LoginField rule.
	LoggedIn func(*connectsid.Session) bool
	// UserField is the dotted path of the user's name or id
	// (DefaultUserField): a string as it is, a number as JavaScript
	// writes it. A session without one is accepted with an empty name.
	UserField string
	// AcceptExpired accepts records whose cookie.expires has passed while
	// the store still holds them, as Express does (apps with rolling: true
	// need it). By default they are refused "expired". This is the one
	// place that policy is applied, whatever the store and its options; a
	// record the store itself has expired (its TTL) is refused either way.
	AcceptExpired bool
	// AllowedOrigins lists the origins (scheme://host[:port]) whose pages
	// may send requests. When empty, only pages served from the request's
	// own host may. Requests without an Origin header (not browsers, or
	// same-origin GETs) pass: a browser sends Origin on every cross-site
	// request that could act.
	AllowedOrigins []string
	// Timeout bounds the store lookup (DefaultTimeout).
	Timeout time.Duration
	// Now returns the time for the expiry check (time.Now when nil).
	Now func() time.Time
	// Observer, when set, hears the result of every check (for metrics).
	Observer Observer
}

// Observer hears each check's result: the door (WithDoor's, DoorHTTP by
// default) and "accepted" or the refusal's code. Its method must be cheap
// and safe for concurrent use. metrics.Metrics is one.
type Observer interface {
	Handshake(door, result string)
}

// Doors, as Observer hears them.
const (
	DoorHTTP     = "http"
	DoorWS       = "ws"
	DoorSocketIO = "socket.io"
)

// ResultAccepted is the result an Observer hears for a request let through.
const ResultAccepted = "accepted"

type doorKey struct{}

// WithDoor returns a context whose checks count under door.
func WithDoor(ctx context.Context, door string) context.Context {
	return context.WithValue(ctx, doorKey{}, door)
}

// Report tells the Observer of a result the gate did not reach itself: a
// door's own refusal before the gate's steps (bad-request, shutting-down).
func (g *Gate) Report(ctx context.Context, result string) {
	if g.cfg.Observer == nil {
		return
	}
	door, _ := ctx.Value(doorKey{}).(string)
	if door == "" {
		door = DoorHTTP
	}
	g.cfg.Observer.Handshake(door, result)
}

// Gate checks requests against an Express app's sessions. It is immutable
// and safe for concurrent use.
type Gate struct {
	cfg     Config
	login   Field
	user    Field
	origins map[string]bool
}

// New returns a gate for cfg, with defaults for zero fields. It fails when
// Verifier or Store is missing, a field path has an empty segment, the
// timeout is negative, or an allowed origin is not an origin.
func New(cfg Config) (*Gate, error) {
	if cfg.Cookies != nil {
		if cfg.Verifier != nil || cfg.Store != nil {
			return nil, &usageError{"Config.Cookies replaces Config.Verifier and Config.Store: set one or the other"}
		}
		cfg.CookieName = cfg.Cookies.Name()
	} else if cfg.Verifier == nil || cfg.Store == nil {
		return nil, &usageError{"Config.Verifier and Config.Store are required"}
	}
	if cfg.Timeout < 0 {
		return nil, &usageError{"Config.Timeout must not be negative"}
	}
	if cfg.CookieName == "" {
		cfg.CookieName = DefaultCookieName
	}
	if cfg.LoginField == "" {
		cfg.LoginField = DefaultLoginField
	}
	if cfg.UserField == "" {
		cfg.UserField = DefaultUserField
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	g := &Gate{cfg: cfg, origins: make(map[string]bool, len(cfg.AllowedOrigins))}
	var err error
	if g.login, err = ParseField(cfg.LoginField); err != nil {
		return nil, err
	}
	if g.user, err = ParseField(cfg.UserField); err != nil {
		return nil, err
	}
	for _, o := range cfg.AllowedOrigins {
		u, err := url.Parse(o)
		if err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") ||
			u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
			return nil, &usageError{"allowed origin " + o + " is not of the form scheme://host[:port]"}
		}
		g.origins[strings.ToLower(u.Scheme+"://"+u.Host)] = true
	}
	return g, nil
}

// Session is a request the gate let through: the session ID, the user and
// the record. Treat Record as read-only: a door may share it between
// handlers.
type Session struct {
	ID     string
	User   string
	Record *connectsid.Session
	// SecretIndex is which secret verified the cookie (0: the signing
	// one; more means a rotation is in progress). -1 from Recheck.
	SecretIndex int
}

// Check walks every step for an HTTP request: origin, then the Cookie
// header (Node joins repeated ones with "; "), then the rest. The error is
// always a *Refusal.
func (g *Gate) Check(ctx context.Context, r *http.Request) (*Session, error) {
	s, err := g.check(ctx, r)
	if g.cfg.Observer != nil {
		if err != nil {
			g.Report(ctx, AsRefusal(err).Code)
		} else {
			g.Report(ctx, ResultAccepted)
		}
	}
	return s, err
}

func (g *Gate) check(ctx context.Context, r *http.Request) (*Session, error) {
	if ref := g.CheckOrigin(r); ref != nil {
		g.trace(ctx, StepInfo{Step: StepOrigin, Refusal: ref})
		return nil, ref
	}
	return g.CheckCookie(ctx, CookieHeader(r))
}

// CookieHeader returns a request's Cookie header as Node reads it: repeated
// headers joined with "; ". Every door reads the cookie the gate reads.
func CookieHeader(r *http.Request) string {
	switch v := r.Header["Cookie"]; len(v) {
	case 0:
		return ""
	case 1:
		return v[0]
	default:
		return strings.Join(v, "; ")
	}
}

// CheckCookie walks the steps from the cookie on, for a Cookie header.
func (g *Gate) CheckCookie(ctx context.Context, header string) (*Session, error) {
	if g.cfg.Cookies != nil {
		return g.checkCookieSession(ctx, header)
	}
	// 1. The cookie of the app's name.
	value, ok := connectsid.Lookup(header, g.cfg.CookieName)
	if !ok || value == "" {
		ref := refuse(StepCookie, connectsid.ErrNoCookie)
		g.trace(ctx, StepInfo{Step: StepCookie, Refusal: ref})
		return nil, ref
	}
	g.trace(ctx, StepInfo{Step: StepCookie, Value: value})
	return g.CheckValue(ctx, value)
}

// CheckValue walks the steps from the signature on, for a cookie's
// decoded value ("s:<sid>.<signature>"). With Config.Cookies a value is
// not enough (its signature is another cookie): it is refused not-signed.
func (g *Gate) CheckValue(ctx context.Context, value string) (*Session, error) {
	if g.cfg.Cookies != nil {
		return g.checkCookieSession(ctx, g.cfg.CookieName+"="+value)
	}
	// 2. The signature, with the app's secrets.
	sid, idx, err := g.cfg.Verifier.Unsign(value)
	if err != nil {
		ref := refuse(StepSignature, err)
		g.trace(ctx, StepInfo{Step: StepSignature, Refusal: ref, Value: value})
		return nil, ref
	}
	// The sid is a slice of the cookie header; a copy lets that go while
	// the session is held for a connection's life.
	sid = strings.Clone(sid)
	g.trace(ctx, StepInfo{Step: StepSignature, SID: sid, SecretIndex: idx})
	s, err := g.Recheck(ctx, sid)
	if s != nil {
		s.SecretIndex = idx
	}
	return s, err
}

// checkCookieSession is CheckCookie for sessions kept in the cookie: the
// cookie, its signature and its decoding are Config.Cookies'; the record
// and the login are judged as every store's are.
func (g *Gate) checkCookieSession(ctx context.Context, header string) (*Session, error) {
	sid, idx, sess, err := g.cfg.Cookies.FromHeader(header)
	if err != nil {
		step := StepSignature
		if errors.Is(err, connectsid.ErrNoCookie) {
			step = StepCookie
		}
		ref := refuse(step, err) // a value that is no session is the record's step
		if ref.Step == StepRecord {
			g.trace(ctx, StepInfo{Step: StepCookie})
			g.trace(ctx, StepInfo{Step: StepSignature, SecretIndex: idx})
			g.trace(ctx, StepInfo{Step: StepStore})
		} else if ref.Step == StepSignature {
			g.trace(ctx, StepInfo{Step: StepCookie})
		}
		g.trace(ctx, StepInfo{Step: ref.Step, Refusal: ref, Cause: err})
		return nil, ref
	}
	g.trace(ctx, StepInfo{Step: StepCookie})
	g.trace(ctx, StepInfo{Step: StepSignature, SID: sid, SecretIndex: idx})
	s, err := g.Judge(ctx, sid, sess, nil)
	if s != nil {
		s.SecretIndex = idx
	}
	return s, err
}

// CookieSessions reports whether the gate reads sessions kept in the cookie
// (Config.Cookies): there is no store to reload them from, nor anything to
// revoke on a server.
func (g *Gate) CookieSessions() bool { return g.cfg.Cookies != nil }

// errNoStore is Recheck's refusal when sessions are kept in the cookie.
var errNoStore = errors.New("sessions are kept in the cookie: there is no store to reload one from")

// Recheck walks the steps from the store on, for a session ID already
// verified: the doors call it to revalidate an open connection. With
// Config.Cookies there is no store: it refuses store-unavailable, which
// leaves open connections as they are.
func (g *Gate) Recheck(ctx context.Context, sid string) (*Session, error) {
	if g.cfg.Store == nil {
		return nil, refuse(StepStore, errors.Join(connectsid.ErrStoreUnavailable, errNoStore))
	}
	// 3. The record in the store, within the gate's timeout (a context
	// of its own only when the caller's ends later: a second timer that
	// cannot fire first is garbage on every handshake).
	sctx := ctx
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > g.cfg.Timeout {
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeout(ctx, g.cfg.Timeout)
		defer cancel()
	}
	sess, err := g.cfg.Store.Get(sctx, sid)
	return g.Judge(ctx, sid, sess, err)
}

// Judge walks the steps from the store on for what a store's Get returned
// for sid (sess and err), without asking the store: for stores that read
// many sessions in one round trip.
func (g *Gate) Judge(ctx context.Context, sid string, sess *connectsid.Session, err error) (*Session, error) {
	if err != nil {
		ref := refuse(StepStore, err)
		if ref.Step == StepRecord { // found, but not a session record it accepts
			g.trace(ctx, StepInfo{Step: StepStore, SID: sid})
		}
		g.trace(ctx, StepInfo{Step: ref.Step, Refusal: ref, SID: sid, Cause: err})
		return nil, ref
	}
	g.trace(ctx, StepInfo{Step: StepStore, SID: sid, Session: sess})

	// 4. A session whose cookie.expires has not passed: judged here only,
	// since stores leave it to their TTL, as Express's do.
	if !g.cfg.AcceptExpired {
		if err := sess.CheckExpiry(g.cfg.Now()); err != nil {
			ref := &Refusal{Status: http.StatusUnauthorized, Code: connectsid.CodeExpired, Step: StepRecord,
				Message: "session " + connectsid.Redact(sid) + " has expired", err: err}
			g.trace(ctx, StepInfo{Step: StepRecord, Refusal: ref, SID: sid, Session: sess})
			return nil, ref
		}
	}
	g.trace(ctx, StepInfo{Step: StepRecord, SID: sid, Session: sess})

	// 5. The login.
	var loginRaw []byte
	var ok bool
	if g.cfg.LoggedIn != nil {
		ok = g.cfg.LoggedIn(sess)
	} else {
		loginRaw, _ = g.login.Raw(sess)
		ok = Truthy(loginRaw)
	}
	if !ok {
		ref := &Refusal{Status: http.StatusUnauthorized, Code: CodeNotLoggedIn, Step: StepLogin, err: ErrNotLoggedIn,
			Message: "session " + connectsid.Redact(sid) + " is not logged in (" + g.login.name + " is not set)"}
		g.trace(ctx, StepInfo{Step: StepLogin, Refusal: ref, SID: sid, Session: sess, Raw: loginRaw})
		return nil, ref
	}
	g.trace(ctx, StepInfo{Step: StepLogin, SID: sid, Session: sess, Raw: loginRaw})

	// 6. The user, which never refuses.
	userRaw, _ := g.user.Raw(sess)
	user, hasUser := Text(userRaw)
	g.trace(ctx, StepInfo{Step: StepUser, SID: sid, Session: sess, Raw: userRaw, User: user, HasUser: hasUser})
	return &Session{ID: sid, User: user, Record: sess, SecretIndex: -1}, nil
}

// CheckOrigin applies the origin rule alone: nil when the request has no
// Origin header or its origin is allowed.
func (g *Gate) CheckOrigin(r *http.Request) *Refusal {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	// Only an origin as a browser serializes one: scheme://host[:port],
	// nothing after (a page cannot send a path, a query or a user).
	if err == nil && u.Host != "" && strings.EqualFold(origin, u.Scheme+"://"+u.Host) {
		if len(g.origins) > 0 {
			if g.origins[strings.ToLower(u.Scheme+"://"+u.Host)] {
				return nil
			}
		} else if strings.EqualFold(u.Host, r.Host) {
			return nil
		}
	}
	msg := "origin " + origin + " is not the server's own host, and no other origin is allowed"
	if len(g.origins) > 0 {
		msg = "origin " + origin + " is not one of the allowed origins"
	}
	return &Refusal{Status: http.StatusForbidden, Code: CodeBadOrigin, Step: StepOrigin, err: ErrBadOrigin, Message: msg}
}

// User returns the user of a session by the gate's rule, and whether the
// session has one.
func (g *Gate) User(sess *connectsid.Session) (string, bool) {
	raw, _ := g.user.Raw(sess)
	return Text(raw)
}

// Store returns the store the gate reads (nil with Config.Cookies).
func (g *Gate) Store() Store { return g.cfg.Store }

// Config returns the gate's configuration, defaults filled in.
func (g *Gate) Config() Config {
	c := g.cfg
	c.AllowedOrigins = append([]string(nil), c.AllowedOrigins...)
	return c
}
