// Package liveness follows the Express sessions of open connections and
// ends each connection when its session ends: logged out, expired, changed,
// or (when asked) the store unreachable. It is the one place that decides
// why a connection's session is over; every door (the WebSocket bridge,
// both Engine.IO transports) follows its sessions through a Tracker and
// says the Reason in its own terms.
//
// A Tracker learns of changes from the store's watch (Redis keyspace
// events, PostgreSQL polling), from a timer at each session's
// cookie.expires, and, while the watch cannot confirm notifications, from
// revalidating every open session each RevalidateInterval. It renews an
// active session's TTL as Express does (TouchInterval), and remembers the
// recent events so that a logout racing a handshake is not missed (Mark).
package liveness

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/internal/defaults"
)

// Reason says why a Tracker ended a session's holds. Doors tell it to
// their clients (a WebSocket close reason, a Socket.IO session-ended
// event) and to metrics as its string.
type Reason string

// The reasons a Tracker ends holds.
const (
	// LoggedOut: the record is gone from the store (destroy, logout), or
	// no longer passes the login check (passport's req.logout() saves the
	// session without passport.user first; loggedIn set false).
	LoggedOut Reason = "logged-out"
	// SessionExpired: cookie.expires passed, or the store's TTL ran out.
	SessionExpired Reason = "session-expired"
	// SessionChanged: the session is logged in as another user than the
	// one the hold was opened for (a login without regenerate in the same
	// browser), or its record is malformed.
	SessionChanged Reason = "session-changed"
	// StoreUnavailable: the store stopped answering under
	// Config.CloseOnStoreUnavailable.
	StoreUnavailable Reason = connectsid.CodeStoreUnavailable
	// ShuttingDown: the Tracker is shutting down.
	ShuttingDown Reason = auth.CodeShuttingDown
	// MaxConnectionAge: the hold was open for Config.MaxConnectionAge. The
	// session may be fine: the client reconnects, and its handshake is
	// judged again (WebSocket close 1001, as for ShuttingDown).
	MaxConnectionAge Reason = "max-connection-age"
)

// SessionEnded reports whether r means the Express session itself is over
// (LoggedOut, SessionExpired, SessionChanged): the client should log in
// again, not just reconnect.
func (r Reason) SessionEnded() bool {
	return r == LoggedOut || r == SessionExpired || r == SessionChanged
}

// ErrShuttingDown is Follow's error once Shutdown has begun.
var ErrShuttingDown = errors.New("liveness: shutting down")

// Defaults of Config's zero fields.
const (
	// DefaultRevalidateInterval is how often every open session is
	// reloaded while the store's watch cannot report changes.
	DefaultRevalidateInterval = 30 * time.Second
	// DefaultTimeout bounds one store call (a reload, a touch, a ping).
	DefaultTimeout = 5 * time.Second
	// revalidateWorkers bounds the store lookups of one revalidation
	// round, so that a round does not flood the store.
	revalidateWorkers = 8
	// storePingInterval is how often Run pings the store under
	// CloseOnStoreUnavailable: an outage ends holds within about a second
	// plus the store's own timeout.
	storePingInterval = time.Second
)

// WatchFunc reports changes to stored sessions until ctx ends:
// onEvent(sid, op) for each change, and onSync(err) after each
// (re)subscription, err non-nil when changes will not be reported and the
// Tracker must poll. redisstore.Store.Watch and pgstore.Store.Watch are
// ones.
type WatchFunc func(ctx context.Context, onEvent func(sid string, op connectsid.Op), onSync func(error)) error

// Toucher is a store that can renew a session's TTL, as express-session
// does on every request.
type Toucher interface {
	Touch(ctx context.Context, sess *connectsid.Session) error
}

// Pinger is a store that can say whether it answers.
type Pinger interface {
	Ping(ctx context.Context) error
}

// BatchGetter is a store that reads many sessions in one round trip
// (pgstore.Store is one): a revalidation round then asks it once for every
// open session. GetMany calls each with what Get would have returned for
// each sid, or fails for all of them with connectsid.ErrStoreUnavailable.
type BatchGetter interface {
	GetMany(ctx context.Context, sids []string, each func(sid string, sess *connectsid.Session, err error)) error
}

// Observer hears the watch subscribe again after losing its subscription
// (for metrics). metrics.Metrics is one.
type Observer interface {
	Resubscribed()
}

// Config configures a Tracker. Gate is required; other zero fields take
// the default named beside them.
type Config struct {
	// Gate reloads and judges a session when it may have changed; its
	// store serves the Toucher, Pinger and BatchGetter abilities.
	Gate *auth.Gate
	// Watch, when set, reports changes to stored sessions. Without it the
	// Tracker revalidates every RevalidateInterval.
	Watch WatchFunc
	// RevalidateInterval is how often open sessions are reloaded while
	// Watch is nil or cannot work (DefaultRevalidateInterval).
	RevalidateInterval time.Duration
	// TouchInterval, when positive, renews an active session's TTL at
	// most this often (the store must be a Toucher). Zero or negative:
	// never.
	TouchInterval time.Duration
	// CloseOnStoreUnavailable makes Run ping the store every second and
	// end every hold with StoreUnavailable each time a ping fails. By
	// default holds stay through a store outage.
	CloseOnStoreUnavailable bool
	// Timeout bounds one store call (DefaultTimeout).
	Timeout time.Duration
	// MaxConnectionAge, when positive, ends each hold with
	// MaxConnectionAge after at most this long (up to a tenth less, at
	// random, so that connections opened together do not all reconnect
	// together), so that clients re-authenticate: the one bound on how long
	// a connection outlives a session nothing on a server can revoke
	// (cookie-session's). Zero: never.
	MaxConnectionAge time.Duration
	// Observer, when set, hears resubscriptions.
	Observer Observer
	// Logger receives the Tracker's logs (slog.Default when nil). They
	// never hold a whole session ID.
	Logger *slog.Logger
}

// Tracker follows the sessions of open connections. It is safe for
// concurrent use; Run must run for it to see sessions end (expressbridge.New
// starts it).
type Tracker struct {
	cfg   Config
	log   *slog.Logger
	gate  *auth.Gate
	store auth.Store

	mu    sync.Mutex
	holds map[*Hold]struct{}
	bySID map[string][]*Hold
	live  map[string]*session
	// expiries and its one timer end sessions at cookie.expires.
	expiries    expiryQueue
	expiryTimer *time.Timer
	closed      bool
	bg          sync.WaitGroup // background work: touches, revalidations

	evseq  atomic.Uint64             // session events seen; written under mu
	recent [recentEvents]recentEvent // the last ones, guarded by mu

	watchState atomic.Int32 // watch…: what Run does, for Watching
	watchSyncs atomic.Int32 // subscriptions made, to count resubscriptions
	pings      pings        // the probes' store pings, coalesced (ping.go)
}

// New returns a Tracker for cfg. It fails when Gate is missing or an
// interval is negative.
func New(cfg Config) (*Tracker, error) {
	if cfg.Gate == nil {
		return nil, errors.New("liveness: Config.Gate is required")
	}
	if cfg.RevalidateInterval < 0 || cfg.Timeout < 0 || cfg.MaxConnectionAge < 0 {
		return nil, errors.New("liveness: Config.RevalidateInterval, Timeout and MaxConnectionAge must not be negative")
	}
	defaults.Set(&cfg.RevalidateInterval, DefaultRevalidateInterval)
	defaults.Set(&cfg.Timeout, DefaultTimeout)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Tracker{
		cfg:   cfg,
		log:   cfg.Logger,
		gate:  cfg.Gate,
		store: cfg.Gate.Store(),
		holds: make(map[*Hold]struct{}),
		bySID: make(map[string][]*Hold),
		live:  make(map[string]*session),
	}, nil
}

// Gate returns the gate the Tracker judges sessions with.
func (t *Tracker) Gate() *auth.Gate { return t.gate }

// Hold is one follower of a session: a connection, or an Engine.IO
// session on long-polling. Its methods are safe for concurrent use.
type Hold struct {
	t    *Tracker
	sid  string
	user string // the gate's user of the record Follow was given: whom the hold is for
	fn   func(Reason)
	// cur is the session as last loaded: Follow's record, then each
	// revalidation's that is still the hold's user's. Nil without a sid.
	cur atomic.Pointer[auth.Session]

	looked atomic.Int64 // unix nanoseconds of Active's last look at the session's touch
	aged   *time.Timer  // ends the hold at Config.MaxConnectionAge; nil without

	mu       sync.Mutex
	ended    bool
	released bool
}

// Follow starts following sess (the session ID and record a door's gate
// check returned; an empty ID follows nothing but still ends at Shutdown)
// until Release. When the session ends, end is called once, on another
// goroutine, with the reason; end must lead to Release, now or later.
// since is the Mark the door took before its gate check: a session event
// in between has the session revalidated now that it is followed. Follow
// fails with ErrShuttingDown once Shutdown has begun.
//
// The hold is for the user the record names (the gate's Config.UserField):
// when a later load of the session names another user, the hold ends with
// SessionChanged.
func (t *Tracker) Follow(sid string, sess *connectsid.Session, since Mark, end func(Reason)) (*Hold, error) {
	h := &Hold{t: t, sid: sid, fn: end}
	if sid != "" && sess != nil {
		h.user, _ = t.gate.User(sess)
		h.cur.Store(&auth.Session{ID: sid, User: h.user, Record: sess, SecretIndex: -1})
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, ErrShuttingDown
	}
	t.holds[h] = struct{}{}
	if age := t.cfg.MaxConnectionAge; age > 0 {
		age -= rand.N(age/10 + 1)
		h.aged = time.AfterFunc(age, func() { h.end(MaxConnectionAge) })
	}
	if sid != "" {
		t.bySID[sid] = append(t.bySID[sid], h)
		t.trackLocked(sid, sess)
		t.recheckIfChangedLocked(sid, since)
	}
	return h, nil
}

// Release stops following the session. Only the first call counts.
func (h *Hold) Release() {
	h.mu.Lock()
	done := h.released
	h.released, h.ended = true, true
	h.mu.Unlock()
	if done {
		return
	}
	if h.aged != nil {
		h.aged.Stop()
	}
	t := h.t
	t.mu.Lock()
	delete(t.holds, h)
	if h.sid != "" {
		t.removeLocked(h)
	}
	t.mu.Unlock()
}

// Active says the holder's client was active: the session's TTL is renewed
// as Express renews it on a request, at most each Config.TouchInterval.
// It runs on every message, so it takes the Tracker's lock only when its
// own last look is an interval old.
func (h *Hold) Active() {
	every := h.t.cfg.TouchInterval
	if h.sid == "" || every <= 0 {
		return
	}
	now := time.Now().UnixNano()
	if last := h.looked.Load(); last != 0 && now-last < int64(every) {
		return
	}
	h.looked.Store(now)
	if cur := h.cur.Load(); cur != nil {
		h.t.touchIfDue(h.sid, cur.Record)
	}
}

// Session returns the hold's session as it is now: the record Follow was
// given, then the one each revalidation loaded (every change the store
// reports is followed by one, and so is Save), as long as it is still the
// hold's user's. Nil for a hold of no session. Treat it as read-only.
func (h *Hold) Session() *auth.Session { return h.cur.Load() }

// User returns the user the hold is for ("" when the record names none).
func (h *Hold) User() string { return h.user }

// end calls the holder's end once and reports whether it was still held.
func (h *Hold) end(r Reason) bool {
	h.mu.Lock()
	was := !h.ended
	h.ended = true
	h.mu.Unlock()
	if was {
		h.fn(r)
	}
	return was
}

// removeLocked drops h from its session, and the session's state with its
// last hold. Called with t.mu held.
func (t *Tracker) removeLocked(h *Hold) {
	list := t.bySID[h.sid]
	for i, x := range list {
		if x == h {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) > 0 {
		t.bySID[h.sid] = list
		return
	}
	delete(t.bySID, h.sid)
	t.untrackLocked(h.sid)
}

// Len returns the number of sessions followed.
func (t *Tracker) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.bySID)
}

// Closed reports whether Shutdown has begun.
func (t *Tracker) Closed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

// End ends every hold of sid with reason and returns how many there were.
func (t *Tracker) End(sid string, reason Reason) int {
	t.mu.Lock()
	hs := append([]*Hold(nil), t.bySID[sid]...)
	t.mu.Unlock()
	return endHolds(hs, reason)
}

// EndAll ends every hold with reason and returns how many there were.
func (t *Tracker) EndAll(reason Reason) int {
	t.mu.Lock()
	hs := make([]*Hold, 0, len(t.holds))
	for h := range t.holds {
		hs = append(hs, h)
	}
	t.mu.Unlock()
	return endHolds(hs, reason)
}

func endHolds(hs []*Hold, reason Reason) int {
	n := 0
	for _, h := range hs {
		if h.end(reason) {
			n++
		}
	}
	return n
}

// Shutdown refuses new holds, ends every hold with ShuttingDown, and waits
// for the Tracker's background work (reloads, touches) or ctx.
func (t *Tracker) Shutdown(ctx context.Context) error {
	t.mu.Lock()
	t.closed = true
	if t.expiryTimer != nil {
		t.expiryTimer.Stop()
	}
	t.mu.Unlock()
	t.EndAll(ShuttingDown)
	done := make(chan struct{})
	go func() { t.bg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// background runs f in a goroutine that Shutdown waits for, unless the
// Tracker is already shut down.
func (t *Tracker) background(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.backgroundLocked(f)
}

func (t *Tracker) backgroundLocked(f func()) {
	if t.closed {
		return
	}
	t.bg.Add(1)
	go func() {
		defer t.bg.Done()
		f()
	}()
}
