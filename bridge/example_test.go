package bridge_test

import (
	"context"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/bridge"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/redisstore"
	"github.com/expressbridge/expressbridge/examples/chat"
	"github.com/expressbridge/expressbridge/liveness"
)

// ExampleNew serves the bridge next to an Express app that uses
// express-session with connect-redis: the same Redis, the same secrets, and
// the page's origin allowed. It has no output to check, so it is compiled
// but not run.
func ExampleNew() {
	// The secrets of express-session's secret option, the signing one first.
	verifier, err := connectsid.NewVerifier(os.Getenv("SESSION_SECRET"))
	if err != nil {
		log.Fatal(err)
	}
	// The Redis that connect-redis uses, with its default prefix "sess:".
	client, err := redisstore.OpenURL("redis://127.0.0.1:6379")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	// The gate: the cookie's signature, the record in Redis, the login.
	gate, err := auth.New(auth.Config{
		Verifier:       verifier,
		Store:          redisstore.New(client, redisstore.Options{}),
		AllowedOrigins: []string{"https://app.example.com"},
	})
	if err != nil {
		log.Fatal(err)
	}
	srv, err := bridge.New(bridge.Config{Gate: gate, Protocol: chat.WebSocket{}})
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("/ws", srv)
	http.Handle("/healthz", srv.Healthz())

	hs := &http.Server{Addr: ":8081", ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.ListenAndServe(); err != http.ErrServerClosed {
			log.Fatal(err)
		}
	}()

	// On SIGTERM: stop accepting, close every WebSocket with 1001, then stop.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(shutdown)
	hs.Shutdown(shutdown)
}

// echoDoor is a door's own protocol: it echoes, and tells the client why
// its session ended before closing.
type echoDoor struct{}

func (echoDoor) Open(c *bridge.Conn)                { c.Send([]byte("hello " + c.User())) }
func (echoDoor) Message(c *bridge.Conn, msg []byte) { c.Send(msg) }
func (echoDoor) Close(*bridge.Conn)                 {}
func (echoDoor) End(c *bridge.Conn, r liveness.Reason) {
	code, reason := bridge.CloseFor(r)
	c.Send([]byte("bye: " + reason))
	c.CloseWhenSent(code, reason) // after the message above
}

// ExampleServer_Accept serves another protocol on the bridge's connections:
// the door authenticates with the bridge's gate, then Accept upgrades with
// the door's protocol. Its connections are revoked like the bridge's own.
func ExampleServer_Accept() {
	var srv *bridge.Server // from bridge.New
	http.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		sess, err := srv.Gate().Check(r.Context(), r)
		if err != nil {
			auth.WriteRefusal(w, auth.AsRefusal(err))
			return
		}
		srv.Accept(w, r, sess, bridge.AcceptOptions{Protocol: echoDoor{}})
	})
}
