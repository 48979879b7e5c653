package bridge

import (
	"context"
	"errors"

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
)

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

// CloseSession ends every connection and hold of a session with reason,
// as the Tracker would (CloseFor), and returns how many there were.
func (s *Server) CloseSession(sid string, reason liveness.Reason) int {
	return s.live.End(sid, reason)
}
