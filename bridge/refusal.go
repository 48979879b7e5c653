package bridge

import (
	"errors"
	"net/http"

	"github.com/expressbridge/expressbridge/connectsid"
)

// Refusal codes beyond connectsid's, sent in handshake refusals.
const (
	CodeBadOrigin    = "bad-origin"
	CodeNotLoggedIn  = "not-logged-in"
	CodeBadRequest   = "bad-request"
	CodeShuttingDown = "shutting-down"
)

// Steps of the handshake, in order. Refusal logs, ?explain=1 and
// `expressbridge doctor` name the failing step with these words.
const (
	StepRequest   = "request"
	StepOrigin    = "origin"
	StepCookie    = "cookie"
	StepSignature = "signature"
	StepStore     = "store"
	StepRecord    = "record"
	StepLogin     = "login"
)

// Close codes of the explain mode and of sessions that end: the HTTP
// status a browser cannot read, carried in the 4000 range.
const (
	CloseUnauthorized = 4401
	CloseForbidden    = 4403
	CloseUnavailable  = 4503
)

// Refusal is why a handshake was refused: an HTTP status, a short
// machine-readable code, the step that failed, and a message safe to show
// (it never holds a secret, a whole cookie or a whole session ID).
type Refusal struct {
	Status  int    `json:"-"`
	Code    string `json:"error"`
	Step    string `json:"step"`
	Message string `json:"message"`
	// detail is the cause for the log when Message hides it from the
	// client (a store failure's addresses are the operator's business).
	detail string
}

func (r *Refusal) Error() string { return r.Code + ": " + r.Message }

// logReason is what the log says of the refusal: the full cause.
func (r *Refusal) logReason() string {
	if r.detail != "" {
		return r.detail
	}
	return r.Message
}

// CloseCode is the WebSocket close code that stands for the refusal's
// status in explain mode.
func (r *Refusal) CloseCode() int {
	switch r.Status {
	case http.StatusForbidden:
		return CloseForbidden
	case http.StatusServiceUnavailable:
		return CloseUnavailable
	}
	return CloseUnauthorized
}

// refuse maps an error of the cookie or store steps to its refusal.
func refuse(step string, err error) *Refusal {
	code := connectsid.ErrorCode(err)
	status := http.StatusUnauthorized
	switch {
	case code == "":
		code, status = connectsid.CodeStoreUnavailable, http.StatusServiceUnavailable
	case errors.Is(err, connectsid.ErrStoreUnavailable):
		status = http.StatusServiceUnavailable
	}
	if code == connectsid.CodeMalformedSession || code == connectsid.CodeExpired {
		step = StepRecord // found, but the record refuses it: doctor says the same
	}
	if status == http.StatusServiceUnavailable {
		return &Refusal{Status: status, Code: code, Step: step,
			Message: "the session store is unavailable; try again shortly", detail: err.Error()}
	}
	return &Refusal{Status: status, Code: code, Step: step, Message: err.Error()}
}
