// Package storetest is the contract every session store of expressbridge
// passes: redisstore, pgstore and any store after them run Run from a test
// of their own. The suite drives the store against its real backend and the
// real Express app (node-app) on the matching connect-* store, and checks
// what the bridge relies on: records cross between Node and Go both ways
// byte for byte, TTLs and expiry as the connect-* store keeps them, touch,
// destroy, the change events of Watch that revoke connections, a backend
// that goes down (ErrStoreUnavailable, the gate's 503) and comes back, and,
// for a store that is a liveness.Updater, Update's read-modify-write.
//
// Whether a record past cookie.expires is accepted is not the store's: it
// returns such a record while its backend holds it, and the gate decides
// (auth.Config.AcceptExpired). The suite checks both halves.
//
// A store's test gives Run a Harness: how to start its backend, point the
// Node app at it, and reach into it (read a record, move its TTL, kill and
// restart it). redisstore's, pgstore's, mysqlstore's and knexstore's
// conformance_test.go are the ones there are (mysqlstore's and knexstore's are
// Polled: their databases report no changes).
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/internal/testenv"
	"github.com/expressbridge/expressbridge/liveness"
)

// Store is what the suite drives: the methods redisstore.Store and
// pgstore.Store share.
type Store interface {
	Get(ctx context.Context, sid string) (*connectsid.Session, error)
	Set(ctx context.Context, sess *connectsid.Session) error
	Touch(ctx context.Context, sess *connectsid.Session) error
	Destroy(ctx context.Context, sid string) error
	TTL(ctx context.Context, sid string) (time.Duration, error)
	Ping(ctx context.Context) error
	Watch(ctx context.Context, onEvent func(sid string, op connectsid.Op), onSync func(error)) error
}

// Harness is what a store gives the suite.
type Harness struct {
	// Flavors are the Express configurations (ExpressFlavor, StoreFlavor)
	// whose records the store must read and write alike; the first serves
	// the subtests that need only one. At least one.
	Flavors []Flavor
	// Start starts a fresh, empty backend for one test, stopped at the
	// test's cleanup, with a store on it.
	Start func(t *testing.T, opts Options) *Backend
	// Timeout is the store's bound on one call (its DefaultTimeout): with
	// the backend down every call must fail within it, give or take 500 ms.
	Timeout time.Duration
	// Polled says the backend reports no changes (MariaDB, MySQL): the
	// store's Watch calls onSync once with an error and waits, and the
	// store is a liveness.BatchGetter. The suite then checks revocation
	// as the bridge does it there: a liveness.Tracker revalidating every
	// open session each PollInterval with one GetMany.
	Polled bool
	// FixedTTL, when set, is the TTL of records without cookie.expires for
	// a connect-* store that has no ttl option (connect-session-knex's one
	// day): the suite expects it instead of the Options.TTL it asks for.
	FixedTTL time.Duration
	// Resolution is how much of an expiry the store's backend cuts off
	// (connect-session-knex on MySQL keeps whole seconds, the rest cut):
	// a TTL may be up to that much short.
	Resolution time.Duration
}

// PollInterval is the revalidation interval of the suite's Tracker on a
// Polled store.
const PollInterval = 250 * time.Millisecond

// Flavor is one Express configuration of the matching connect-* store.
type Flavor struct {
	Name string
	App  testenv.NodeAppConfig
}

// Options are what a subtest needs of Harness.Start.
type Options struct {
	// TTL is the store's TTL for records without cookie.expires (its
	// default when zero); the suite gives the Node app the same.
	TTL time.Duration
	// Own asks for a backend of the test's alone: Kill and Restart will
	// be called.
	Own bool
}

// Backend is one started backend, its store and the hooks the suite needs.
// Every field is required.
type Backend struct {
	// Store is a store on the backend, with Options.TTL; its calls are
	// bounded by Harness.Timeout.
	Store Store
	// App returns cfg pointed at the backend as the store sees it (the
	// URL, the prefix or table), for testenv.StartNodeApp.
	App func(cfg testenv.NodeAppConfig) testenv.NodeAppConfig
	// Record returns the record's text as the backend holds it, and false
	// when it holds none for sid.
	Record func(t testing.TB, sid string) (string, bool)
	// Keep sets how long the backend keeps sid's record to d from now
	// without changing the record, as a rolling app's touch does; d ≤ 0
	// ends the record's TTL now.
	Keep func(t testing.TB, sid string, d time.Duration)
	// Expire ends sid's record as the backend's own expiry does (Redis's
	// TTL, connect-pg-simple's pruning of a row past its expire), so that
	// Watch reports connectsid.OpExpired.
	Expire func(t testing.TB, sid string)
	// EnableWatch prepares the backend so that Store.Watch reports every
	// change (PostgreSQL's trigger); a no-op where Watch needs nothing.
	EnableWatch func(t testing.TB)
	// Kill stops the backend as a crash does; Restart starts it again on
	// the same address. Only with Options.Own.
	Kill, Restart func(t testing.TB)
}

const (
	secret   = "store conformance secret ✓"
	user     = "Zoë 🚀"
	maxAge   = time.Hour // node-app's default cookie maxAge
	eventMax = 5 * time.Second
	// slack covers the milliseconds that clocks and ceil-to-seconds
	// arithmetic lose between Node, Go and the backend.
	slack = 50 * time.Millisecond
)

// Run runs the suite against the store h describes. Each subtest starts its
// own backend and Node app and runs in parallel with the others.
func Run(t *testing.T, h Harness) {
	if len(h.Flavors) == 0 || h.Start == nil || h.Timeout <= 0 {
		t.Fatal("storetest: Harness needs Flavors, Start and Timeout")
	}
	t.Run("cross-language", func(t *testing.T) { t.Parallel(); crossLanguage(t, h) })
	t.Run("touch", func(t *testing.T) { t.Parallel(); touch(t, h) })
	t.Run("destroy", func(t *testing.T) { t.Parallel(); destroy(t, h) })
	t.Run("browser-session-ttl", func(t *testing.T) { t.Parallel(); browserSessionTTL(t, h) })
	t.Run("expiry", func(t *testing.T) { t.Parallel(); expiry(t, h) })
	t.Run("revocation", func(t *testing.T) { t.Parallel(); revocation(t, h) })
	t.Run("store-down-and-back", func(t *testing.T) { t.Parallel(); downAndBack(t, h) })
	t.Run("update", func(t *testing.T) { t.Parallel(); update(t, h) })
}

// rig is a backend, the Express app on it, and a verifier of its cookies.
type rig struct {
	*Backend
	app *testenv.NodeApp
	ver *connectsid.Verifier
}

func start(t *testing.T, h Harness, fl Flavor, opts Options, app testenv.NodeAppConfig) *rig {
	t.Helper()
	b := h.Start(t, opts)
	cfg := fl.App
	cfg.BrowserSessionCookie, cfg.MaxAgeMS, cfg.TTL = app.BrowserSessionCookie, app.MaxAgeMS, int(opts.TTL/time.Second)
	cfg.Secrets = []string{secret}
	ver, err := connectsid.NewVerifier(secret)
	if err != nil {
		t.Fatal(err)
	}
	return &rig{Backend: b, app: testenv.StartNodeApp(t, b.App(cfg)), ver: ver}
}

// login logs in through Express and returns the cookie and the sid Go reads
// from it.
func (g *rig) login(t *testing.T, name string) (cookie, sid string) {
	t.Helper()
	cookie = g.app.Login(context.Background(), t, name)
	sid, _, err := g.ver.FromHeader(cookie, auth.DefaultCookieName)
	if err != nil {
		t.Fatalf("Go cannot read the cookie Express set (%s): %v", connectsid.ErrorCode(err), err)
	}
	return cookie, sid
}

// get is Store.Get that must succeed.
func (g *rig) get(t *testing.T, sid string) *connectsid.Session {
	t.Helper()
	sess, err := g.Store.Get(context.Background(), sid)
	if err != nil {
		t.Fatalf("Get %s: %v", connectsid.Redact(sid), err)
	}
	return sess
}

// gate returns a gate on the store with the default login rule.
func (g *rig) gate(t *testing.T, acceptExpired bool) *auth.Gate {
	t.Helper()
	gate, err := auth.New(auth.Config{Verifier: g.ver, Store: g.Store, AcceptExpired: acceptExpired})
	if err != nil {
		t.Fatal(err)
	}
	return gate
}

// check runs the gate on cookie and returns the status it answers and the
// refusal's code ("" when accepted).
func check(gate *auth.Gate, cookie string) (status int, code string) {
	if _, err := gate.CheckCookie(context.Background(), cookie); err != nil {
		ref := auth.AsRefusal(err)
		return ref.Status, ref.Code
	}
	return http.StatusOK, ""
}

// ended reports whether err says the backend no longer serves the record:
// ErrNoSession, or ErrExpired for a store that tells the two apart.
func ended(err error) bool {
	return errors.Is(err, connectsid.ErrNoSession) || errors.Is(err, connectsid.ErrExpired)
}

// within fails unless d lies in [lo, hi].
func within(t *testing.T, what string, d, lo, hi time.Duration) {
	t.Helper()
	if d < lo || d > hi {
		t.Errorf("%s = %v, want one in [%v, %v]", what, d, lo, hi)
	}
}

func decodeJSON(t *testing.T, data []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %.200s: %v", data, err)
	}
	return v
}

// Values of a record that depend on the clock: expires, and originalMaxAge,
// which express-session computes as expires - Date.now() (3599999 at times).
var (
	expiresRE = regexp.MustCompile(`"expires":"[^"]*"`)
	maxAgeRE  = regexp.MustCompile(`"originalMaxAge":\d+`)
)

// crossLanguage: in every flavor, Express writes every kind of value and Go
// reads each exactly; Go writes, and Express reads what Go wrote with the
// rest intact; the record's form is the same in every flavor.
func crossLanguage(t *testing.T, h Harness) {
	var (
		mu    sync.Mutex
		forms = map[string]string{}
	)
	t.Run("flavors", func(t *testing.T) {
		for _, fl := range h.Flavors {
			t.Run(fl.Name, func(t *testing.T) {
				t.Parallel()
				form := crossFlavor(t, h, fl)
				mu.Lock()
				forms[fl.Name] = form
				mu.Unlock()
			})
		}
	})
	var first string
	for name, form := range forms {
		if first == "" {
			first = form
		} else if form != first {
			t.Errorf("record form of %s differs:\n%s\n%s", name, form, first)
		}
	}
	t.Logf("record form in every flavor: %s", first)
}

func crossFlavor(t *testing.T, h Harness, fl Flavor) (form string) {
	g := start(t, h, fl, Options{}, testenv.NodeAppConfig{})
	ctx := context.Background()
	cookie, sid := g.login(t, user)
	raw, ok := g.Record(t, sid)
	if !ok {
		t.Fatal("the backend holds no record after Express's login")
	}
	form = maxAgeRE.ReplaceAllString(expiresRE.ReplaceAllString(raw, `"expires":"…"`), `"originalMaxAge":N`)

	// 1. Node writes, Go reads: every kind of value, exactly.
	status, body := g.app.PostJSON(ctx, t, "/test/fixture", cookie, map[string]any{})
	if status != http.StatusOK {
		t.Fatalf("/test/fixture: %d %s", status, body)
	}
	want := decodeJSON(t, body).(map[string]any)
	sess := g.get(t, sid)
	for key, w := range want {
		if key == "cookie" {
			continue
		}
		got, ok := sess.Raw(key)
		if !ok {
			t.Errorf("field %q missing in Go", key)
			continue
		}
		if g := decodeJSON(t, got); !reflect.DeepEqual(g, w) {
			t.Errorf("field %q: Go read %.100v, Express stored %.100v", key, g, w)
		}
	}
	if len(sess.Keys()) != len(want)-1 {
		t.Errorf("Go sees fields %v, Express stored %d", sess.Keys(), len(want)-1)
	}
	if name, _ := sess.String("username"); name != user {
		t.Errorf("username = %q, want %q", name, user)
	}
	if stored, _ := g.Record(t, sid); string(sess.Encode()) != stored {
		t.Error("Go's encoding of an unchanged record differs from what Express stored")
	}

	// 2. Go writes, Node reads: a changed field and a new one, the rest
	// intact, with the TTL the connect-* store would give: ceil(expires -
	// now) to the second, now being some time in [before, after].
	if err := sess.Set("visits", 42); err != nil {
		t.Fatal(err)
	}
	if err := sess.Set("username", "Ada"); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	if err := g.Store.Set(ctx, sess); err != nil {
		t.Fatal(err)
	}
	ttl, err := g.Store.TTL(ctx, sid)
	after := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	// express-mysql-session rounds to the nearest second: up to half a
	// second less.
	expires := *sess.Cookie().Expires
	within(t, "TTL after Go's Set", ttl, expires.Sub(after)-h.Resolution-slack, expires.Sub(before)+time.Second+slack)
	if stored, _ := g.Record(t, sid); stored != string(sess.Encode()) {
		t.Error("the backend does not hold the record Go set as Go encoded it")
	}
	who := g.app.WhoAmI(ctx, t, cookie)
	if !who.LoggedIn || who.Username == nil || *who.Username != "Ada" {
		t.Fatalf("Express after Go's Set: %+v", who)
	}
	var seen map[string]any
	if err := json.Unmarshal(who.Session, &seen); err != nil {
		t.Fatal(err)
	}
	if big, _ := seen["big"].(string); seen["visits"] != float64(42) || seen["profile"] == nil || len(big) != 100000 {
		t.Errorf("Express does not see Go's change or lost a field: visits=%v", seen["visits"])
	}
	// Express touched the session on that request; its record still
	// decodes in Go.
	g.get(t, sid)
	return form
}

// touch: Express's touch and Go's renew the TTL to the cookie's maxAge
// without rewriting the record, and Express accepts the session after Go's.
func touch(t *testing.T, h Harness) {
	g := start(t, h, h.Flavors[0], Options{}, testenv.NodeAppConfig{})
	ctx := context.Background()
	cookie, sid := g.login(t, user)
	lo, hi := maxAge-time.Second-slack, maxAge+time.Second+slack

	g.Keep(t, sid, 100*time.Second)
	if !g.app.WhoAmI(ctx, t, cookie).LoggedIn {
		t.Fatal("Express refuses its own session")
	}
	ttl, err := g.Store.TTL(ctx, sid)
	if err != nil {
		t.Fatal(err)
	}
	within(t, "TTL after Express's touch", ttl, lo, hi)

	sess := g.get(t, sid)
	g.Keep(t, sid, 100*time.Second)
	rec, _ := g.Record(t, sid)
	if err := g.Store.Touch(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if ttl, err = g.Store.TTL(ctx, sid); err != nil {
		t.Fatal(err)
	}
	within(t, "TTL after Go's Touch", ttl, lo, hi)
	if after, _ := g.Record(t, sid); after != rec {
		t.Error("Go's Touch rewrote the record")
	}
	if !g.app.WhoAmI(ctx, t, cookie).LoggedIn {
		t.Error("Express refuses the session after Go's touch")
	}

	if err := g.Store.Destroy(ctx, sid); err != nil {
		t.Fatal(err)
	}
	if err := g.Store.Touch(ctx, sess); !errors.Is(err, connectsid.ErrNoSession) {
		t.Errorf("Touch of a destroyed session = %v, want ErrNoSession", err)
	}
}

// destroy: Go's Destroy logs the user out of Express, Express's logout is no
// session to Go and to the gate.
func destroy(t *testing.T, h Harness) {
	g := start(t, h, h.Flavors[0], Options{}, testenv.NodeAppConfig{})
	ctx := context.Background()
	gate := g.gate(t, false)
	cookie, sid := g.login(t, user)
	if status, code := check(gate, cookie); status != http.StatusOK {
		t.Fatalf("gate on Express's session: %d %s", status, code)
	}
	if err := g.Store.Destroy(ctx, sid); err != nil {
		t.Fatal(err)
	}
	if _, ok := g.Record(t, sid); ok {
		t.Error("the backend still holds the record after Go's Destroy")
	}
	if g.app.WhoAmI(ctx, t, cookie).LoggedIn {
		t.Error("Express still logged in after Go's Destroy")
	}
	if err := g.Store.Destroy(ctx, sid); err != nil {
		t.Errorf("Destroy of a missing session = %v, want nil", err)
	}

	cookie, sid = g.login(t, "Bob")
	g.get(t, sid)
	g.app.Logout(ctx, t, cookie)
	if _, err := g.Store.Get(ctx, sid); !errors.Is(err, connectsid.ErrNoSession) {
		t.Errorf("Get after Express's logout = %v, want ErrNoSession", err)
	}
	if status, code := check(gate, cookie); status != http.StatusUnauthorized || code != connectsid.CodeNoSession {
		t.Errorf("gate after Express's logout: %d %s, want 401 %s", status, code, connectsid.CodeNoSession)
	}
}

// browserSessionTTL: a cookie without expiry lives for the store's TTL, on
// Node's side and on Go's.
func browserSessionTTL(t *testing.T, h Harness) {
	ttl := 600 * time.Second
	g := start(t, h, h.Flavors[0], Options{TTL: ttl}, testenv.NodeAppConfig{BrowserSessionCookie: true})
	if h.FixedTTL > 0 {
		ttl = h.FixedTTL
	}
	ctx := context.Background()
	cookie, sid := g.login(t, user)
	sess := g.get(t, sid)
	if c := sess.Cookie(); c.Expires != nil || c.OriginalMaxAge != nil {
		t.Fatalf("browser-session cookie read as %+v", c)
	}
	got, err := g.Store.TTL(ctx, sid)
	if err != nil {
		t.Fatal(err)
	}
	within(t, "TTL of Express's record", got, ttl-time.Second-slack, ttl+time.Second+slack)
	if err := sess.Set("n", 1); err != nil {
		t.Fatal(err)
	}
	if err := g.Store.Set(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if got, err = g.Store.TTL(ctx, sid); err != nil {
		t.Fatal(err)
	}
	within(t, "TTL of Go's record", got, ttl-time.Second-slack, ttl+time.Second+slack)
	if !g.app.WhoAmI(ctx, t, cookie).LoggedIn {
		t.Error("Express refuses the session Go saved")
	}
}

// expiry: a record whose cookie.expires has passed while the backend still
// holds it (a rolling app's touch) is returned by the store, refused by the
// gate by default and accepted with AcceptExpired, as Express accepts it.
// A record the backend itself has expired is refused either way.
func expiry(t *testing.T, h Harness) {
	g := start(t, h, h.Flavors[0], Options{}, testenv.NodeAppConfig{MaxAgeMS: 1500})
	ctx := context.Background()
	strict, lenient := g.gate(t, false), g.gate(t, true)

	// 1. Past cookie.expires, held by the backend.
	cookie, sid := g.login(t, user)
	g.Keep(t, sid, time.Hour)
	exp := g.get(t, sid).Cookie().Expires
	if exp == nil {
		t.Fatal("the record has no cookie.expires")
	}
	time.Sleep(time.Until(*exp) + slack)
	sess, err := g.Store.Get(ctx, sid)
	if err != nil {
		t.Fatalf("Get of a record past cookie.expires that the backend holds = %v; the store must return it (expiry by cookie.expires is the gate's)", err)
	}
	if !sess.Expired(time.Now()) {
		t.Fatalf("cookie.expires %v has not passed", sess.Cookie().Expires)
	}
	if status, code := check(strict, cookie); status != http.StatusUnauthorized || code != connectsid.CodeExpired {
		t.Errorf("gate without AcceptExpired: %d %q, want 401 %s", status, code, connectsid.CodeExpired)
	}
	if status, code := check(lenient, cookie); status != http.StatusOK {
		t.Errorf("gate with AcceptExpired: %d %s, want the session accepted", status, code)
	}
	if who := g.app.WhoAmI(ctx, t, cookie); !who.LoggedIn {
		t.Error("Express refuses a session past cookie.expires that its store holds; AcceptExpired claims to do as Express does")
	}

	// 2. Go's Set of a session past cookie.expires: the connect-* store
	// ends it (connect-redis deletes the key, connect-pg-simple writes an
	// expire in the past), once a second has passed: both count in whole
	// seconds, rounding up.
	time.Sleep(time.Until(exp.Add(time.Second + slack)))
	if err := g.Store.Set(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Store.Get(ctx, sid); !ended(err) {
		t.Errorf("Get after Go's Set of an expired session = %v, want ErrNoSession or ErrExpired", err)
	}

	// 3. The backend's TTL ends: refused even with AcceptExpired, and by
	// Express.
	cookie, sid = g.login(t, "Bob")
	g.Keep(t, sid, -time.Second)
	if _, err := g.Store.Get(ctx, sid); !ended(err) {
		t.Errorf("Get after the backend's TTL ended = %v, want ErrNoSession or ErrExpired", err)
	}
	if status, code := check(lenient, cookie); status != http.StatusUnauthorized {
		t.Errorf("gate with AcceptExpired on a record the backend expired: %d %s, want 401", status, code)
	}
	if g.app.WhoAmI(ctx, t, cookie).LoggedIn {
		t.Error("Express accepts a session whose TTL ended")
	}
}

// recorder collects what Watch reports.
type recorder struct {
	mu     sync.Mutex
	events []string // "op sid"
	syncs  []error
}

func (r *recorder) event(sid string, op connectsid.Op) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, string(op)+" "+sid)
}

func (r *recorder) sync(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.syncs = append(r.syncs, err)
}

// mark returns how many events have arrived, for waitEvent's from.
func (r *recorder) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// waitEvent waits for the event (op, sid) among those after the first from.
func (r *recorder) waitEvent(t *testing.T, from int, op connectsid.Op, sid string) {
	t.Helper()
	want := string(op) + " " + sid
	testenv.WaitFor(t, eventMax, string(op)+" of "+connectsid.Redact(sid), func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, e := range r.events[min(from, len(r.events)):] {
			if e == want {
				return true
			}
		}
		return false
	})
}

// okSyncs counts the onSync(nil) calls so far.
func (r *recorder) okSyncs() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	ok := 0
	for _, err := range r.syncs {
		if err == nil {
			ok++
		}
	}
	return ok
}

// waitSyncs waits until onSync(nil) has been called n times.
func (r *recorder) waitSyncs(t *testing.T, timeout time.Duration, n int) {
	t.Helper()
	testenv.WaitFor(t, timeout, "onSync(nil)", func() bool { return r.okSyncs() >= n })
}

// watch runs Store.Watch until the test ends.
func (g *rig) watch(t *testing.T) *recorder {
	t.Helper()
	g.EnableWatch(t)
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = g.Store.Watch(ctx, rec.event, rec.sync) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(eventMax):
			t.Error("Watch did not return within 5 s of its context's end")
		}
	})
	rec.waitSyncs(t, eventMax, 1)
	return rec
}

// revocation: Watch reports what ends or changes a session, whoever did it:
// Express's login and Go's Set (set), Express's logout and Go's Destroy
// (del), the backend's expiry (expired).
func revocation(t *testing.T, h Harness) {
	if h.Polled {
		revocationPolled(t, h)
		return
	}
	g := start(t, h, h.Flavors[0], Options{}, testenv.NodeAppConfig{})
	ctx := context.Background()
	rec := g.watch(t)

	from := rec.mark()
	cookie, sid := g.login(t, user)
	rec.waitEvent(t, from, connectsid.OpSet, sid)
	from = rec.mark()
	g.app.Logout(ctx, t, cookie)
	rec.waitEvent(t, from, connectsid.OpDel, sid)

	_, sid = g.login(t, "Bob")
	sess := g.get(t, sid)
	if err := sess.Set("role", "admin"); err != nil {
		t.Fatal(err)
	}
	from = rec.mark()
	if err := g.Store.Set(ctx, sess); err != nil {
		t.Fatal(err)
	}
	rec.waitEvent(t, from, connectsid.OpSet, sid)
	from = rec.mark()
	if err := g.Store.Destroy(ctx, sid); err != nil {
		t.Fatal(err)
	}
	rec.waitEvent(t, from, connectsid.OpDel, sid)

	_, sid = g.login(t, "Cy")
	from = rec.mark()
	g.Expire(t, sid)
	rec.waitEvent(t, from, connectsid.OpExpired, sid)
	if _, err := g.Store.Get(ctx, sid); !errors.Is(err, connectsid.ErrNoSession) {
		t.Errorf("Get after the backend expired the record = %v, want ErrNoSession", err)
	}
}

// downAndBack: with the backend down every call fails with
// ErrStoreUnavailable within the store's timeout and the gate answers 503;
// once it is back the store and the gate serve again, and Watch syncs and
// reports again by itself.
func downAndBack(t *testing.T, h Harness) {
	b := h.Start(t, Options{Own: true})
	ver, err := connectsid.NewVerifier(secret)
	if err != nil {
		t.Fatal(err)
	}
	g := &rig{Backend: b, ver: ver}
	ctx := context.Background()
	gate := g.gate(t, false)
	var rec *recorder
	if !h.Polled {
		rec = g.watch(t)
	}
	sess := goSession(t, "down-and-back-sid-0123456789abcdef")
	cookie := auth.DefaultCookieName + "=" + ver.Sign(sess.ID())
	if err := g.Store.Set(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if status, code := check(gate, cookie); status != http.StatusOK {
		t.Fatalf("gate on Go's session: %d %s", status, code)
	}

	g.Kill(t)
	for _, c := range []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, err := g.Store.Get(ctx, sess.ID()); return err }},
		{"Set", func() error { return g.Store.Set(ctx, sess) }},
		{"Touch", func() error { return g.Store.Touch(ctx, sess) }},
		{"Destroy", func() error { return g.Store.Destroy(ctx, "x") }},
		{"TTL", func() error { _, err := g.Store.TTL(ctx, sess.ID()); return err }},
		{"Ping", func() error { return g.Store.Ping(ctx) }},
	} {
		begin := time.Now()
		err := c.call()
		if !errors.Is(err, connectsid.ErrStoreUnavailable) {
			t.Errorf("%s with the backend down = %v, want ErrStoreUnavailable", c.name, err)
		}
		if d := time.Since(begin); d > h.Timeout+500*time.Millisecond {
			t.Errorf("%s: a dead backend held the caller for %v", c.name, d)
		}
	}
	if status, code := check(gate, cookie); status != http.StatusServiceUnavailable || code != connectsid.CodeStoreUnavailable {
		t.Errorf("gate with the backend down: %d %s, want 503 %s", status, code, connectsid.CodeStoreUnavailable)
	}

	if h.Polled {
		bg := g.Store.(liveness.BatchGetter)
		if err := bg.GetMany(ctx, []string{sess.ID()}, func(string, *connectsid.Session, error) {}); !errors.Is(err, connectsid.ErrStoreUnavailable) {
			t.Errorf("GetMany with the backend down = %v, want ErrStoreUnavailable", err)
		}
		g.Restart(t)
		if err := g.Store.Set(ctx, sess); err != nil {
			t.Fatal(err)
		}
		if status, code := check(gate, cookie); status != http.StatusOK {
			t.Errorf("gate once the backend is back: %d %s, want the session accepted", status, code)
		}
		var got error = errors.New("not called")
		if err := bg.GetMany(ctx, []string{sess.ID()}, func(_ string, _ *connectsid.Session, err error) { got = err }); err != nil || got != nil {
			t.Errorf("GetMany once the backend is back = %v, session %v; want the session", err, got)
		}
		return
	}
	synced := rec.okSyncs()
	g.Restart(t)
	if _, err := g.Store.Get(ctx, sess.ID()); err != nil && !errors.Is(err, connectsid.ErrNoSession) {
		t.Fatalf("first Get after the backend came back = %v, want the session or ErrNoSession", err)
	}
	if err := g.Store.Set(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if status, code := check(gate, cookie); status != http.StatusOK {
		t.Errorf("gate once the backend is back: %d %s, want the session accepted", status, code)
	}
	rec.waitSyncs(t, 15*time.Second, synced+1)
	from := rec.mark()
	if err := g.Store.Destroy(ctx, sess.ID()); err != nil {
		t.Fatal(err)
	}
	rec.waitEvent(t, from, connectsid.OpDel, sess.ID())
}

// goSession is a logged-in session written by Go, its cookie expiring in
// maxAge, as express-session would write it.
func goSession(t *testing.T, sid string) *connectsid.Session {
	t.Helper()
	exp := connectsid.ISOString(time.Now().Add(maxAge))
	sess, err := connectsid.DecodeSession(sid, `{"cookie":{"originalMaxAge":3600000,"expires":"`+exp+
		`","httpOnly":true,"path":"/"},"loggedIn":true,"username":"`+user+`"}`)
	if err != nil {
		t.Fatal(err)
	}
	return sess
}

// revocationPolled: on a Polled store, Watch says it reports nothing, and
// a Tracker polling with GetMany ends a followed session when Express logs
// out (logged-out), Go destroys it (logged-out), Go writes a record that no
// longer passes the login check (logged-out: passport's logout), and the
// backend's expires passes (session-expired), each within a few poll
// intervals.
func revocationPolled(t *testing.T, h Harness) {
	g := start(t, h, h.Flavors[0], Options{}, testenv.NodeAppConfig{})
	ctx := context.Background()
	if _, ok := g.Store.(liveness.BatchGetter); !ok {
		t.Fatal("a Polled store must be a liveness.BatchGetter (GetMany)")
	}
	// 1. Watch reports that it cannot watch, and returns at its end.
	wctx, wcancel := context.WithCancel(ctx)
	synced := make(chan error, 1)
	done := make(chan error, 1)
	go func() {
		done <- g.Store.Watch(wctx, func(string, connectsid.Op) { t.Error("a Polled store's Watch reported an event") },
			func(err error) { synced <- err })
	}()
	select {
	case err := <-synced:
		if err == nil {
			t.Error("a Polled store's Watch called onSync(nil): it claims to report changes")
		}
	case <-time.After(eventMax):
		t.Fatal("Watch did not call onSync")
	}
	wcancel()
	select {
	case <-done:
	case <-time.After(eventMax):
		t.Error("Watch did not return within 5 s of its context's end")
	}

	// 2. A Tracker polling the store.
	gate := g.gate(t, false)
	tr, err := liveness.New(liveness.Config{Gate: gate, RevalidateInterval: PollInterval})
	if err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() { defer close(ran); _ = tr.Run(rctx) }()
	t.Cleanup(func() { rcancel(); <-ran })
	follow := func(t *testing.T, cookie string) <-chan liveness.Reason {
		t.Helper()
		mark := tr.Mark()
		sess, err := gate.CheckCookie(ctx, cookie)
		if err != nil {
			t.Fatalf("gate on Express's session: %v", err)
		}
		ended := make(chan liveness.Reason, 1)
		hold, err := tr.Follow(sess.ID, sess.Record, mark, func(r liveness.Reason) { ended <- r })
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(hold.Release)
		return ended
	}
	ends := func(t *testing.T, what string, ended <-chan liveness.Reason, change func(), want liveness.Reason) {
		t.Helper()
		begin := time.Now()
		change()
		select {
		case r := <-ended:
			if r != want {
				t.Errorf("%s ended the session with %s, want %s", what, r, want)
			}
			t.Logf("%s seen in %v (polling every %v)", what, time.Since(begin).Round(time.Millisecond), PollInterval)
		case <-time.After(eventMax + 4*PollInterval):
			t.Errorf("%s: the session was not ended by polling", what)
		}
	}

	cookie, _ := g.login(t, user)
	ends(t, "Express's logout", follow(t, cookie), func() { g.app.Logout(ctx, t, cookie) }, liveness.LoggedOut)

	cookie, sid := g.login(t, "Bob")
	ends(t, "Go's Destroy", follow(t, cookie), func() {
		if err := g.Store.Destroy(ctx, sid); err != nil {
			t.Fatal(err)
		}
	}, liveness.LoggedOut)

	cookie, sid = g.login(t, "Cy")
	ended := follow(t, cookie)
	ends(t, "Go's Set of a logged-out record", ended, func() {
		sess := g.get(t, sid)
		if err := sess.Set(auth.DefaultLoginField, false); err != nil {
			t.Fatal(err)
		}
		if err := g.Store.Set(ctx, sess); err != nil {
			t.Fatal(err)
		}
	}, liveness.LoggedOut) // no longer logged in: logged-out (the identity rule, liveness.ReasonFor)

	cookie, sid = g.login(t, "Di")
	ends(t, "the backend's expiry", follow(t, cookie), func() { g.Keep(t, sid, -time.Second) }, liveness.SessionExpired)
}

// Update's load: updaters goroutines each count updatesEach times.
const (
	updaters    = 8
	updatesEach = 5
)

// update, on a store that is a liveness.Updater: Go's Update is what
// Express reads on its next request, with every field it did not change
// written back byte for byte; a write by Express between Update's read
// and its write is kept (Update reads again); Update of a destroyed
// session, or of one destroyed during fn, is ErrNoSession and creates
// nothing; fn's error comes back as it is with nothing written; and
// concurrent Updates of one counter lose no increment.
func update(t *testing.T, h Harness) {
	g := start(t, h, h.Flavors[0], Options{}, testenv.NodeAppConfig{})
	up, ok := g.Store.(liveness.Updater)
	if !ok {
		t.Skip("the store is not a liveness.Updater: it cannot save sessions from Go")
	}
	ctx := context.Background()
	cookie, sid := g.login(t, user)
	if status, body := g.app.PostJSON(ctx, t, "/test/fixture", cookie, map[string]any{}); status != http.StatusOK {
		t.Fatalf("/test/fixture: %d %s", status, body)
	}

	// 1. Go's Update, read by Express; the rest byte for byte.
	before, _ := g.Record(t, sid)
	want, err := connectsid.DecodeSession(sid, before)
	if err != nil {
		t.Fatal(err)
	}
	if err := want.Set("visits", 7); err != nil {
		t.Fatal(err)
	}
	got, err := up.Update(ctx, sid, func(sess *connectsid.Session) error { return sess.Set("visits", 7) })
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	stored, _ := g.Record(t, sid)
	if stored != string(want.Encode()) {
		t.Errorf("Update changed more than its field:\nstored %.300s\nwant   %.300s", stored, want.Encode())
	}
	if stored != string(got.Encode()) {
		t.Error("Update's session is not the record it wrote")
	}
	who := g.app.WhoAmI(ctx, t, cookie)
	var seen map[string]any
	if err := json.Unmarshal(who.Session, &seen); err != nil {
		t.Fatal(err)
	}
	if big, _ := seen["big"].(string); !who.LoggedIn || seen["visits"] != float64(7) || seen["profile"] == nil || len(big) != 100000 {
		t.Errorf("Express after Go's Update: loggedIn=%v visits=%v, or a field lost", who.LoggedIn, seen["visits"])
	}

	// 2. Express writes between Update's read and its write: Update reads
	// again, and both changes are kept.
	calls := 0
	if _, err := up.Update(ctx, sid, func(sess *connectsid.Session) error {
		calls++
		if calls == 1 {
			if status, body := g.app.PostJSON(ctx, t, "/test/set", cookie, map[string]any{"theme": "dark"}); status != http.StatusOK {
				t.Fatalf("/test/set: %d %s", status, body)
			}
		}
		return sess.Set("fromGo", true)
	}); err != nil {
		t.Fatalf("Update racing Express: %v", err)
	}
	if calls < 2 {
		t.Errorf("fn ran %d time(s): Update wrote over Express's write without reading it", calls)
	}
	sess := g.get(t, sid)
	if theme, _ := sess.String("theme"); theme != "dark" {
		t.Errorf("Express's write during Update was lost: theme = %q", theme)
	}
	if raw, _ := sess.Raw("fromGo"); string(raw) != "true" {
		t.Errorf("Go's change after the retry = %s, want true", raw)
	}

	// 3. fn's error, as it is, and nothing written.
	errChange := errors.New("storetest: the change refuses")
	before, _ = g.Record(t, sid)
	if _, err := up.Update(ctx, sid, func(sess *connectsid.Session) error {
		_ = sess.Set("visits", 8)
		return errChange
	}); err != errChange {
		t.Errorf("Update with fn failing = %v, want fn's error as it is", err)
	}
	if after, _ := g.Record(t, sid); after != before {
		t.Error("Update wrote although fn failed")
	}

	// 4. Concurrent Updates of one counter, on a session of its own
	// (without the fixture's 100 kB): every increment counted.
	_, counted := g.login(t, "Counter")
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		ran, lost int
	)
	for range updaters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for done := 0; done < updatesEach; {
				_, err := up.Update(ctx, counted, func(sess *connectsid.Session) error {
					mu.Lock()
					ran++
					mu.Unlock()
					n := 0
					if raw, ok := sess.Raw("counter"); ok {
						n, _ = strconv.Atoi(string(raw))
					}
					return sess.Set("counter", n+1)
				})
				switch {
				case err == nil:
					done++
				case errors.Is(err, connectsid.ErrConflict):
					mu.Lock()
					lost++ // nothing written: this goroutine tries again
					mu.Unlock()
				default:
					t.Errorf("concurrent Update: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	raw, _ := g.get(t, counted).Raw("counter")
	if string(raw) != strconv.Itoa(updaters*updatesEach) {
		t.Errorf("counter after %d×%d concurrent Updates = %s, want %d", updaters, updatesEach, raw, updaters*updatesEach)
	}
	t.Logf("%d×%d concurrent Updates: fn ran %d times, %d gave up with ErrConflict", updaters, updatesEach, ran, lost)

	// 5. A destroyed session: ErrNoSession, fn not called, nothing created.
	if err := g.Store.Destroy(ctx, sid); err != nil {
		t.Fatal(err)
	}
	if _, err := up.Update(ctx, sid, func(*connectsid.Session) error {
		t.Error("Update called fn for a destroyed session")
		return nil
	}); !errors.Is(err, connectsid.ErrNoSession) {
		t.Errorf("Update of a destroyed session = %v, want ErrNoSession", err)
	}
	if _, ok := g.Record(t, sid); ok {
		t.Error("Update of a destroyed session created a record")
	}

	// 6. Destroyed by Express between Update's read and its write: not
	// resurrected.
	cookie, sid = g.login(t, "Bob")
	if _, err := up.Update(ctx, sid, func(sess *connectsid.Session) error {
		g.app.Logout(ctx, t, cookie)
		return sess.Set("visits", 1)
	}); !errors.Is(err, connectsid.ErrNoSession) {
		t.Errorf("Update of a session destroyed during fn = %v, want ErrNoSession", err)
	}
	if _, ok := g.Record(t, sid); ok {
		t.Error("Update resurrected a session Express destroyed during fn")
	}
}
