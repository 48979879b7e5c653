package auth

import (
	"context"
	"encoding/json"

	"github.com/expressbridge/expressbridge/connectsid"
)

// StepInfo is what a step saw, as a Trace receives it. Refusal is nil when
// the step passed. Only the fields of the step are set. Value and SID are
// secrets of the user's: a Trace must never log or print them whole.
type StepInfo struct {
	Step    string
	Refusal *Refusal
	// Cause is the store's error at the store and record steps.
	Cause error
	// Value is the cookie's decoded value (cookie, and signature when it
	// fails).
	Value string
	// SID is the verified session ID (signature and after).
	SID string
	// SecretIndex is which secret verified the cookie (signature).
	SecretIndex int
	// Session is the record (store when found, record, login, user).
	Session *connectsid.Session
	// Raw is the login field's JSON text (login) or the user field's
	// (user); nil when the record lacks it.
	Raw json.RawMessage
	// User and HasUser are the user's name and whether the record has one
	// (user).
	User    string
	HasUser bool
}

// Trace receives each step of a walk as it ends, in order; `expressbridge
// doctor` uses it to explain a verdict without walking the steps again.
type Trace struct {
	Step func(StepInfo)
}

type traceKey struct{}

// WithTrace returns a context whose walks report to t, as
// net/http/httptrace does for requests.
func WithTrace(ctx context.Context, t *Trace) context.Context {
	return context.WithValue(ctx, traceKey{}, t)
}

func (g *Gate) trace(ctx context.Context, info StepInfo) {
	if t, _ := ctx.Value(traceKey{}).(*Trace); t != nil && t.Step != nil {
		t.Step(info)
	}
}
