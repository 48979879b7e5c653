// Command fleet is one instance of a Socket.IO fleet in Go: run as many as
// you like on the sessions' Redis, and the Express app pushes to any user
// on any instance with the unmodified @socket.io/redis-emitter:
//
//	const emitter = new Emitter(redisClient)
//	emitter.to("user:" + req.session.username).emit("notice", {...})
//
// Each socket joins its user's room "user:NAME" on connect; "shout" TEXT
// from a client reaches every socket of every instance as "notice".
//
//	REDIS_URL=redis://127.0.0.1:6379 SESSION_SECRET='keyboard cat' \
//	APP_ORIGIN=http://localhost:3000 LISTEN=127.0.0.1:8084 go run ./examples/fleet
package main

import (
	"context"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/expressbridge/expressbridge"
	"github.com/expressbridge/expressbridge/socketio"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	addr := os.Getenv("LISTEN")
	if addr == "" {
		addr = "127.0.0.1:8084"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	if err := run(ctx, os.Getenv, ln); err != nil {
		log.Fatal(err)
	}
}

// run serves one instance until ctx ends. The fan-out between instances
// is New's default: @socket.io/redis-adapter's protocol on the store's Redis.
func run(ctx context.Context, getenv func(string) string, ln net.Listener) error {
	srv, err := expressbridge.New(ctx, expressbridge.Config{
		StoreURL:       getenv("REDIS_URL"),
		Secrets:        []string{getenv("SESSION_SECRET")},
		AllowedOrigins: []string{getenv("APP_ORIGIN")},
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	ns := srv.Of("/")
	ns.OnConnection(func(so *socketio.Socket) {
		so.Join(socketio.Room("user:" + so.User()))
		if err := so.Emit("hello", so.User()); err != nil {
			log.Printf("hello: %v", err)
		}
	})
	ns.On("shout", func(so *socketio.Socket, args socketio.Args, _ socketio.AckFunc) {
		var text string
		if err := args.Decode(0, &text); err != nil {
			return
		}
		if err := ns.Emit("notice", map[string]string{"from": so.User(), "text": text}); err != nil {
			log.Printf("shout: %v", err)
		}
	})
	return srv.Serve(ctx, ln)
}
