package connectsid

import "errors"

// Errors about the cookie. They describe untrusted input: the client's
// fault, never the system's. Check them with errors.Is.
var (
	// ErrNoCookie means the Cookie header has no session cookie of the
	// configured name, or its value is empty.
	ErrNoCookie = errors.New("no session cookie")
	// ErrNotSigned means the cookie's value does not start with "s:".
	// express-session ignores such cookies ("cookie unsigned").
	ErrNotSigned = errors.New("session cookie is not signed")
	// ErrBadSignature means no secret of the list produced the cookie's
	// signature ("cookie signature invalid" in express-session).
	ErrBadSignature = errors.New("session cookie signature invalid")
	// ErrMalformed means the value cannot be a signed session ID at all:
	// too long, no "." before a signature, or an empty ID. express-session
	// rejects these too, as an invalid signature or as no session ID.
	ErrMalformed = errors.New("malformed session cookie")
)

// Errors about the session record and the store.
var (
	// ErrNoSession means the store has no record for the session ID:
	// never created, logged out, or expired by the store's TTL.
	ErrNoSession = errors.New("no such session")
	// ErrExpired means the session has expired: its cookie.expires has
	// passed (the gate's refusal, Session.CheckExpiry) or the store's own
	// expiry has while it still holds the record (a PostgreSQL row past
	// its expire).
	ErrExpired = errors.New("session expired")
	// ErrMalformedSession means the stored record is not a session record
	// that express-session could have written.
	ErrMalformedSession = errors.New("malformed session record")
	// ErrStoreUnavailable means the store could not be asked: a system
	// fault, not the client's. The request may succeed later.
	ErrStoreUnavailable = errors.New("session store unavailable")
)

// ErrConflict means a store's read-modify-write of a record (Update) gave
// up: the record changed under it on every attempt. Nothing was written;
// the caller may try again.
var ErrConflict = errors.New("session record kept changing during the update")

// MaxUpdateAttempts is how many times a store's Update reads, changes and
// tries to write a record before it gives up with ErrConflict.
const MaxUpdateAttempts = 16

// ErrEmptySecret is a usage error: a verifier needs at least one secret and
// no secret may be empty.
var ErrEmptySecret = errors.New("connectsid: empty secret")

// Machine-readable codes for the errors above, shared by the CLI, the
// bridge's refusals and the diagnostics so that all three agree.
const (
	CodeNoCookie         = "no-cookie"
	CodeNotSigned        = "not-signed"
	CodeBadSignature     = "bad-signature"
	CodeMalformed        = "malformed"
	CodeNoSession        = "no-session"
	CodeExpired          = "expired"
	CodeMalformedSession = "malformed-session"
	CodeStoreUnavailable = "store-unavailable"
)

var codes = [...]struct {
	err  error
	code string
}{
	{ErrNoCookie, CodeNoCookie},
	{ErrNotSigned, CodeNotSigned},
	{ErrBadSignature, CodeBadSignature},
	{ErrMalformed, CodeMalformed},
	{ErrNoSession, CodeNoSession},
	{ErrExpired, CodeExpired},
	{ErrMalformedSession, CodeMalformedSession},
	{ErrStoreUnavailable, CodeStoreUnavailable},
}

// ErrorCode returns the short machine-readable code of the first sentinel
// error of this package that err wraps, or "" when it wraps none.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return ""
}
