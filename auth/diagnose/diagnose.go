// Package diagnose tells why the auth gate would accept or refuse a
// session cookie, step by step: it hands the cookie to the gate with a
// trace (so it never walks the steps itself and cannot disagree with the
// gate) and explains each step the gate walked, up to the first that
// failed: the cookie names a header holds, a secret rotation in progress,
// a session found under another prefix, the fields a record holds. It
// returns a Report of findings, each with a hint of what to try next; it
// prints nothing. `expressbridge doctor` is this package and a printer.
//
// Hints name settings as Settings (Text), never as a program's flags: a
// command line renders them with its flag names through a Namer.
package diagnose

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/storeurl"
)

// Status is a finding's verdict.
type Status string

// The statuses.
const (
	OK   Status = "ok"
	Warn Status = "warn" // passed, but worth knowing (the user step only)
	Fail Status = "fail"
)

// StepAccepted is the step of a report's last finding when the gate would
// accept the cookie.
const StepAccepted = "accepted"

// Finding is one step of a diagnosis. Messages and details hold no
// secret, no whole cookie, and whole session IDs only with
// Config.ShowIDs.
type Finding struct {
	Step    string // one of auth's Step names, or StepAccepted
	Status  Status
	Code    string // the gate's refusal code, when Status is Fail
	Message string
	Details []Text
	Hint    Text // the next thing to try; empty when there is nothing to do

	// Facts, each on its step.
	SID     string         // signature: the session ID, shortened unless ShowIDs
	Secret  int            // signature: which secret verified, from 1
	Secrets int            // signature: how many secrets there are
	TTL     *time.Duration // store: the key's time to live; nil when it has none
	Found   []Found        // store: the session under other prefixes (Redis)
	Fields  []string       // login, user: the record's fields
	User    *string        // accepted: the user, possibly empty
}

// Found is the session ID found under another prefix.
type Found struct {
	Prefix string
	TTL    *time.Duration // nil: the key has no TTL
}

// Report is a diagnosis: the findings in the gate's order, the last the
// verdict (StepAccepted) or the step that refused.
type Report struct {
	Findings []Finding
}

// Accepted reports whether the gate would accept the cookie.
func (r *Report) Accepted() bool {
	return len(r.Findings) > 0 && r.Findings[len(r.Findings)-1].Step == StepAccepted
}

// Code is the refusal code of the step that refused; "" when accepted.
func (r *Report) Code() string {
	if len(r.Findings) == 0 {
		return ""
	}
	return r.Findings[len(r.Findings)-1].Code
}

// Config is what a diagnosis needs.
type Config struct {
	// Gate is the gate to ask, built on Store's Redis or PG store
	// (required): the gate that serves the doors, or one of the same
	// options, so that the diagnosis judges as they do.
	Gate *auth.Gate
	// Store is the opened store the gate reads (required).
	Store *storeurl.Store
	// SecretSource names where the secrets came from, in messages
	// ("from …"); empty leaves it out.
	SecretSource string
	// ShowIDs shows whole session IDs instead of shortened ones.
	ShowIDs bool
	// ShowValues shows the values of a record's fields, not only their
	// names and types.
	ShowValues bool
	// Now returns the time for expiry (the gate's Config.Now when nil).
	Now func() time.Time
}

// ErrConfig means a Config lacks its Gate, or a Store with exactly one of
// Redis and PG: the caller's mistake.
var ErrConfig = errors.New("diagnose: Config.Gate and Config.Store (its Redis, PG or MySQL) are required")

// Limits of the search for a session under other prefixes.
const (
	// scanCount is SCAN's COUNT hint: keys looked at per call.
	scanCount = 1000
	// maxScanCalls bounds the search to about 200,000 keys per Redis
	// node: a few seconds on a busy production Redis, never a full pass
	// over a huge one.
	maxScanCalls = 200
	// scanTimeout bounds the whole search.
	scanTimeout = 5 * time.Second
	// maxFoundKeys is how many keys ending in the session ID are reported.
	maxFoundKeys = 5
)

// Cookie diagnoses a Cookie header ("a=1; connect.sid=s%3A…"). The report
// always has findings, the last the verdict or the refusing step; err is
// ErrConfig or nil. It may block on the store, within the gate's timeout
// for each lookup and a few seconds for the search under other prefixes.
func Cookie(ctx context.Context, cfg Config, header string) (*Report, error) {
	return diagnose(ctx, cfg, header, true)
}

// Value diagnoses a cookie's value alone (s%3A… as the browser sends it,
// or decoded): its name is not checked, and the walk starts at the
// signature.
func Value(ctx context.Context, cfg Config, value string) (*Report, error) {
	return diagnose(ctx, cfg, value, false)
}

// store is what the diagnosis asks of a store besides the gate's Get.
type store interface {
	TTL(ctx context.Context, sid string) (time.Duration, error)
}

// run is one diagnosis.
type run struct {
	cfg      Config
	gate     auth.Config
	store    store
	loc      Where // the store, for hints and messages
	now      time.Time
	ttl      time.Duration // of the session's key once found; -1: none
	findings []Finding
}

func diagnose(ctx context.Context, cfg Config, input string, header bool) (*Report, error) {
	if cfg.Gate != nil && cfg.Gate.CookieSessions() {
		return diagnoseCookieSession(ctx, cfg, input, header)
	}
	if cfg.Gate == nil || cfg.Store == nil || cfg.Store.Sessions() == nil {
		return nil, ErrConfig
	}
	d := &run{cfg: cfg, gate: cfg.Gate.Config(), loc: WhereOf(cfg.Store)}
	d.store = cfg.Store.Sessions()
	now := cfg.Now
	if now == nil {
		now = d.gate.Now
	}
	d.now = now()

	var steps []auth.StepInfo
	tctx := auth.WithTrace(ctx, &auth.Trace{Step: func(i auth.StepInfo) { steps = append(steps, i) }})
	var err error
	if header {
		_, err = cfg.Gate.CheckCookie(tctx, input)
	} else {
		d.pass(auth.StepCookie, fmt.Sprintf("a cookie value, not a header: its name (%s) was not checked", OneLine(d.gate.CookieName)))
		_, err = cfg.Gate.CheckValue(tctx, connectsid.DecodeValue(input))
	}
	for _, st := range steps {
		if d.step(ctx, input, st) {
			return &Report{Findings: d.findings}, nil
		}
	}
	if err != nil { // cannot happen: the failing step stopped above
		ref := auth.AsRefusal(err)
		d.fail(ref.Step, ref.Code, ref.Message, HintFor(err, d.loc))
	}
	return &Report{Findings: d.findings}, nil
}

// pass and fail add a finding and return it, to be completed before the
// next one is added.
func (d *run) pass(step, msg string, details ...Text) *Finding {
	d.findings = append(d.findings, Finding{Step: step, Status: OK, Message: msg, Details: details})
	return &d.findings[len(d.findings)-1]
}

func (d *run) fail(step, code, msg string, hint Text, details ...Text) *Finding {
	d.findings = append(d.findings, Finding{Step: step, Status: Fail, Code: code, Message: msg, Details: details, Hint: hint})
	return &d.findings[len(d.findings)-1]
}

// step explains one step of the gate's walk; stop reports that the
// diagnosis ends there.
func (d *run) step(ctx context.Context, header string, st auth.StepInfo) (stop bool) {
	switch st.Step {
	case auth.StepCookie:
		return !d.cookie(header, st)
	case auth.StepSignature:
		return !d.signature(ctx, st)
	case auth.StepStore:
		return !d.lookup(ctx, st)
	case auth.StepRecord:
		return !d.record(st)
	case auth.StepLogin:
		return !d.login(st)
	case auth.StepUser:
		// The user never refuses; then the verdict.
		user := d.user(st)
		f := d.pass(StepAccepted, "this cookie would be accepted as "+OneLine(user))
		if !st.HasUser {
			f.Message = "this cookie would be accepted, with an empty user name"
		}
		f.User = &user
		return true
	}
	return false
}

// id is a session ID as the findings show it.
func (d *run) id(sid string) string {
	if d.cfg.ShowIDs {
		return OneLine(sid)
	}
	return OneLine(connectsid.Redact(sid))
}
