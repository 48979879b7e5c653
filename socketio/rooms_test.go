package socketio_test

import (
	"context"
	"github.com/expressbridge/expressbridge/socketio"
	"github.com/expressbridge/expressbridge/socketio/parser"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestRoomsAndAcks drives the Go API through raw Socket.IO clients:
// joining and leaving rooms, emitting to a room with an exception, the
// socket's own broadcast, and EmitWithAck's timeout and disconnect.
func TestRoomsAndAcks(t *testing.T) {
	e := newEnv(t)
	srv, err := socketio.New(socketio.Config{Live: e.live, Insecure: true, Logger: e.logger()})
	if err != nil {
		t.Fatal(err)
	}
	ns := srv.Of("/")
	acked := make(chan error, 4)
	ns.On("join", func(so *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
		var room string
		args.Decode(0, &room)
		so.Join(socketio.Room(room))
		ack(len(so.Rooms()))
	})
	ns.On("leave", func(so *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
		var room string
		args.Decode(0, &room)
		so.Leave(socketio.Room(room))
		ack()
	})
	ns.On("to", func(so *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
		var room, except string
		args.Decode(0, &room)
		args.Decode(1, &except)
		ns.Broadcast(socketio.BroadcastOptions{Rooms: []socketio.Room{socketio.Room(room)}, Except: []socketio.Room{socketio.Room(except)}}, "news", room)
		ack()
	})
	ns.On("others", func(so *socketio.Socket, _ socketio.Args, ack socketio.AckFunc) {
		so.Broadcast(socketio.BroadcastOptions{}, "news", "others")
		ack()
	})
	ns.On("ask-silent", func(so *socketio.Socket, _ socketio.Args, _ socketio.AckFunc) {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			_, err := so.EmitWithAck(ctx, "silent")
			acked <- err
		}()
	})
	e.mux.Handle("/socket.io/", srv)
	e.serve(t)

	wsURL := strings.Replace(e.url, "http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
	ids := map[*websocket.Conn]socketio.SocketID{}
	dial := func() *websocket.Conn {
		c, id := dialSocket(t, wsURL)
		ids[c] = id
		return c
	}
	// none checks that nothing waits for c: what the server sent it
	// before answering this ack would come first.
	none := func(c *websocket.Conn) {
		t.Helper()
		c.WriteMessage(websocket.TextMessage, []byte(`4299["leave","nowhere"]`))
		if got := nextPacket(c); got != `4399[]` {
			t.Errorf("unexpected %s", got)
		}
	}
	send := func(c *websocket.Conn, s string) { c.WriteMessage(websocket.TextMessage, []byte(s)) }

	a, b, c := dial(), dial(), dial()
	send(a, `421["join","red"]`)
	if got := nextPacket(a); got != `431[2]` { // its own room and red
		t.Fatalf("join ack = %s", got)
	}
	send(b, `421["join","red"]`)
	nextPacket(b)
	send(c, `421["join","blue"]`)
	nextPacket(c)

	send(c, `422["to","red",""]`)
	if got := nextPacket(c); got != `432[]` {
		t.Fatalf("to ack = %s", got)
	}
	for _, x := range []*websocket.Conn{a, b} {
		if got := nextPacket(x); got != `42["news","red"]` {
			t.Errorf("red member got %s", got)
		}
	}
	none(c)

	// Except a socket's own room: everyone in red but a.
	send(c, `423["to","red","`+string(ids[a])+`"]`)
	nextPacket(c)
	if got := nextPacket(b); got != `42["news","red"]` {
		t.Errorf("b got %s", got)
	}
	none(a)

	// The socket's own broadcast reaches the others only.
	send(a, `424["others"]`)
	if got := nextPacket(a); !strings.HasPrefix(got, `434[]`) {
		// a may see the ack only; news to b and c
		t.Errorf("others ack = %s", got)
	}
	for _, x := range []*websocket.Conn{b, c} {
		for got := nextPacket(x); got != `42["news","others"]`; got = nextPacket(x) {
			if strings.HasPrefix(got, "error") {
				t.Fatalf("waiting for others: %s", got)
			}
		}
	}

	// Leaving: a no longer gets red's news.
	send(a, `425["leave","red"]`)
	nextPacket(a)
	send(c, `426["to","red",""]`)
	nextPacket(c)
	if got := nextPacket(b); got != `42["news","red"]` {
		t.Errorf("b got %s", got)
	}
	none(a)

	// EmitWithAck: a client that never answers times out.
	send(a, `42["ask-silent"]`)
	if got := nextPacket(a); !strings.HasPrefix(got, `420["silent"]`) {
		t.Errorf("server's ack request = %s", got)
	}
	if err := <-acked; err != socketio.ErrAckTimeout {
		t.Errorf("EmitWithAck = %v, want ErrAckTimeout", err)
	}
}

// binder is a MemoryAdapter that hands on the Local its namespace binds
// it to, as a ClusterAdapter gets it.
type binder struct {
	*socketio.MemoryAdapter
	locals chan socketio.Local
}

func (b binder) Bind(l socketio.Local) { b.locals <- l }

// TestLocalBroadcastWithAck: one packet id for every socket chosen (the
// namespace's next, after an EmitWithAck's), the count of sockets reached,
// one ack per socket however often it answers, and none after the
// timeout.
func TestLocalBroadcastWithAck(t *testing.T) {
	e := newEnv(t)
	locals := make(chan socketio.Local, 1) // what "/" binds its adapter to
	srv, err := socketio.New(socketio.Config{Live: e.live, Insecure: true, Logger: e.logger(),
		NewAdapter: func(deliver func(socketio.SocketID, *socketio.Encoded)) socketio.Adapter {
			return binder{socketio.NewMemoryAdapter(deliver), locals}
		}})
	if err != nil {
		t.Fatal(err)
	}
	ns := srv.Of("/")
	local := <-locals
	e.mux.Handle("/socket.io/", srv)
	e.serve(t)
	wsURL := strings.Replace(e.url, "http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
	dial := func() (*websocket.Conn, socketio.SocketID) { return dialSocket(t, wsURL) }
	send := func(c *websocket.Conn, s string) { c.WriteMessage(websocket.TextMessage, []byte(s)) }
	a, aid := dial()
	b, bid := dial()
	c, _ := dial()

	// An EmitWithAck to a takes id 0.
	go ns.Socket(aid).EmitWithAck(context.Background(), "first")
	if got := nextPacket(a); got != `420["first"]` {
		t.Fatalf("EmitWithAck sent %s", got)
	}
	acks := make(chan string, 8)
	build := func(id uint64) (*socketio.Encoded, error) {
		p := parser.Packet{Type: parser.Event, Namespace: "/", Data: []byte(`["q",1]`), ID: id, HasID: true}
		return &socketio.Encoded{Text: parser.Append(nil, p)}, nil
	}
	onAck := func(args socketio.Args) { acks <- string(args.Raw(0)) }
	opts := socketio.BroadcastOptions{Rooms: []socketio.Room{socketio.Room(aid), socketio.Room(bid)}}
	n, err := local.BroadcastWithAck(opts, 5*time.Second, build, onAck)
	if err != nil || n != 2 {
		t.Fatalf("LocalBroadcastWithAck = %d, %v; want 2", n, err)
	}
	for _, cl := range []*websocket.Conn{a, b} {
		if got := nextPacket(cl); got != `421["q",1]` {
			t.Errorf("broadcast with acks sent %s, want 421[\"q\",1]", got)
		}
	}
	send(a, `431["A"]`)
	send(b, `431["B"]`)
	send(b, `431["B again"]`)
	var got []string
	for range 2 {
		select {
		case s := <-acks:
			got = append(got, s)
		case <-time.After(2 * time.Second):
			t.Fatalf("acks: %v only", got)
		}
	}
	// After the timeout an answer is dropped; c was never asked.
	n, _ = local.BroadcastWithAck(opts, 100*time.Millisecond, build, onAck)
	nextPacket(a)
	nextPacket(b)
	time.Sleep(300 * time.Millisecond)
	send(a, `432["late"]`)
	send(c, `432["not asked"]`)
	select {
	case s := <-acks:
		t.Errorf("ack %s ran (earlier: %v)", s, got)
	case <-time.After(300 * time.Millisecond):
	}
	if n != 2 || !(got[0] == `"A"` && got[1] == `"B"` || got[0] == `"B"` && got[1] == `"A"`) {
		t.Errorf("acks %v, second count %d; want A and B, 2", got, n)
	}
}

// dialSocket connects a raw Socket.IO client on WebSocket to namespace
// "/" and returns it with its socket ID.
func dialSocket(t *testing.T, wsURL string) (*websocket.Conn, socketio.SocketID) {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.ReadMessage() // OPEN
	c.WriteMessage(websocket.TextMessage, []byte("40"))
	_, m, _ := c.ReadMessage() // CONNECT {"sid":…}
	return c, socketio.SocketID(strings.TrimSuffix(strings.TrimPrefix(string(m), `40{"sid":"`), `"}`))
}

// nextPacket returns the next packet c receives other than a PING, or the error.
func nextPacket(c *websocket.Conn) string {
	for {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, m, err := c.ReadMessage()
		if err != nil {
			return "error: " + err.Error()
		}
		if string(m) != "2" {
			return string(m)
		}
	}
}
