package redisadapter_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/adapter/redisadapter"
	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/bridge"
	"github.com/expressbridge/expressbridge/connectsid/redisstore"
	"github.com/expressbridge/expressbridge/examples/chat"
	"github.com/expressbridge/expressbridge/internal/testenv"
	"github.com/expressbridge/expressbridge/internal/testrig"
	"github.com/expressbridge/expressbridge/socketio"
)

// Several Go instances on one Redis, each a bridge (/ws) and a Socket.IO
// server (/socket.io/) in process on a free port, with the real Express app
// logging users in; clients speak the protocols over real WebSockets.

var fleetSecrets = []string{"fleet test secret"}

// fleet is the Express app and the Redis holding its sessions.
type fleet struct {
	t        *testing.T
	sessions *testenv.Redis
	app      *testenv.NodeApp
	ctx      context.Context
	logs     *testenv.Buffer
	rig      *testrig.Rig
}

func newFleet(t *testing.T) *fleet {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	f := &fleet{t: t, ctx: ctx, logs: &testenv.Buffer{}}
	f.rig = testrig.Start(t, testrig.Config{Secrets: fleetSecrets, Timeout: 90 * time.Second})
	f.sessions, f.app = f.rig.Redis, f.rig.App
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("instances' logs:\n%s", f.logs.String())
		}
	})
	return f
}

// resubs counts the bus's resubscriptions.
type resubs struct{ n atomic.Int64 }

func (r *resubs) Resubscribed() { r.n.Add(1) }

// instance is one Go process's worth of servers.
type instance struct {
	name   string
	host   string // 127.0.0.1:PORT
	bridge *bridge.Server
	sio    *socketio.Server
	ns     *socketio.Namespace
	bus    *redisadapter.Bus
	resubs *resubs
}

// start runs an instance whose sessions are in the fleet's Redis and whose
// bus speaks through busURL (a Redis, or a Cluster's redis+cluster:// URL).
func (f *fleet) start(name, busURL string, cfg redisadapter.BusConfig) *instance {
	t := f.t
	t.Helper()
	log := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("instance", name)
	store, sessClient := f.rig.OpenStore()
	busClient := sessClient
	var err error
	if busURL != f.sessions.URL() {
		if busClient, err = redisstore.OpenURL(busURL); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { busClient.Close() })
	}
	gate := f.rig.NewGate(auth.Config{Store: store})
	in := &instance{name: name, resubs: &resubs{}}
	cfg.Logger, cfg.Observer = log, in.resubs
	in.bus = redisadapter.NewBus(busClient, cfg)
	relay := in.bus.NewRelay()
	if in.bridge, err = bridge.New(bridge.Config{Gate: gate, Protocol: chat.WebSocket{}, Watch: store.Watch, Fanout: relay, Logger: log}); err != nil {
		t.Fatal(err)
	}
	if err := relay.Start(f.ctx, in.bridge.BroadcastLocal); err != nil {
		t.Fatalf("relay: %v", err)
	}
	if in.sio, err = socketio.New(socketio.Config{Live: in.bridge.Tracker(), Logger: log, NewAdapter: in.bus.NewAdapter}); err != nil {
		t.Fatal(err)
	}
	in.ns = in.sio.Of("/")
	chat.SocketIO(in.ns)
	mux := http.NewServeMux()
	mux.Handle("/ws", in.bridge)
	mux.Handle("/socket.io/", in.sio)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	in.host = ln.Addr().String()
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); in.bridge.Run(ctx) }()
	go hs.Serve(ln)
	t.Cleanup(func() {
		cancel()
		<-ran
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		hs.Shutdown(sctx)
		in.bridge.Shutdown(sctx)
		in.bus.Close()
	})
	return in
}

// Clients ------------------------------------------------------------------

// sioClient is a Socket.IO client on namespace "/" over a WebSocket: it
// answers pings and queues every other text message.
type sioClient struct {
	t    *testing.T
	name string
	c    *websocket.Conn
	wmu  sync.Mutex
	msgs chan string
	id   string
}

func (f *fleet) dialSIO(in *instance, cookie, name string) *sioClient {
	t := f.t
	t.Helper()
	h := http.Header{"Cookie": {cookie}}
	c, _, err := websocket.DefaultDialer.Dial("ws://"+in.host+"/socket.io/?EIO=4&transport=websocket", h)
	if err != nil {
		t.Fatalf("dial %s: %v", in.name, err)
	}
	t.Cleanup(func() { c.Close() })
	sc := &sioClient{t: t, name: name + "@" + in.name, c: c, msgs: make(chan string, 256)}
	if _, m, err := c.ReadMessage(); err != nil || !strings.HasPrefix(string(m), "0{") {
		t.Fatalf("%s: OPEN: %q %v", sc.name, m, err)
	}
	sc.send("40")
	_, m, err := c.ReadMessage()
	if err != nil || !strings.HasPrefix(string(m), `40{"sid":"`) {
		t.Fatalf("%s: CONNECT: %q %v", sc.name, m, err)
	}
	sc.id = strings.TrimSuffix(strings.TrimPrefix(string(m), `40{"sid":"`), `"}`)
	go func() {
		defer close(sc.msgs)
		for {
			_, m, err := c.ReadMessage()
			if err != nil {
				return
			}
			if string(m) == "2" {
				sc.send("3")
				continue
			}
			sc.msgs <- string(m)
		}
	}()
	sc.expect(`42["hello"`)
	return sc
}

func (c *sioClient) send(s string) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.c.WriteMessage(websocket.TextMessage, []byte(s))
}

// expect waits for a message starting with prefix, skipping others.
func (c *sioClient) expect(prefix string) string {
	c.t.Helper()
	return expectMsg(c.t, c.name, c.msgs, prefix)
}

// expectEvent waits for the event packet whose JSON equals want's, key
// order aside (TestPayloadsCrossExactly checks the exact text).
func (c *sioClient) expectEvent(want string) {
	c.t.Helper()
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		c.t.Fatal(err)
	}
	deadline := time.After(5 * time.Second)
	for {
		select {
		case m, ok := <-c.msgs:
			if !ok {
				c.t.Fatalf("%s: connection ended while waiting for %s", c.name, want)
			}
			var g any
			if strings.HasPrefix(m, "42") && json.Unmarshal([]byte(m[2:]), &g) == nil && fmt.Sprint(g) == fmt.Sprint(w) {
				return
			}
		case <-deadline:
			c.t.Fatalf("%s: no 42%s within 5 s", c.name, want)
		}
	}
}

// none fails when a message starting with prefix arrives within d.
func (c *sioClient) none(prefix string, d time.Duration) {
	c.t.Helper()
	noMsg(c.t, c.name, c.msgs, prefix, d)
}

func expectMsg(t *testing.T, name string, ch <-chan string, prefix string) string {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case m, ok := <-ch:
			if !ok {
				t.Fatalf("%s: connection ended while waiting for %s", name, prefix)
			}
			if strings.HasPrefix(m, prefix) {
				return m
			}
		case <-deadline:
			t.Fatalf("%s: no %s within 5 s", name, prefix)
		}
	}
}

// tryExpect waits up to d for a message starting with prefix and returns
// it, or "" when none came (other messages are dropped).
func (c *sioClient) tryExpect(prefix string, d time.Duration) string {
	return tryMsg(c.msgs, prefix, d)
}

// tryMsg is tryExpect on any client's messages.
func tryMsg(msgs <-chan string, prefix string, d time.Duration) string {
	deadline := time.After(d)
	for {
		select {
		case m, ok := <-msgs:
			if !ok {
				return ""
			}
			if strings.HasPrefix(m, prefix) {
				return m
			}
		case <-deadline:
			return ""
		}
	}
}

func noMsg(t *testing.T, name string, ch <-chan string, prefix string, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case m, ok := <-ch:
			if !ok {
				return
			}
			if strings.HasPrefix(m, prefix) {
				t.Errorf("%s: unexpected %s", name, m)
			}
		case <-deadline:
			return
		}
	}
}

// wsClient is a /ws chat client.
type wsClient struct {
	t    *testing.T
	name string
	c    *websocket.Conn
	msgs chan string
}

func (f *fleet) dialWS(in *instance, cookie, name string) *wsClient {
	t := f.t
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws://"+in.host+"/ws", http.Header{"Cookie": {cookie}})
	if err != nil {
		t.Fatalf("dial /ws %s: %v", in.name, err)
	}
	t.Cleanup(func() { c.Close() })
	wc := &wsClient{t: t, name: name + "@" + in.name + "/ws", c: c, msgs: make(chan string, 256)}
	go func() {
		defer close(wc.msgs)
		for {
			_, m, err := c.ReadMessage()
			if err != nil {
				return
			}
			wc.msgs <- string(m)
		}
	}()
	expectMsg(t, wc.name, wc.msgs, `{"type":"hello"`)
	return wc
}

func (f *fleet) login(user string) string {
	f.t.Helper()
	return f.app.Login(f.ctx, f.t, user)
}

// Tests ----------------------------------------------------------------------

// TestFleetBroadcasts: three Go instances on one Redis. A Socket.IO
// broadcast from any instance (to all, to a user's room) reaches the
// chosen clients of every instance exactly once; a /ws chat message said
// on one instance reaches the /ws clients of every instance once, and no
// Socket.IO client.
func TestFleetBroadcasts(t *testing.T) {
	f := newFleet(t)
	var ins []*instance
	for i := range 3 {
		ins = append(ins, f.start(fmt.Sprintf("go%d", i), f.sessions.URL(), redisadapter.BusConfig{}))
	}
	ann, bob := f.login("ann"), f.login("bob")
	var all, bobs []*sioClient
	var wss []*wsClient
	for _, in := range ins {
		a, b := f.dialSIO(in, ann, "ann"), f.dialSIO(in, bob, "bob")
		all = append(all, a, b)
		bobs = append(bobs, b)
		wss = append(wss, f.dialWS(in, ann, "ann"))
	}

	start := time.Now()
	for i, in := range ins {
		if err := in.ns.Emit("news", i); err != nil {
			t.Fatal(err)
		}
		for _, c := range all {
			c.expect(fmt.Sprintf(`42["news",%d]`, i))
		}
	}
	t.Logf("3 broadcasts × 6 clients on 3 instances delivered in %v", time.Since(start))
	// A client of instance 2 says something: every socket gets it once.
	all[5].send(`42["say","from bob on go2"]`)
	for _, c := range all {
		c.expectEvent(`["said",{"user":"bob","text":"from bob on go2"}]`)
	}
	// To a room: bob's sockets only.
	if err := ins[1].ns.Broadcast(socketio.BroadcastOptions{Rooms: []socketio.Room{chat.UserRoom("bob")}}, "dm", "for bob"); err != nil {
		t.Fatal(err)
	}
	for _, c := range bobs {
		c.expect(`42["dm","for bob"]`)
	}
	// Local: go1's clients only, never published (io.local.emit).
	if err := ins[1].ns.Broadcast(socketio.BroadcastOptions{Local: true}, "local", 1); err != nil {
		t.Fatal(err)
	}
	all[2].expect(`42["local",1]`)
	all[3].expect(`42["local",1]`)
	n, err := ins[1].ns.FetchSockets(f.ctx, socketio.BroadcastOptions{Local: true})
	if err != nil || len(n) != 2 {
		t.Errorf("local fetchSockets: %d sockets, %v; want go1's 2", len(n), err)
	}
	// /ws: said on go0, heard on every /ws client.
	if err := wss[0].c.WriteMessage(websocket.TextMessage, []byte(`{"type":"say","text":"plain hello"}`)); err != nil {
		t.Fatal(err)
	}
	for _, w := range wss {
		expectMsg(t, w.name, w.msgs, `{"type":"said","user":"ann","text":"plain hello"}`)
	}
	// Exactly once, and nothing leaks between doors or rooms.
	for _, c := range all {
		c.none(`42["news"`, 0)
		c.none(`42["said"`, 0)
		c.none(`{`, 0)
	}
	for i, c := range all {
		if i%2 == 0 {
			c.none(`42["dm"`, 300*time.Millisecond)
		}
	}
	for _, w := range wss {
		noMsg(t, w.name, w.msgs, `{"type":"said"`, 300*time.Millisecond)
	}
	for _, c := range all {
		c.none(`42["local"`, 0)
	}
}

// TestFleetOperations: socketsJoin, socketsLeave, fetchSockets,
// serverSideEmit and disconnectSockets made through Go's API on one
// instance act on the sockets of every instance.
func TestFleetOperations(t *testing.T) {
	f := newFleet(t)
	var ins []*instance
	for i := range 3 {
		ins = append(ins, f.start(fmt.Sprintf("go%d", i), f.sessions.URL(), redisadapter.BusConfig{}))
	}
	ann, bob := f.login("ann"), f.login("bob")
	var anns, bobs []*sioClient
	for _, in := range ins {
		anns = append(anns, f.dialSIO(in, ann, "ann"))
		bobs = append(bobs, f.dialSIO(in, bob, "bob"))
	}
	ctx := f.ctx
	bobRoom := socketio.BroadcastOptions{Rooms: []socketio.Room{chat.UserRoom("bob")}}
	team := socketio.BroadcastOptions{Rooms: []socketio.Room{"team"}}

	// socketsJoin from go0; a broadcast to the room from go2.
	if err := ins[0].ns.SocketsJoin(ctx, bobRoom, "team"); err != nil {
		t.Fatal(err)
	}
	waitRoom(t, ins[0], "team", 3)
	ins[2].ns.Broadcast(team, "team-news", 1)
	for _, c := range bobs {
		c.expect(`42["team-news",1]`)
	}
	for _, c := range anns {
		c.none(`42["team-news"`, 200*time.Millisecond)
	}

	// fetchSockets from go1 sees all six, with their rooms and users.
	got, err := ins[1].ns.FetchSockets(ctx, socketio.BroadcastOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 6 {
		t.Fatalf("fetchSockets: %d sockets, want 6: %+v", len(got), got)
	}
	inTeam := 0
	for _, s := range got {
		for _, r := range s.Rooms {
			if r == "team" {
				inTeam++
				if u := s.Data.(map[string]any)["user"]; u != "bob" {
					t.Errorf("%s in team is %v", s.ID, u)
				}
			}
		}
	}
	if inTeam != 3 {
		t.Errorf("%d sockets in team, want 3", inTeam)
	}

	// socketsLeave from go1: the room's broadcasts stop.
	if err := ins[1].ns.SocketsLeave(ctx, socketio.BroadcastOptions{}, "team"); err != nil {
		t.Fatal(err)
	}
	waitRoom(t, ins[1], "team", 0)
	ins[0].ns.Broadcast(team, "team-news", 2)
	for _, c := range bobs {
		c.none(`42["team-news",2]`, 200*time.Millisecond)
	}

	// serverSideEmit from go2 reaches go0 and go1, not go2.
	heard := make(chan string, 10)
	for _, in := range ins {
		in.ns.OnServerSideEmit("ping", func(args []any, ack func(any)) {
			if ack != nil {
				t.Errorf("%s: ack for a serverSideEmit without one", in.name)
			}
			heard <- fmt.Sprint(in.name, args)
		})
	}
	if err := ins[2].ns.ServerSideEmit(ctx, "ping", "x", 7); err != nil {
		t.Fatal(err)
	}
	var h []string
	for range 2 {
		select {
		case s := <-heard:
			h = append(h, s)
		case <-time.After(5 * time.Second):
			t.Fatalf("serverSideEmit heard by %v only", h)
		}
	}
	select {
	case s := <-heard:
		t.Errorf("serverSideEmit heard again: %s (before: %v)", s, h)
	case <-time.After(200 * time.Millisecond):
	}
	for _, s := range h {
		if strings.HasPrefix(s, "go2") || !strings.HasSuffix(s, "[x 7]") {
			t.Errorf("serverSideEmit heard as %s", s)
		}
	}

	// disconnectSockets of ann's room from go0: ann's sockets everywhere.
	if err := ins[0].ns.DisconnectSockets(ctx, socketio.BroadcastOptions{Rooms: []socketio.Room{chat.UserRoom("ann")}}, false); err != nil {
		t.Fatal(err)
	}
	for _, c := range anns {
		c.expect(`41`)
	}
	for _, c := range bobs {
		c.none(`41`, 200*time.Millisecond)
	}
	testenv.WaitFor(t, 10*time.Second, "ann's sockets gone", func() bool {
		n := 0
		for _, in := range ins {
			n += in.ns.Len()
		}
		return n == 3
	})
}

// waitRoom waits until fetchSockets from in counts want sockets in room:
// socketsJoin and socketsLeave reach the other instances without being
// waited for, as in socket.io.
func waitRoom(t *testing.T, in *instance, room socketio.Room, want int) {
	t.Helper()
	start := time.Now()
	testenv.WaitFor(t, 10*time.Second, fmt.Sprintf("fetchSockets of %s from %s counts %d", room, in.name, want), func() bool {
		got, err := in.ns.FetchSockets(context.Background(), roomOpts(room))
		return err == nil && len(got) == want
	})
	t.Logf("fetchSockets of %s from %s counted %d after %v", room, in.name, want, time.Since(start).Round(time.Millisecond))
}

func roomOpts(rooms ...socketio.Room) socketio.BroadcastOptions {
	return socketio.BroadcastOptions{Rooms: rooms}
}

// TestHandlerAsksTheFleet: a server-side event's handler may itself ask
// the fleet (FetchSockets, ServerSideEmitWithAck) on the adapter's
// goroutine and get every answer: answers do not wait behind the request
// being handled.
func TestHandlerAsksTheFleet(t *testing.T) {
	for _, sharded := range []bool{false, true} {
		t.Run(fmt.Sprintf("sharded=%v", sharded), func(t *testing.T) {
			f := newFleet(t)
			var ins []*instance
			for i := range 3 {
				ins = append(ins, f.start(fmt.Sprintf("go%d", i), f.sessions.URL(), redisadapter.BusConfig{Sharded: sharded}))
			}
			ann := f.login("ann")
			for _, in := range ins {
				f.dialSIO(in, ann, "ann")
			}
			for _, in := range ins {
				in.ns.OnServerSideEmit("hi", func(_ []any, ack func(any)) {
					if ack != nil {
						ack(in.name)
					}
				})
			}
			type census struct {
				sockets, answers int
				err              error
				took             time.Duration
			}
			got := make(chan census, 1)
			ins[0].ns.OnServerSideEmit("census", func([]any, func(any)) {
				start := time.Now()
				ctx, cancel := context.WithTimeout(f.ctx, 4*time.Second)
				defer cancel()
				sockets, err := ins[0].ns.FetchSockets(ctx, socketio.BroadcastOptions{})
				answers, err2 := ins[0].ns.ServerSideEmitWithAck(ctx, "hi")
				got <- census{len(sockets), len(answers), errors.Join(err, err2), time.Since(start)}
			})
			if err := ins[1].ns.ServerSideEmit(f.ctx, "census"); err != nil {
				t.Fatal(err)
			}
			select {
			case c := <-got:
				t.Logf("the handler's requests took %v", c.took)
				if c.err != nil || c.sockets != 3 || c.answers != 2 {
					t.Fatalf("from a handler: %d sockets, %d answers, %v; want 3, 2, nil", c.sockets, c.answers, c.err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the census never ran")
			}
		})
	}
}
