package auth

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/expressbridge/expressbridge/connectsid"
)

// Errors of the gate's own steps, beside connectsid's. They describe the
// request, never the system. Check them with errors.Is on a Refusal.
var (
	// ErrBadOrigin means a browser page of an origin that is not allowed
	// made the request (cross-site WebSocket hijacking, CSRF).
	ErrBadOrigin = errors.New("origin not allowed")
	// ErrNotLoggedIn means the session exists but its login field is not
	// truthy: the user has not logged in, or has logged out (passport keeps
	// the session and drops passport.user).
	ErrNotLoggedIn = errors.New("session not logged in")
)

// Refusal codes beyond connectsid's. The codes of the README's table.
const (
	CodeBadOrigin   = "bad-origin"
	CodeNotLoggedIn = "not-logged-in"
	// CodeBadRequest and CodeShuttingDown are the doors' own refusals
	// (not a handshake, the server is stopping), before the gate's steps.
	CodeBadRequest   = "bad-request"
	CodeShuttingDown = "shutting-down"
)

// Steps of the gate, in order. Refusal bodies, logs, ?explain=1 and
// `expressbridge doctor` name the failing step with these words.
const (
	StepRequest   = "request" // the door's own checks: method, upgrade headers, shutdown
	StepOrigin    = "origin"
	StepCookie    = "cookie"
	StepSignature = "signature"
	StepStore     = "store"
	StepRecord    = "record"
	StepLogin     = "login"
	// StepUser never refuses: a session without a user name is accepted
	// with an empty one. Traces report it after the login.
	StepUser = "user"
)

// Refusal is why the gate refused a request: an HTTP status, a short
// machine-readable code, the step that failed, and a message safe to show
// to the client (it never holds a secret, a whole cookie or a whole session
// ID). It is the error every Check method returns; errors.Is sees the
// sentinel beneath it (connectsid.ErrNoSession, ErrNotLoggedIn, …).
type Refusal struct {
	Status  int    `json:"-"`
	Code    string `json:"error"`
	Step    string `json:"step"`
	Message string `json:"message"`
	// Detail is the cause for the operator's log when Message hides it
	// from the client (a store failure's addresses); it holds no secret
	// either. Empty when Message says everything.
	Detail string `json:"-"`
	err    error
}

func (r *Refusal) Error() string { return r.Code + ": " + r.Message }

// Unwrap returns the sentinel error beneath the refusal, if any.
func (r *Refusal) Unwrap() error { return r.err }

// LogReason is what a log line says of the refusal: the full cause.
func (r *Refusal) LogReason() string {
	if r.Detail != "" {
		return r.Detail
	}
	return r.Message
}

// Unavailable reports whether the refusal is the system's fault (503): the
// request may pass later, and nothing about the client is known.
func (r *Refusal) Unavailable() bool { return r.Status == http.StatusServiceUnavailable }

// LogLevel is the level a door logs the refusal at: a warning when it is
// the system's fault (503), debug for the client's.
func (r *Refusal) LogLevel() slog.Level {
	if r.Unavailable() {
		return slog.LevelWarn
	}
	return slog.LevelDebug
}

// ShuttingDown is the refusal of a door whose server is stopping.
func ShuttingDown() *Refusal {
	return &Refusal{Status: http.StatusServiceUnavailable, Code: CodeShuttingDown, Step: StepRequest,
		Message: "the server is shutting down"}
}

// AsRefusal returns the Refusal in err's chain, or nil.
func AsRefusal(err error) *Refusal {
	var r *Refusal
	if errors.As(err, &r) {
		return r
	}
	return nil
}

// refuse maps an error of the cookie, signature or store steps to its
// refusal. A store error that wraps no sentinel counts as unavailable:
// the gate fails closed.
func refuse(step string, err error) *Refusal {
	code := connectsid.ErrorCode(err)
	status := http.StatusUnauthorized
	switch {
	case code == "":
		code, status = connectsid.CodeStoreUnavailable, http.StatusServiceUnavailable
		err = errors.Join(connectsid.ErrStoreUnavailable, err)
	case errors.Is(err, connectsid.ErrStoreUnavailable):
		status = http.StatusServiceUnavailable
	}
	if code == connectsid.CodeMalformedSession || code == connectsid.CodeExpired {
		step = StepRecord // found, but the record refuses it
	}
	if status == http.StatusServiceUnavailable {
		return &Refusal{Status: status, Code: code, Step: step, err: err,
			Message: "the session store is unavailable; try again shortly", Detail: err.Error()}
	}
	return &Refusal{Status: status, Code: code, Step: step, Message: err.Error(), err: err}
}
