package socketio_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/bridge"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/redisstore"
	"github.com/expressbridge/expressbridge/examples/chat"
	"github.com/expressbridge/expressbridge/liveness"
	"github.com/expressbridge/expressbridge/socketio"
	"github.com/expressbridge/expressbridge/wsconn"
)

// Serve Socket.IO beside the plain WebSocket door: one gate, one Tracker,
// the same revocation on both. (expressbridge.New does all of this.)
func Example() {
	ver, _ := connectsid.NewVerifier("keyboard cat")
	client, _ := redisstore.OpenURL("redis://127.0.0.1:6379")
	store := redisstore.New(client, redisstore.Options{})
	gate, _ := auth.New(auth.Config{Verifier: ver, Store: store, AllowedOrigins: []string{"https://app.example.com"}})
	live, _ := liveness.New(liveness.Config{Gate: gate, Watch: store.Watch})
	b, _ := bridge.New(bridge.Config{Gate: gate, Live: live, Protocol: chat.WebSocket{}})
	sio, _ := socketio.New(socketio.Config{Live: live})
	chat.SocketIO(sio.Of("/")) // hello, say/said, whoami, session-ended

	go live.Run(context.Background()) // sockets end with their Express session
	http.Handle("/ws", b)
	http.Handle("/socket.io/", sio)
	log.Fatal(http.ListenAndServe(":8081", nil))
}

// Handlers of your own: the user comes from the Express session, rooms
// group sockets, acknowledgements answer the client's callback.
func ExampleNamespace_On() {
	var sio *socketio.Server // from socketio.New
	ns := sio.Of("/")
	ns.OnConnection(func(so *socketio.Socket) {
		so.Join(socketio.Room("user:" + so.User())) // every tab of the user
	})
	ns.On("dm", func(so *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
		var to, text string
		if args.Decode(0, &to) != nil || args.Decode(1, &text) != nil {
			return
		}
		ns.Broadcast(socketio.BroadcastOptions{Rooms: []socketio.Room{socketio.Room("user:" + to)}},
			"dm", map[string]string{"from": so.User(), "text": text})
		if ack != nil {
			ack("sent")
		}
	})
}

// Ask the client and wait for its callback; binary arguments ([]byte)
// travel as attachments.
func ExampleSocket_EmitWithAck() {
	var so *socketio.Socket // in a handler
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := so.EmitWithAck(ctx, "confirm", "delete the file?", []byte{0xca, 0xfe})
	if err != nil { // ErrAckTimeout, ErrDisconnected
		return
	}
	var yes bool
	res.Decode(0, &yes)
}

// The in-memory adapter: rooms → sockets, sockets → rooms, one broadcast
// entry point.
func ExampleMemoryAdapter() {
	a := socketio.NewMemoryAdapter(func(id socketio.SocketID, p *socketio.Encoded) {
		fmt.Printf("%s gets %s\n", id, p.Text)
	})
	a.AddAll("s1", []socketio.Room{"s1", "red"})
	a.AddAll("s2", []socketio.Room{"s2", "red"})
	a.AddAll("s3", []socketio.Room{"s3"})
	a.Broadcast(&socketio.Encoded{Text: []byte(`2["news"]`)},
		socketio.BroadcastOptions{Rooms: []socketio.Room{"red"}, Except: []socketio.Room{"s1"}})
	// Output:
	// s2 gets 2["news"]
}

// Namespace middleware, as io.use: after the gate (the Express session
// is already checked), refuse a socket with connect_error and data, or
// keep what later handlers need in its data.
func ExampleNamespace_Use() {
	var sio *socketio.Server // from socketio.New
	admin := sio.Of("/admin")
	admin.Use(func(so *socketio.Socket) error {
		if so.User() != "root" {
			// the client: err.message "not an admin", err.data {"need":"root"}
			return &socketio.ConnectError{Message: "not an admin", Data: map[string]string{"need": "root"}}
		}
		so.SetData(map[string]any{"since": time.Now().Unix()}) // fetchSockets sees it, across the fleet
		return nil
	})
}

// Socket middleware, as socket.use: refuse an event before its handler;
// the error goes to the socket's OnError listeners (socket.on("error")).
func ExampleSocket_Use() {
	var sio *socketio.Server // from socketio.New
	sio.Of("/").OnConnection(func(so *socketio.Socket) {
		so.Use(func(so *socketio.Socket, event string, args socketio.Args) error {
			if event == "delete" && so.User() != "root" {
				return errors.New("unauthorized event")
			}
			return nil
		})
		so.OnError(func(err error) {
			if err.Error() == "unauthorized event" {
				so.Disconnect()
			}
		})
	})
}

// Catch-all listeners and the lifecycle, as socket.onAny,
// socket.onAnyOutgoing and the "disconnecting" event.
func ExampleSocket_OnAny() {
	var sio *socketio.Server // from socketio.New
	ns := sio.Of("/")
	ns.OnConnection(func(so *socketio.Socket) {
		off := so.OnAny(func(event string, args socketio.Args) {
			log.Printf("%s sent %s (%d args)", so.ID(), event, args.Len())
		})
		so.OnAnyOutgoing(func(event string, args socketio.Args) {
			log.Printf("%s gets %s", so.ID(), event)
		})
		time.AfterFunc(time.Minute, off) // socket.offAny(listener)
	})
	ns.OnDisconnecting(func(so *socketio.Socket, reason string) {
		for _, r := range so.Rooms() { // still in its rooms
			ns.Broadcast(socketio.BroadcastOptions{Rooms: []socketio.Room{r}}, "user-left", so.User())
		}
	})
	ns.OnDisconnect(func(so *socketio.Socket, reason string) {
		log.Printf("%s left: %s", so.ID(), reason) // "client namespace disconnect", "transport close", …
	})
}

// socket.handshake: the handshake request's headers (Cookie left out),
// query, the client's address (through Config.TrustedProxies), and the
// CONNECT's auth.
func ExampleSocket_Handshake() {
	var sio *socketio.Server // from socketio.New
	sio.Of("/").OnConnection(func(so *socketio.Socket) {
		h := so.Handshake()
		log.Printf("%s from %s, room %q, agent %q, since %s", so.User(), h.Address,
			h.Query.Get("room"), h.Headers.Get("User-Agent"), h.Time.Format(time.RFC3339))
	})
}

// Dynamic namespaces, as io.of(/^\/org-\d+$/): the first CONNECT to a
// matching name makes its namespace; the parent's middleware and handlers
// apply to each.
func ExampleServer_OfRegexp() {
	var sio *socketio.Server // from socketio.New
	orgs := sio.OfRegexp(regexp.MustCompile(`^/org-\d+$`))
	orgs.Use(func(so *socketio.Socket) error {
		if !strings.HasPrefix(so.User(), "member-of-"+so.Namespace().Name()[len("/org-"):]) {
			return errors.New("not a member")
		}
		return nil
	})
	orgs.On("where", func(so *socketio.Socket, _ socketio.Args, ack socketio.AckFunc) {
		ack(so.Namespace().Name()) // "/org-12"
	})
	orgs.Emit("maintenance", "in 5 minutes") // every org's sockets
}

// Opt in to permessage-deflate, as engine.io's perMessageDeflate: to the
// clients that offer it (browsers and socket.io-client do), messages from
// the threshold on (1024 bytes) go compressed, without context takeover
// (no window kept per connection). Compress(false) and NoCompress skip it
// for what deflate cannot shrink; a broadcast is compressed once for all.
func ExampleSocket_Compress() {
	var live *liveness.Tracker // from liveness.New
	sio, _ := socketio.New(socketio.Config{Live: live, PerMessageDeflate: &wsconn.Deflate{Threshold: 1024}})
	ns := sio.Of("/")
	ns.OnConnection(func(so *socketio.Socket) {
		so.Emit("report", strings.Repeat("row;", 1000))      // compressed
		so.Compress(false).Emit("photo", []byte{0xff, 0xd8}) // a JPEG is compressed already
		ns.Broadcast(socketio.BroadcastOptions{NoCompress: true}, "tick", time.Now().Unix())
	})
}

// Turn on connection state recovery, as socket.io's
// connectionStateRecovery: a socket whose transport drops (a phone in a
// tunnel) comes back within two minutes with its ID, rooms and Data, and
// the broadcasts it missed, before its OnConnection handlers run again.
// Unlike Node, the Express session is checked again at the reconnect: a
// user who logged out meanwhile is refused (connect_error no-session), and
// a pid kept for another session or user too (CodeRecoveryOtherSession).
// The namespace's middleware is skipped for a recovered socket, as Node's
// skipMiddlewares.
func ExampleSocket_Recovered() {
	var live *liveness.Tracker // from liveness.New
	sio, _ := socketio.New(socketio.Config{Live: live, Recovery: &socketio.RecoveryConfig{
		MaxDisconnectionDuration: 2 * time.Minute,
		MaxKeptPerSession:        10, // tabs × namespaces one login may leave behind
	}})
	ns := sio.Of("/")
	ns.OnConnection(func(so *socketio.Socket) {
		if so.Recovered() {
			return // rooms, Data and the missed events are back already
		}
		so.Join("room:" + socketio.Room(so.User()))
		so.SetData(map[string]any{"since": time.Now().Unix()})
	})
}

// A RecoveryStore keeps what a reconnect gets back: the packets broadcast
// to a kept socket's rooms, in order, handed back once to its own session.
func ExampleMemoryRecoveryStore() {
	ctx := context.Background()
	store := socketio.NewMemoryRecoveryStore(socketio.RecoveryConfig{})
	store.Keep(ctx, &socketio.KeptSocket{PID: "p1", ID: "s1", Namespace: "/", Session: "sess-zoe", User: "Zoë",
		Rooms: []socketio.Room{"s1", "news"}})
	store.Record("/", socketio.BroadcastOptions{Rooms: []socketio.Room{"news"}}, &socketio.Encoded{Text: []byte(`2["news","a","o1"]`)})
	store.Record("/", socketio.BroadcastOptions{Rooms: []socketio.Room{"sport"}}, &socketio.Encoded{Text: []byte(`2["sport","b","o2"]`)})

	_, err := store.Claim(ctx, "/", "p1", "sess-eve", "Eve")
	fmt.Println(errors.Is(err, socketio.ErrOtherSession))
	k, _ := store.Claim(ctx, "/", "p1", "sess-zoe", "Zoë")
	for _, p := range k.Missed {
		fmt.Println(string(p.Text))
	}
	_, err = store.Claim(ctx, "/", "p1", "sess-zoe", "Zoë")
	fmt.Println(errors.Is(err, socketio.ErrNotKept))
	// Output:
	// true
	// 2["news","a","o1"]
	// true
}
