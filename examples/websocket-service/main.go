// Command websocket-service is a plain WebSocket service in Go for the
// users of an unmodified Express app (express-session on Redis, the
// default loggedIn/username fields): each connection is greeted with its
// user, and each text message is answered with it in capitals. The
// connection closes with 4401 when the user logs out of Express.
//
//	REDIS_URL=redis://127.0.0.1:6379 SESSION_SECRET='keyboard cat' \
//	APP_ORIGIN=http://localhost:3000 go run ./examples/websocket-service
package main

import (
	"context"
	"log"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/expressbridge/expressbridge"
	"github.com/expressbridge/expressbridge/bridge"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", "127.0.0.1:8083")
	if err != nil {
		log.Fatal(err)
	}
	if err := run(ctx, os.Getenv, ln); err != nil {
		log.Fatal(err)
	}
}

// run serves the WebSocket door at /ws until ctx ends.
func run(ctx context.Context, getenv func(string) string, ln net.Listener) error {
	srv, err := expressbridge.New(ctx, expressbridge.Config{
		StoreURL:        getenv("REDIS_URL"),
		Secrets:         []string{getenv("SESSION_SECRET")},
		AllowedOrigins:  []string{getenv("APP_ORIGIN")},
		WebSocket:       shout{},
		DisableSocketIO: true,
		SingleInstance:  true, // one instance: nothing crosses to others
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	return srv.Serve(ctx, ln)
}

// shout is the service's protocol: the bridge calls it only for
// connections whose Express session is logged in.
type shout struct{}

func (shout) Open(c *bridge.Conn) {
	if err := c.Send([]byte("hello " + c.User())); err != nil {
		log.Printf("open: %v", err)
	}
}

func (shout) Message(c *bridge.Conn, msg []byte) {
	if err := c.Send([]byte(c.User() + ": " + strings.ToUpper(string(msg)))); err != nil {
		log.Printf("message: %v", err)
	}
}

func (shout) Close(*bridge.Conn) {}
