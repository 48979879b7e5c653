package bridge

import (
	"container/heap"
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/connectsid"
)

// Live sessions: connections end when their Express session does.

// Reasons of the 4401 close of a connection whose session ended.
const (
	ReasonLoggedOut      = "logged-out"
	ReasonSessionExpired = "session-expired"
	ReasonSessionChanged = "session-changed"
	// The other reasons a connection ends, as Observer hears them.
	ReasonSlowClient   = "slow-client"   // its queue was full (1008)
	ReasonPingTimeout  = "ping-timeout"  // silent for longer than a ping interval
	ReasonClientClosed = "client-closed" // the client closed, broke the protocol, or the network did
)

// Defaults of the live-session settings.
const (
	// DefaultRevalidateInterval is how often every open session is reloaded
	// when Redis cannot tell the bridge about changes.
	DefaultRevalidateInterval = 30 * time.Second
	// revalidateWorkers bounds the store lookups of one revalidation round,
	// so that a round does not flood Redis.
	revalidateWorkers = 8
	// storePingInterval is how often Run pings the store under
	// Config.CloseOnStoreUnavailable: an outage ends connections within
	// about a second plus the store's own timeout.
	storePingInterval = time.Second
)

// WatchFunc reports changes to stored sessions until ctx ends:
// onEvent(sid, op) with op a connectsid.Op, and
// onSync(err) after each (re)subscription, err non-nil when changes will
// not be reported and the server must poll. redisstore.Store.Watch is one.
type WatchFunc func(ctx context.Context, onEvent func(sid string, op connectsid.Op), onSync func(error)) error

// Toucher is a store that can renew a session's TTL, as express-session
// does on every request (redisstore.Store is one).
type Toucher interface {
	Touch(ctx context.Context, sess *connectsid.Session) error
}

// live is the per-session state of open sessions, guarded by Server.mu.
type live struct {
	sid       string
	expires   time.Time // cookie.expires of the last load; zero for none
	queued    int       // index in Server.expiries, or -1
	lastTouch time.Time
}

// expiryQueue orders open sessions by cookie.expires; one timer, for the
// earliest, serves them all. It implements heap.Interface.
type expiryQueue []*live

func (q expiryQueue) Len() int           { return len(q) }
func (q expiryQueue) Less(i, j int) bool { return q[i].expires.Before(q[j].expires) }
func (q expiryQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].queued, q[j].queued = i, j
}
func (q *expiryQueue) Push(x any) {
	l := x.(*live)
	l.queued = len(*q)
	*q = append(*q, l)
}
func (q *expiryQueue) Pop() any {
	old := *q
	l := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	l.queued = -1
	return l
}

// Run watches the store for session changes and closes connections whose
// session ended, until ctx ends. Without Config.Watch, or while the watch
// cannot confirm notifications, it revalidates every open session each
// Config.RevalidateInterval instead. With Config.CloseOnStoreUnavailable
// it also pings the store every second. It returns ctx's error.
func (s *Server) Run(ctx context.Context) error {
	if s.cfg.CloseOnStoreUnavailable {
		if p, ok := s.store.(Pinger); ok {
			done := make(chan struct{})
			go func() { defer close(done); s.pingStore(ctx, p) }()
			defer func() { <-done }()
		} else {
			s.log.Warn("CloseOnStoreUnavailable has no effect: the session store cannot be pinged")
		}
	}
	var (
		mu      sync.Mutex
		polling = s.cfg.Watch == nil // guarded by mu
		warned  bool
	)
	if polling {
		s.setWatch(false)
	}
	defer s.watchState.Store(watchStopped)
	if s.cfg.Watch != nil {
		onSync := func(err error) {
			mu.Lock()
			polling = err != nil
			warn := err != nil && !warned
			warned = warned || warn
			mu.Unlock()
			switch {
			case warn:
				s.log.Warn("session changes cannot be watched; revalidating open sessions periodically instead",
					"every", s.cfg.RevalidateInterval, "err", err)
			case err == nil:
				s.log.Info("watching session changes")
			}
			s.setWatch(err == nil)
			// Changes may have been missed while disconnected.
			s.background(func() { s.RevalidateAll(ctx) })
		}
		watched := make(chan struct{})
		go func() {
			defer close(watched)
			s.cfg.Watch(ctx, func(sid string, op connectsid.Op) { s.sessionEvent(ctx, sid, op) }, onSync)
		}()
		defer func() { <-watched }() // Watch returns once ctx ends
	}
	t := time.NewTicker(s.cfg.RevalidateInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			mu.Lock()
			p := polling
			mu.Unlock()
			if p {
				s.RevalidateAll(ctx)
			}
		}
	}
}

// pingStore pings the store every storePingInterval until ctx ends and
// closes every open connection with 4503 store-unavailable after each ping
// that fails: a connection accepted just before an outage is closed by the
// next ping.
func (s *Server) pingStore(ctx context.Context, p Pinger) {
	t := time.NewTicker(storePingInterval)
	defer t.Stop()
	down := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, s.cfg.HandshakeTimeout)
		err := p.Ping(pctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return // a ping cut short by the end of Run is no outage
		case err != nil:
			n := s.endAll(CloseUnavailable, connectsid.CodeStoreUnavailable)
			if !down || n > 0 {
				s.log.LogAttrs(ctx, slog.LevelWarn, "session store unavailable; connections closed",
					slog.Int("connections", n), slog.String("err", err.Error()))
			}
			down = true
		case down:
			down = false
			s.log.Info("session store answers again")
		}
	}
}

// sessionEvent closes or revalidates the connections of sid after a change
// to its record.
func (s *Server) sessionEvent(ctx context.Context, sid string, op connectsid.Op) {
	s.mu.Lock()
	s.noteEventLocked(sid) // for a handshake of sid that is not registered yet
	_, open := s.live[sid]
	s.mu.Unlock()
	if !open {
		return
	}
	switch op {
	case connectsid.OpDel:
		s.endSession(sid, ReasonLoggedOut)
	case connectsid.OpExpired, connectsid.OpEvicted:
		s.endSession(sid, ReasonSessionExpired)
	case connectsid.OpSet:
		s.background(func() { s.Revalidate(ctx, sid) })
	}
}

// Revalidate reloads sid's session and closes its connections when the
// session is gone, expired, or no longer passes the login check. A store
// that cannot be reached leaves them open. It returns the close reason, or
// "" when they stay open.
func (s *Server) Revalidate(ctx context.Context, sid string) string {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.HandshakeTimeout)
	defer cancel()
	sess, err := s.gate.Recheck(ctx, sid)
	return s.revalidated(sid, sess, err)
}

// revalidated acts on the gate's verdict on an open session: closes its
// connections with the reason, or re-arms its expiry.
func (s *Server) revalidated(sid string, sess *auth.Session, err error) string {
	reason := ""
	switch {
	case err == nil:
	case errors.Is(err, connectsid.ErrNoSession):
		reason = ReasonLoggedOut
		s.mu.Lock()
		if l := s.live[sid]; l != nil && !l.expires.IsZero() && !time.Now().Before(l.expires) {
			reason = ReasonSessionExpired // the store's TTL ran out just before we asked
		}
		s.mu.Unlock()
	case errors.Is(err, connectsid.ErrExpired):
		reason = ReasonSessionExpired
	case errors.Is(err, connectsid.ErrStoreUnavailable):
		s.log.Debug("revalidation postponed", "sid", connectsid.Redact(sid), "err", auth.AsRefusal(err).LogReason())
		return ""
	default: // malformed, or no longer logged in
		reason = ReasonSessionChanged
	}
	if reason != "" {
		s.endSession(sid, reason)
		return reason
	}
	s.mu.Lock()
	if l := s.live[sid]; l != nil {
		s.armExpiry(sid, l, sess.Record)
	}
	s.mu.Unlock()
	return ""
}

// BatchGetter is a store that reads many sessions in one round trip
// (pgstore.Store is one): RevalidateAll then asks it once for every open
// session instead of once per session. GetMany calls each with what Get
// would have returned for each sid, or fails (for all of them) with
// ErrStoreUnavailable.
type BatchGetter interface {
	GetMany(ctx context.Context, sids []string, each func(sid string, sess *connectsid.Session, err error)) error
}

// RevalidateAll revalidates every open session: in one round trip when the
// store is a BatchGetter, else a few at a time.
func (s *Server) RevalidateAll(ctx context.Context) {
	s.mu.Lock()
	sids := make([]string, 0, len(s.live))
	for sid := range s.live {
		sids = append(sids, sid)
	}
	s.mu.Unlock()
	if len(sids) == 0 {
		return
	}
	if bg, ok := s.store.(BatchGetter); ok {
		ctx, cancel := context.WithTimeout(ctx, s.cfg.HandshakeTimeout)
		defer cancel()
		err := bg.GetMany(ctx, sids, func(sid string, sess *connectsid.Session, err error) {
			id, err := s.gate.Judge(ctx, sid, sess, err)
			s.revalidated(sid, id, err)
		})
		if err != nil {
			s.log.Debug("revalidation postponed", "sessions", len(sids), "err", err)
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
				s.Revalidate(ctx, sid)
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

func (s *Server) endSession(sid, reason string) {
	if n := s.CloseSession(sid, CloseUnauthorized, reason); n > 0 {
		s.log.LogAttrs(context.Background(), slog.LevelInfo, "session ended; connections closed",
			slog.String("sid", connectsid.Redact(sid)), slog.String("reason", reason), slog.Int("connections", n))
	}
}

// trackLocked starts the live state of a session's first connection.
// Called with s.mu held.
func (s *Server) trackLocked(sid string, sess *connectsid.Session) {
	if s.live[sid] != nil {
		return
	}
	l := &live{sid: sid, lastTouch: time.Now(), queued: -1}
	s.live[sid] = l
	s.armExpiry(sid, l, sess)
}

// untrackLocked drops the live state once a session has no connection.
// Called with s.mu held.
func (s *Server) untrackLocked(sid string) {
	if l := s.live[sid]; l != nil && len(s.bySID[sid]) == 0 {
		if l.queued >= 0 {
			heap.Remove(&s.expiries, l.queued)
		}
		delete(s.live, sid)
	}
}

// armExpiry schedules a revalidation at the session's cookie.expires, so
// that it ends on time even if Redis reports the expiry late or never.
// Called with s.mu held.
func (s *Server) armExpiry(sid string, l *live, sess *connectsid.Session) {
	if l.queued >= 0 {
		heap.Remove(&s.expiries, l.queued)
	}
	l.expires = time.Time{}
	exp := sess.Cookie().Expires
	if exp == nil {
		return
	}
	l.expires = *exp
	if !l.expires.After(time.Now()) {
		return // an expired record the store accepts (AcceptExpired): the TTL decides
	}
	heap.Push(&s.expiries, l)
	s.resetExpiryTimerLocked()
}

// resetExpiryTimerLocked points the one expiry timer at the earliest
// expiry. Called with s.mu held.
func (s *Server) resetExpiryTimerLocked() {
	if len(s.expiries) == 0 || s.closed {
		return
	}
	d := time.Until(s.expiries[0].expires)
	if s.expiryTimer == nil {
		s.expiryTimer = time.AfterFunc(d, s.expire)
	} else {
		s.expiryTimer.Reset(d)
	}
}

// expire revalidates every session whose cookie.expires has passed.
func (s *Server) expire() {
	now := time.Now()
	s.mu.Lock()
	var due []string
	for len(s.expiries) > 0 && !s.expiries[0].expires.After(now) {
		due = append(due, heap.Pop(&s.expiries).(*live).sid)
	}
	s.resetExpiryTimerLocked()
	s.mu.Unlock()
	for _, sid := range due {
		s.background(func() { s.Revalidate(context.Background(), sid) })
	}
}

// touchIfDue renews the session's TTL when its connection is active and the
// last touch is older than Config.TouchInterval.
func (s *Server) touchIfDue(sid string, sess *connectsid.Session) {
	t, ok := s.store.(Toucher)
	if !ok || s.cfg.TouchInterval <= 0 {
		return
	}
	now := time.Now()
	s.mu.Lock()
	l := s.live[sid]
	due := l != nil && now.Sub(l.lastTouch) >= s.cfg.TouchInterval
	if due {
		l.lastTouch = now
	}
	s.mu.Unlock()
	if !due {
		return
	}
	s.background(func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.HandshakeTimeout)
		defer cancel()
		err := t.Touch(ctx, sess)
		if errors.Is(err, connectsid.ErrNoSession) {
			s.endSession(sid, ReasonLoggedOut)
		} else if err != nil {
			s.log.Debug("touch failed", "sid", connectsid.Redact(sid), "err", err)
		}
	})
}

// background runs f in a goroutine that Shutdown waits for, unless the
// server is already shut down.
func (s *Server) background(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		f()
	}()
}
