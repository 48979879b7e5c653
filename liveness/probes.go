package liveness

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/expressbridge/expressbridge/connectsid"
)

// Healthz returns the liveness probe: 200 {"status":"ok","connections":N}
// when the store answers (a store that cannot be pinged always does), 503
// {"status":"unavailable","error":"store-unavailable"} with Retry-After
// otherwise. conns counts the open connections for the body. The store's
// answer is shared by the probes of PingReuse (at most one ping in flight).
func (t *Tracker) Healthz(conns func() int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if err := t.ping(r.Context()); err != nil {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusServiceUnavailable)
			json.NewEncoder(w).Encode(map[string]string{"status": "unavailable", "error": connectsid.CodeStoreUnavailable})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"status": "ok", "connections": conns()})
	})
}

// Readyz returns the readiness probe: 200
// {"status":"ready","watch":…,"connections":N} when Ready is nil, 503
// {"status":"unavailable","reason":"not-watching"|"store-unavailable"}
// with Retry-After otherwise. A load balancer sends traffic by it; a
// process supervisor restarts by Healthz. Its store answer is Healthz's
// (PingReuse).
func (t *Tracker) Readyz(conns func() int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if err := t.Ready(r.Context()); err != nil {
			reason := "not-watching"
			if errors.Is(err, connectsid.ErrStoreUnavailable) {
				reason = connectsid.CodeStoreUnavailable
			}
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusServiceUnavailable)
			json.NewEncoder(w).Encode(map[string]string{"status": "unavailable", "reason": reason})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"status": "ready", "watch": t.Watching(), "connections": conns()})
	})
}
