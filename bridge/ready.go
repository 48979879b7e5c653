package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/expressbridge/expressbridge/connectsid"
)

// What Run does to see sessions end, for Ready.
const (
	watchStopped       = iota // Run is not running
	watchNotifications        // the store's watch reports changes
	watchPolling              // open sessions are reloaded every RevalidateInterval
)

// ErrNotWatching is Ready's error while Run is not running: open
// connections would not end with their session.
var ErrNotWatching = errors.New("bridge: not watching session changes (Run is not running)")

// setWatch records what Run does and counts resubscriptions.
func (s *Server) setWatch(notifications bool) {
	state := int32(watchPolling)
	if notifications {
		state = watchNotifications
		if s.watchSyncs.Add(1) > 1 && s.cfg.Observer != nil {
			s.cfg.Observer.Resubscribed()
		}
	}
	s.watchState.Store(state)
}

// Ready reports whether the server can take and keep connections: nil when
// the store answers and Run watches session changes (through the store's
// notifications or its polling fallback). Otherwise the error wraps
// connectsid.ErrStoreUnavailable or is ErrNotWatching.
func (s *Server) Ready(ctx context.Context) error {
	if s.watchState.Load() == watchStopped {
		return ErrNotWatching
	}
	if p, ok := s.store.(Pinger); ok {
		ctx, cancel := context.WithTimeout(ctx, s.cfg.HandshakeTimeout)
		defer cancel()
		if err := p.Ping(ctx); err != nil {
			return errors.Join(connectsid.ErrStoreUnavailable, err)
		}
	}
	return nil
}

// Readyz returns the readiness probe: 200 {"status":"ready","watch":…}
// when Ready is nil, 503 {"status":"unavailable","reason":…} with
// Retry-After otherwise. A load balancer sends traffic by it; a process
// supervisor restarts by Healthz.
func (s *Server) Readyz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		err := s.Ready(r.Context())
		if err != nil {
			reason := "not-watching"
			if errors.Is(err, connectsid.ErrStoreUnavailable) {
				reason = connectsid.CodeStoreUnavailable
			}
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusServiceUnavailable)
			json.NewEncoder(w).Encode(map[string]string{"status": "unavailable", "reason": reason})
			return
		}
		watch := "notifications"
		if s.watchState.Load() == watchPolling {
			watch = "polling"
		}
		json.NewEncoder(w).Encode(map[string]any{"status": "ready", "watch": watch, "connections": s.Len()})
	})
}
