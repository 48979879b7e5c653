package bridge

import (
	"context"
	"errors"

	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/liveness"
	"github.com/expressbridge/expressbridge/wsconn"
)

// Sessions are followed by a liveness.Tracker; this file says its reasons
// in WebSocket terms.

// Reasons of the 4401 close of a connection whose session ended (the
// liveness package's, as strings).
const (
	ReasonLoggedOut      = string(liveness.LoggedOut)
	ReasonSessionExpired = string(liveness.SessionExpired)
	ReasonSessionChanged = string(liveness.SessionChanged)
	// The other reasons a connection ends, as Observer hears them.
	ReasonSlowClient   = wsconn.ReasonSlowClient   // its queue was full (1008)
	ReasonPingTimeout  = wsconn.ReasonPingTimeout  // silent for longer than a ping interval
	ReasonClientClosed = wsconn.ReasonClientClosed // the client closed, broke the protocol, or the network did
)

// DefaultRevalidateInterval is liveness.DefaultRevalidateInterval.
const DefaultRevalidateInterval = liveness.DefaultRevalidateInterval

// The liveness package's types, named where bridge.Config takes them.
type (
	// WatchFunc is liveness.WatchFunc.
	WatchFunc = liveness.WatchFunc
	// Toucher is liveness.Toucher.
	Toucher = liveness.Toucher
	// BatchGetter is liveness.BatchGetter.
	BatchGetter = liveness.BatchGetter
	// EventMark is liveness.Mark.
	EventMark = liveness.Mark
	// Hold is liveness.Hold.
	Hold = liveness.Hold
)

// ErrNotWatching is Ready's error while the Tracker's Run is not running.
var ErrNotWatching = liveness.ErrNotWatching

// CloseFor is wsconn.CloseFor: the close code and reason of a connection
// whose session a Tracker ends.
func CloseFor(r liveness.Reason) (code int, reason string) { return wsconn.CloseFor(r) }

// Tracker returns the liveness.Tracker that follows the server's sessions.
func (s *Server) Tracker() *liveness.Tracker { return s.live }

// Run runs the server's own Tracker (liveness.Tracker.Run) until ctx ends.
// A server given Config.Live does not run it: its owner does, and Run
// fails with errSharedTracker.
func (s *Server) Run(ctx context.Context) error {
	if !s.ownLive {
		return errSharedTracker
	}
	return s.live.Run(ctx)
}

var errSharedTracker = errors.New("bridge: Run with Config.Live set: run the Tracker itself")

// Mark returns the Tracker's current Mark (liveness.Tracker.Mark).
func (s *Server) Mark() EventMark { return s.live.Mark() }

// Revalidate reloads sid's session and ends its connections when it is
// over (liveness.Tracker.Revalidate); it returns the reason, or "".
func (s *Server) Revalidate(ctx context.Context, sid string) string {
	return string(s.live.Revalidate(ctx, sid))
}

// RevalidateAll revalidates every open session (liveness.Tracker.RevalidateAll).
func (s *Server) RevalidateAll(ctx context.Context) { s.live.RevalidateAll(ctx) }

// Hold follows sess for something that is not one of the server's
// connections, such as a Socket.IO session on long-polling, until
// Release: end is called once, with the close code and reason a
// connection would get (CloseFor). since is the Mark the door took before
// its gate check. It fails with ErrShuttingDown once Shutdown has begun.
func (s *Server) Hold(sid string, sess *connectsid.Session, since EventMark, end func(code int, reason string)) (*Hold, error) {
	h, err := s.live.Follow(sid, sess, since, func(r liveness.Reason) { end(CloseFor(r)) })
	if errors.Is(err, liveness.ErrShuttingDown) {
		err = ErrShuttingDown
	}
	return h, err
}

// CloseSession ends every connection and hold of a session with reason,
// as the Tracker would (CloseFor), and returns how many there were.
func (s *Server) CloseSession(sid string, reason liveness.Reason) int {
	return s.live.End(sid, reason)
}

// Ready reports whether the server can take and keep connections: nil when
// the store answers and the Tracker watches session changes. Otherwise the
// error wraps connectsid.ErrStoreUnavailable or is ErrNotWatching.
func (s *Server) Ready(ctx context.Context) error { return s.live.Ready(ctx) }
