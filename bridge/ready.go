package bridge

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/expressbridge/expressbridge/connectsid"
)

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
		json.NewEncoder(w).Encode(map[string]any{"status": "ready", "watch": s.live.Watching(), "connections": s.Len()})
	})
}
