package liveness

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/connectsid"
)

// Updater is a store that can read-modify-write one session record
// (redisstore, pgstore, mysqlstore and knexstore's Store are): Update loads sid's record,
// calls fn on it and writes the result with the store's Set rules (its
// TTL from cookie.expires), only if the record has not changed since it
// was loaded; when it has, Update loads it again and calls fn again, so fn
// may run more than once and must depend only on the session it is given.
// Update never creates a record: when there is none, or it is gone before
// the write, it fails with connectsid.ErrNoSession (connectsid.ErrExpired
// for a record the store itself holds expired). When fn fails, nothing is
// written and Update returns fn's error as it is. It fails with
// connectsid.ErrConflict when the record kept changing under it, and
// ErrStoreUnavailable when the store cannot be asked. It returns the
// session as written.
type Updater interface {
	Update(ctx context.Context, sid string, fn func(*connectsid.Session) error) (*connectsid.Session, error)
}

// Errors of Hold.Save.
var (
	// ErrCannotSave means the store has no Update (it is not an Updater),
	// or there is no store: cookie-session keeps the session in the
	// browser's cookie, which a socket cannot set.
	ErrCannotSave = errors.New("liveness: the session store cannot save sessions from Go")
	// ErrNotHeld means the hold follows no session (an Insecure door) or
	// has ended: nothing is saved for a connection that is over.
	ErrNotHeld = errors.New("liveness: the hold follows no session, or has ended")
	// ErrOtherUser means the session is now another user's: nothing was
	// saved, and the hold ends with SessionChanged.
	ErrOtherUser = errors.New("liveness: the session is another user's now")
)

// fnError carries the caller's own error through Update, so that Save
// tells it from the store's.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

// errRefused aborts an Update whose fresh record the gate refuses.
var errRefused = errors.New("liveness: refused")

// Save changes the hold's Express session as an Express route would on a
// request, and returns once the change is in the store:
//
//  1. the record is loaded from the store again (never the handshake's
//     copy), and judged by the gate as a request would be: a session that
//     is gone, expired, logged out or another user's is not written, and
//     its holds end with the reason (ErrNoSession: LoggedOut, …);
//  2. change runs on the loaded record (connectsid.Session's Set, Delete);
//     its error aborts the save and is returned as it is;
//  3. cookie.expires is reset to now + originalMaxAge, as express-session
//     resets it on every request before it saves (Session.ResetMaxAge);
//  4. the record is written with the store's Set rules, only if nobody
//     wrote it meanwhile; else steps 1 to 3 run again (change must depend
//     only on the session it is given). Fields change did not touch are
//     written back byte for byte as they were loaded.
//
// Then the written record is the hold's Session, as a revalidation would
// make it (and a change that logs the session out ends the hold). Save
// never creates a record: a session destroyed meanwhile fails with an
// error wrapping connectsid.ErrNoSession and its holds end LoggedOut. It
// fails with ErrNotHeld, ErrCannotSave, ErrOtherUser, ErrConflict or
// ErrStoreUnavailable otherwise (those two leave the hold as it is). The
// browser's cookie is not sent again (a socket cannot set one): its own
// expiry stays what Express last sent. The call is bounded by
// Config.Timeout.
func (h *Hold) Save(ctx context.Context, change func(*connectsid.Session) error) error {
	t := h.t
	h.mu.Lock()
	ended := h.ended
	h.mu.Unlock()
	if h.sid == "" || ended {
		return ErrNotHeld
	}
	up, ok := t.store.(Updater)
	switch {
	case t.gate.CookieSessions():
		return fmt.Errorf("%w: the session is kept in the browser's cookie (cookie-session), which only the app's response to a request can change", ErrCannotSave)
	case !ok:
		return fmt.Errorf("%w: %T has no Update", ErrCannotSave, t.store)
	}
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	defer cancel()
	var (
		verdict    *auth.Session // the gate's verdict on the record loaded last
		verdictErr error
	)
	written, err := up.Update(ctx, h.sid, func(sess *connectsid.Session) error {
		// 1. The record as it is now, judged as a request would be.
		verdict, verdictErr = t.gate.Judge(ctx, h.sid, sess, nil)
		if verdictErr != nil || verdict.User != h.user {
			return errRefused
		}
		// 2. The caller's change.
		if err := change(sess); err != nil {
			return fnError{err}
		}
		// 3. express-session's touch before its save.
		sess.ResetMaxAge(time.Now())
		return nil
	})
	var fe fnError
	switch {
	case err == nil:
		// The record as written is the holds' session now.
		id, jerr := t.gate.Judge(ctx, h.sid, written, nil)
		t.revalidated(h.sid, id, jerr)
		return nil
	case errors.As(err, &fe):
		return fe.err
	case errors.Is(err, errRefused):
		t.revalidated(h.sid, verdict, verdictErr)
		if verdictErr != nil {
			return fmt.Errorf("liveness: save: %w", verdictErr)
		}
		return ErrOtherUser
	case errors.Is(err, connectsid.ErrConflict), errors.Is(err, connectsid.ErrStoreUnavailable):
		return fmt.Errorf("liveness: save: %w", err)
	}
	// The store's own verdict: gone, expired, malformed.
	_, jerr := t.gate.Judge(ctx, h.sid, nil, err)
	t.revalidated(h.sid, nil, jerr)
	return fmt.Errorf("liveness: save: %w", jerr)
}
