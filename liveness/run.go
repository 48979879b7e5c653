package liveness

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/connectsid"
)

// What Run does to see sessions end (Watching).
const (
	watchStopped       = iota // Run is not running
	watchNotifications        // the store's watch reports changes
	watchPolling              // open sessions are reloaded every RevalidateInterval
	watchNothing              // sessions are kept in the cookie: nothing on a server to watch
)

// ErrNotWatching is Ready's error while Run is not running: open
// connections would not end with their session.
var ErrNotWatching = errors.New("liveness: not watching session changes (Run is not running)")

// Watching says how Run sees sessions end: "notifications" (the store's
// watch), "polling" (revalidation every RevalidateInterval), "nothing"
// (sessions kept in the cookie, auth.Gate.CookieSessions: nothing on a
// server can end them), or "" while Run is not running.
func (t *Tracker) Watching() string {
	switch t.watchState.Load() {
	case watchNothing:
		return "nothing"
	case watchNotifications:
		return "notifications"
	case watchPolling:
		return "polling"
	}
	return ""
}

// Ready is nil when Run watches session changes and the store answers
// (when it can be pinged; an answer up to PingReuse old, shared with the
// other probes). Otherwise its error is ErrNotWatching or wraps
// connectsid.ErrStoreUnavailable.
func (t *Tracker) Ready(ctx context.Context) error {
	if t.watchState.Load() == watchStopped {
		return ErrNotWatching
	}
	return t.ping(ctx)
}

// setWatch records what Run does and counts resubscriptions.
func (t *Tracker) setWatch(notifications bool) {
	state := int32(watchPolling)
	if notifications {
		state = watchNotifications
		if t.watchSyncs.Add(1) > 1 && t.cfg.Observer != nil {
			t.cfg.Observer.Resubscribed()
		}
	}
	t.watchState.Store(state)
}

// Run watches the store for session changes and ends the holds of
// sessions that ended, until ctx ends. Without Config.Watch, or while the
// watch cannot confirm notifications, it revalidates every open session
// each Config.RevalidateInterval instead. With Config.CloseOnStoreUnavailable
// it also pings the store every second. For sessions kept in the cookie
// (auth.Gate.CookieSessions) there is nothing to watch or reload: Run
// only waits, and holds end by Config.MaxConnectionAge, End or Shutdown.
// It returns ctx's error.
func (t *Tracker) Run(ctx context.Context) error {
	if t.gate.CookieSessions() {
		t.watchState.Store(watchNothing)
		defer t.watchState.Store(watchStopped)
		<-ctx.Done()
		return ctx.Err()
	}
	if t.cfg.CloseOnStoreUnavailable {
		if p, ok := t.store.(Pinger); ok {
			done := make(chan struct{})
			go func() { defer close(done); t.pingStore(ctx, p) }()
			defer func() { <-done }()
		} else {
			t.log.Warn("CloseOnStoreUnavailable has no effect: the session store cannot be pinged")
		}
	}
	var (
		mu      sync.Mutex
		polling = t.cfg.Watch == nil // guarded by mu
		warned  bool
	)
	if polling {
		t.setWatch(false)
	}
	defer t.watchState.Store(watchStopped)
	if t.cfg.Watch != nil {
		onSync := func(err error) {
			mu.Lock()
			polling = err != nil
			warn := err != nil && !warned
			warned = warned || warn
			mu.Unlock()
			switch {
			case warn:
				t.log.Warn("session changes cannot be watched; revalidating open sessions periodically instead",
					"every", t.cfg.RevalidateInterval, "err", err)
			case err == nil:
				t.log.Info("watching session changes")
			}
			t.setWatch(err == nil)
			// Changes may have been missed while disconnected.
			t.background(func() { t.RevalidateAll(ctx) })
		}
		watched := make(chan struct{})
		go func() {
			defer close(watched)
			t.cfg.Watch(ctx, func(sid string, op connectsid.Op) { t.sessionEvent(ctx, sid, op) }, onSync)
		}()
		defer func() { <-watched }() // Watch returns once ctx ends
	}
	tick := time.NewTicker(t.cfg.RevalidateInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			mu.Lock()
			p := polling
			mu.Unlock()
			if p {
				t.RevalidateAll(ctx)
			}
		}
	}
}

// pingStore pings the store every storePingInterval until ctx ends and
// ends every hold with StoreUnavailable after each ping that fails: a
// connection accepted just before an outage is ended by the next ping.
func (t *Tracker) pingStore(ctx context.Context, p Pinger) {
	tick := time.NewTicker(storePingInterval)
	defer tick.Stop()
	down := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		pctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
		err := p.Ping(pctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return // a ping cut short by the end of Run is no outage
		case err != nil:
			n := t.EndAll(StoreUnavailable)
			if !down || n > 0 {
				t.log.LogAttrs(ctx, slog.LevelWarn, "session store unavailable; connections closed",
					slog.Int("connections", n), slog.String("err", err.Error()))
			}
			down = true
		case down:
			down = false
			t.log.Info("session store answers again")
		}
	}
}

// sessionEvent ends or revalidates the holds of sid after a change to its
// record.
func (t *Tracker) sessionEvent(ctx context.Context, sid string, op connectsid.Op) {
	t.mu.Lock()
	t.noteEventLocked(sid) // for a handshake of sid that is not followed yet
	_, open := t.live[sid]
	t.mu.Unlock()
	if !open {
		return
	}
	switch op {
	case connectsid.OpDel:
		t.endSession(sid, LoggedOut)
	case connectsid.OpExpired, connectsid.OpEvicted:
		t.endSession(sid, SessionExpired)
	case connectsid.OpSet:
		t.background(func() { t.Revalidate(ctx, sid) })
	}
}

// Revalidate reloads sid's session and ends its holds when the session is
// gone, expired, no longer passes the login check, or is another user's
// (those holds only). A store that cannot be reached leaves them held. It
// returns the reason, or "" when they stay.
func (t *Tracker) Revalidate(ctx context.Context, sid string) Reason {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	defer cancel()
	sess, err := t.gate.Recheck(ctx, sid)
	return t.revalidated(sid, sess, err)
}

// ReasonFor is the reason a hold ends with when the gate judges its
// session err (a *auth.Refusal from Recheck or Judge): "" when the hold
// may stay (err nil, or the store could not be asked). The README's table
// of reasons is this switch.
func ReasonFor(err error) Reason {
	switch {
	case err == nil, errors.Is(err, connectsid.ErrStoreUnavailable):
		return ""
	case errors.Is(err, connectsid.ErrNoSession), errors.Is(err, auth.ErrNotLoggedIn):
		return LoggedOut
	case errors.Is(err, connectsid.ErrExpired):
		return SessionExpired
	}
	return SessionChanged // malformed, or any refusal the gate adds later
}

// revalidated acts on the gate's verdict on an open session: ends its
// holds with the reason (or, when the session is now another user's, the
// holds of the user it no longer is), or keeps the record as the holds'
// current one and re-arms its expiry.
func (t *Tracker) revalidated(sid string, sess *auth.Session, err error) Reason {
	reason := ReasonFor(err)
	switch {
	case err != nil && reason == "":
		t.log.Debug("revalidation postponed", "sid", connectsid.Redact(sid), "err", auth.AsRefusal(err).LogReason())
		return ""
	case reason == LoggedOut && errors.Is(err, connectsid.ErrNoSession):
		t.mu.Lock()
		if l := t.live[sid]; l != nil && !l.expires.IsZero() && !time.Now().Before(l.expires) {
			reason = SessionExpired // the store's TTL ran out just before we asked
		}
		t.mu.Unlock()
	}
	if reason != "" {
		t.endSession(sid, reason)
		return reason
	}
	// The session passes: it stays the current one of the holds of its
	// user, and ends the others.
	var changed []*Hold
	t.mu.Lock()
	if l := t.live[sid]; l != nil {
		t.armExpiry(l, sess.Record)
	}
	for _, h := range t.bySID[sid] {
		if h.user == sess.User {
			h.cur.Store(sess)
		} else {
			changed = append(changed, h)
		}
	}
	t.mu.Unlock()
	if n := endHolds(changed, SessionChanged); n > 0 {
		t.log.LogAttrs(context.Background(), slog.LevelInfo, "session changed user; connections closed",
			slog.String("sid", connectsid.Redact(sid)), slog.String("reason", string(SessionChanged)), slog.Int("connections", n))
		return SessionChanged
	}
	return ""
}

// RevalidateAll revalidates every open session: in one round trip when the
// store is a BatchGetter, else a few at a time.
func (t *Tracker) RevalidateAll(ctx context.Context) {
	t.mu.Lock()
	sids := make([]string, 0, len(t.live))
	for sid := range t.live {
		sids = append(sids, sid)
	}
	t.mu.Unlock()
	if len(sids) == 0 {
		return
	}
	if bg, ok := t.store.(BatchGetter); ok {
		ctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
		defer cancel()
		err := bg.GetMany(ctx, sids, func(sid string, sess *connectsid.Session, err error) {
			id, err := t.gate.Judge(ctx, sid, sess, err)
			t.revalidated(sid, id, err)
		})
		if err != nil {
			t.log.Debug("revalidation postponed", "sessions", len(sids), "err", err)
		}
		return
	}
	work := make(chan string)
	var wg sync.WaitGroup
	for range min(revalidateWorkers, len(sids)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sid := range work {
				t.Revalidate(ctx, sid)
			}
		}()
	}
	for _, sid := range sids {
		select {
		case work <- sid:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
}

func (t *Tracker) endSession(sid string, reason Reason) {
	if n := t.End(sid, reason); n > 0 {
		t.log.LogAttrs(context.Background(), slog.LevelInfo, "session ended; connections closed",
			slog.String("sid", connectsid.Redact(sid)), slog.String("reason", string(reason)), slog.Int("connections", n))
	}
}

// touchIfDue renews the session's TTL when its client is active and the
// last touch is older than Config.TouchInterval.
func (t *Tracker) touchIfDue(sid string, sess *connectsid.Session) {
	to, ok := t.store.(Toucher)
	if !ok || t.cfg.TouchInterval <= 0 {
		return
	}
	now := time.Now()
	t.mu.Lock()
	l := t.live[sid]
	due := l != nil && now.Sub(l.lastTouch) >= t.cfg.TouchInterval
	if due {
		l.lastTouch = now
	}
	t.mu.Unlock()
	if !due {
		return
	}
	t.background(func() {
		ctx, cancel := context.WithTimeout(context.Background(), t.cfg.Timeout)
		defer cancel()
		err := to.Touch(ctx, sess)
		if errors.Is(err, connectsid.ErrNoSession) {
			t.endSession(sid, LoggedOut)
		} else if err != nil {
			t.log.Debug("touch failed", "sid", connectsid.Redact(sid), "err", err)
		}
	})
}
