// Command http-routes is a Go HTTP API for the users of an unmodified
// Express app (express-session on Redis, the default loggedIn/username
// fields): every route under /api/ is behind the Express login, except
// /api/health. No Socket.IO, no WebSocket door, one instance.
//
//	GET  /api/health  {"status":"ok"}, no login needed
//	GET  /api/me      the user and some fields of their Express session
//	GET  /api/orders  the user's orders
//	POST /api/orders  {"item": "tea"} places one (201)
//
// A refused request gets the gate's status and JSON body
// {"error","step","message"}: 401 without a logged-in session, 403 from a
// page of an origin other than APP_ORIGIN.
//
//	REDIS_URL=redis://127.0.0.1:6379 SESSION_SECRET='keyboard cat' \
//	APP_ORIGIN=http://localhost:3000 go run ./examples/http-routes
package main

import (
	"context"
	"encoding/json"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/expressbridge/expressbridge"
	"github.com/expressbridge/expressbridge/auth"
)

// maxOrderBody bounds a POST /api/orders body: an order is one short item.
const maxOrderBody = 1 << 10

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	addr := os.Getenv("LISTEN")
	if addr == "" {
		addr = "127.0.0.1:8085"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	if err := run(ctx, os.Getenv, ln); err != nil {
		log.Fatal(err)
	}
}

// run serves the API until ctx ends.
func run(ctx context.Context, getenv func(string) string, ln net.Listener) error {
	srv, err := expressbridge.New(ctx, expressbridge.Config{
		StoreURL:        getenv("REDIS_URL"),
		Secrets:         []string{getenv("SESSION_SECRET")},
		AllowedOrigins:  []string{getenv("APP_ORIGIN")},
		DisableSocketIO: true,
		SingleInstance:  true, // one instance: nothing crosses to others
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	api := http.NewServeMux()
	o := &orders{byUser: map[string][]order{}}
	api.Handle("GET /api/me", withSession(me))
	api.Handle("GET /api/orders", withSession(o.list))
	api.Handle("POST /api/orders", withSession(o.place))
	// Every /api/ route is behind the Express login, but /api/health.
	srv.Handle("/api/", srv.Require(api))
	srv.Handle("GET /api/health", http.HandlerFunc(health))
	return srv.Serve(ctx, ln)
}

// health needs no login: it says the service is up.
func health(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// me answers with the user and what else the Express session holds that
// the page may show: its theme, and when the login expires.
func me(w http.ResponseWriter, _ *http.Request, s *auth.Session) {
	body := struct {
		User    string     `json:"user"`
		Theme   string     `json:"theme,omitempty"`
		Expires *time.Time `json:"expires"` // nil for a browser-session cookie
	}{User: s.User, Expires: s.Record.Cookie().Expires}
	body.Theme, _ = s.Record.String("theme") // absent or not a string: no theme
	writeJSON(w, http.StatusOK, body)
}

// order is one item a user ordered.
type order struct {
	ID   int    `json:"id"`
	Item string `json:"item"`
}

// orders keeps every user's orders, in memory: this is an example.
type orders struct {
	mu     sync.Mutex
	last   int
	byUser map[string][]order
}

// list answers with the logged-in user's orders, [] when none.
func (o *orders) list(w http.ResponseWriter, _ *http.Request, s *auth.Session) {
	o.mu.Lock()
	mine := append([]order{}, o.byUser[s.User]...)
	o.mu.Unlock()
	writeJSON(w, http.StatusOK, mine)
}

// place adds {"item": …} to the logged-in user's orders.
func (o *orders) place(w http.ResponseWriter, r *http.Request, s *auth.Session) {
	var in struct{ Item string }
	err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxOrderBody)).Decode(&in)
	if err != nil || in.Item == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad-order", "message": `the body must be {"item": "…"}`})
		return
	}
	o.mu.Lock()
	o.last++
	placed := order{ID: o.last, Item: in.Item}
	o.byUser[s.User] = append(o.byUser[s.User], placed)
	o.mu.Unlock()
	writeJSON(w, http.StatusCreated, placed)
}

// withSession hands h the Express session Require put in the request.
func withSession(h func(http.ResponseWriter, *http.Request, *auth.Session)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := auth.SessionFrom(r.Context())
		if !ok { // a route registered outside Require
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "no-session-in-context"})
			return
		}
		h(w, r, s)
	})
}

// writeJSON answers with status and v as JSON; a client gone mid-answer
// is only logged.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		log.Printf("write: %v", err)
	}
}
