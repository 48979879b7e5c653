// Command socketio-service is a Socket.IO service in Go for the users of an
// unmodified Express app that logs in with passport: two namespaces
// ("/chat" with rooms, "/notes" with acks), a Go HTTP route behind the
// Express login, and a fleet of any size on the sessions' Redis.
//
//	REDIS_URL=redis://127.0.0.1:6379 SESSION_SECRET='keyboard cat' \
//	APP_ORIGIN=http://localhost:3000 go run ./examples/socketio-service
package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/expressbridge/expressbridge"
	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/socketio"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", envOr("LISTEN", "127.0.0.1:8082"))
	if err != nil {
		log.Fatal(err)
	}
	if err := run(ctx, os.Getenv, ln); err != nil {
		log.Fatal(err)
	}
}

// run serves until ctx ends. Everything the service needs is built by
// expressbridge.New: the store, the gate, the Socket.IO door, the
// fan-out between instances and the watch that ends a socket at logout.
func run(ctx context.Context, getenv func(string) string, ln net.Listener) error {
	srv, err := expressbridge.New(ctx, expressbridge.Config{
		StoreURL:       getenv("REDIS_URL"),
		Secrets:        []string{getenv("SESSION_SECRET")},
		LoginField:     "passport.user",
		UserField:      "passport.user",
		AllowedOrigins: []string{getenv("APP_ORIGIN")},
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	chat(srv.Of("/chat"))
	notes(srv.Of("/notes"))
	srv.Handle("/api/me", srv.Require(http.HandlerFunc(me)))
	return srv.Serve(ctx, ln)
}

// chat: "join" ROOM puts the socket in a room; "say" {room, text} reaches
// every socket of that room on every instance as "said" {user, text}.
func chat(ns *socketio.Namespace) {
	ns.On("join", func(so *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
		var room string
		if err := args.Decode(0, &room); err != nil || room == "" {
			return
		}
		so.Join(socketio.Room(room))
		if ack != nil {
			if err := ack(room); err != nil {
				log.Printf("join: %v", err)
			}
		}
	})
	ns.On("say", func(so *socketio.Socket, args socketio.Args, _ socketio.AckFunc) {
		var m struct{ Room, Text string }
		if err := args.Decode(0, &m); err != nil || m.Room == "" {
			return
		}
		said := map[string]string{"user": so.User(), "text": m.Text}
		if err := ns.Broadcast(socketio.BroadcastOptions{Rooms: []socketio.Room{socketio.Room(m.Room)}}, "said", said); err != nil {
			log.Printf("say: %v", err)
		}
	})
}

// notes: "count" TEXT is answered through its ack with the text's length
// and who asked, as the Express session says.
func notes(ns *socketio.Namespace) {
	ns.On("count", func(so *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
		var text string
		if ack == nil || args.Decode(0, &text) != nil {
			return
		}
		if err := ack(map[string]any{"user": so.User(), "length": len([]rune(text))}); err != nil {
			log.Printf("count: %v", err)
		}
	})
}

// me is a Go route behind the Express login.
func me(w http.ResponseWriter, r *http.Request) {
	s, ok := auth.SessionFrom(r.Context()) // Require put it there
	if !ok {
		http.Error(w, "not behind Require", http.StatusInternalServerError)
		return
	}
	if _, err := fmt.Fprintf(w, "hello, user %s\n", s.User); err != nil {
		log.Printf("me: %v", err) // the client went away
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
