package redisadapter_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/adapter/redisadapter"
	"github.com/expressbridge/expressbridge/internal/testenv"
	"github.com/expressbridge/expressbridge/socketio"
)

// The Node side of the fleet: the unmodified emitter and Socket.IO servers
// on the real adapter (node-app/scripts/push.js, adapter-peer.js).

// push runs node-app/scripts/push.js with the operations given.
func push(t *testing.T, redisURL string, ops ...string) {
	t.Helper()
	testenv.EnsureNodeModules(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, testenv.Node(t), append([]string{filepath.Join("scripts", "push.js"), redisURL}, ops...)...)
	cmd.Dir = filepath.Join(testenv.RepoRoot(t), "node-app")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("push.js %v: %v\n%s", ops, err, out)
	}
}

// nodePeer is node-app/scripts/adapter-peer.js: a Socket.IO server on the
// real adapter with one client in room "user:node".
type nodePeer struct {
	t     *testing.T
	stdin io.WriteCloser
	lines chan string
}

func startNodePeer(t *testing.T, redisURL string, sharded bool) *nodePeer {
	t.Helper()
	testenv.EnsureNodeModules(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, testenv.Node(t), filepath.Join("scripts", "adapter-peer.js"), redisURL)
	cmd.Dir = filepath.Join(testenv.RepoRoot(t), "node-app")
	if sharded {
		cmd.Env = append(cmd.Environ(), "SHARDED=1")
	}
	cmd.WaitDelay = 3 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &nodePeer{t: t, stdin: stdin, lines: make(chan string, 256)}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cancel()
			<-done
		}
		cancel()
		if t.Failed() {
			t.Logf("adapter-peer.js stderr:\n%s", stderr.String())
		}
	})
	expectMsg(t, "node peer", p.lines, `{"ready":true`)
	return p
}

func (p *nodePeer) command(v any) {
	p.t.Helper()
	b, _ := json.Marshal(v)
	if _, err := p.stdin.Write(append(b, '\n')); err != nil {
		p.t.Fatal(err)
	}
}

// TestEmitterPush: the unmodified @socket.io/redis-emitter, as an Express
// route would use it, reaches the sockets of three Go instances: an emit to
// a user's room, socketsJoin then an emit to the joined room,
// disconnectSockets, and a text frame to every /ws client.
func TestEmitterPush(t *testing.T) {
	f := newFleet(t)
	var ins []*instance
	for i := range 3 {
		ins = append(ins, f.start(fmt.Sprintf("go%d", i), f.sessions.URL(), redisadapter.BusConfig{}))
	}
	ann, bob := f.login("ann"), f.login("bob")
	var anns, bobs []*sioClient
	var wss []*wsClient
	for _, in := range ins {
		anns = append(anns, f.dialSIO(in, ann, "ann"))
		bobs = append(bobs, f.dialSIO(in, bob, "bob"))
		wss = append(wss, f.dialWS(in, bob, "bob"))
	}
	url := f.sessions.URL()
	push(t, url, "emit", "user:bob", "invoice", `{"id":42,"total":9.5,"paid":true}`)
	for _, c := range bobs {
		c.expectEvent(`["invoice",{"id":42,"paid":true,"total":9.5}]`)
	}
	for _, c := range anns {
		c.none(`42["invoice"`, 200*time.Millisecond)
	}

	push(t, url, "join", "user:ann", "room:beta", "--", "emit", "room:beta", "beta", `"for the beta room"`)
	for _, c := range anns {
		c.expectEvent(`["beta","for the beta room"]`)
	}
	for _, c := range bobs {
		c.none(`42["beta"`, 200*time.Millisecond)
	}

	push(t, url, "ws", `{"type":"said","user":"express","text":"pushed"}`)
	for _, w := range wss {
		expectMsg(t, w.name, w.msgs, `{"type":"said","user":"express","text":"pushed"}`)
	}

	push(t, url, "disconnect", "user:bob")
	for _, c := range bobs {
		c.expect(`41`)
	}
	testenv.WaitFor(t, 10*time.Second, "bob's sockets gone", func() bool {
		n := 0
		for _, in := range ins {
			n += in.ns.Len()
		}
		return n == 3
	})
}

// TestMixedFleet: a Node Socket.IO 4 server on the real
// @socket.io/redis-adapter and two Go instances on one Redis, with classic
// Pub/Sub (createAdapter) and sharded Pub/Sub (createShardedAdapter,
// subscriptionMode "static"). A broadcast from either side reaches the
// clients of both, once; fetchSockets and socketsJoin cross in both
// directions.
func TestMixedFleet(t *testing.T) {
	for _, sharded := range []bool{false, true} {
		t.Run(fmt.Sprintf("sharded=%v", sharded), func(t *testing.T) { testMixedFleet(t, sharded) })
	}
}

func testMixedFleet(t *testing.T, sharded bool) {
	f := newFleet(t)
	node := startNodePeer(t, f.sessions.URL(), sharded)
	g0 := f.start("go0", f.sessions.URL(), redisadapter.BusConfig{Sharded: sharded})
	g1 := f.start("go1", f.sessions.URL(), redisadapter.BusConfig{Sharded: sharded})
	// socket.data, set by a middleware, crosses the fleet both ways.
	for _, g := range []*instance{g0, g1} {
		name := g.name
		g.ns.Use(func(so *socketio.Socket) error {
			so.SetData(map[string]any{"user": so.User(), "instance": name})
			return nil
		})
	}
	ann := f.login("ann")
	c0, c1 := f.dialSIO(g0, ann, "ann"), f.dialSIO(g1, ann, "ann")

	// Go → Node and Go.
	g0.ns.Emit("from-go", map[string]any{"n": 1, "bin": false})
	expectMsg(t, "node client", node.lines, `{"client":"from-go","args":[{"bin":false,"n":1}]}`)
	c1.expectEvent(`["from-go",{"n":1,"bin":false}]`)
	c0.expectEvent(`["from-go",{"n":1,"bin":false}]`)
	// Binary from Go reaches Node as a Buffer.
	g1.ns.Emit("bytes", []byte{1, 2, 3})
	expectMsg(t, "node client", node.lines, `{"client":"bytes","args":[{"type":"Buffer","data":[1,2,3]}]}`)

	// Node → Go.
	node.command(map[string]any{"emit": []any{"from-node", map[string]any{"text": "hi", "list": []any{1, "two"}}}})
	c0.expectEvent(`["from-node",{"text":"hi","list":[1,"two"]}]`)
	c1.expectEvent(`["from-node",{"text":"hi","list":[1,"two"]}]`)
	expectMsg(t, "node client", node.lines, `{"client":"from-node"`)
	// Node to a Go user's room (the room channel, one room).
	node.command(map[string]any{"to": "user:ann", "emit": []any{"dm", "to ann"}})
	c0.expectEvent(`["dm","to ann"]`)
	c1.expectEvent(`["dm","to ann"]`)
	noMsg(t, "node client", node.lines, `{"client":"dm"`, 200*time.Millisecond)

	// Node's fetchSockets counts Go's sockets; Go's counts Node's.
	node.command(map[string]any{"fetch": true})
	fetched := expectMsg(t, "node peer", node.lines, `{"fetched":`)
	if !strings.HasPrefix(fetched, `{"fetched":3,`) {
		t.Errorf("Node's fetchSockets: %s, want 3 sockets", fetched)
	}
	if want := `"data":["{\"instance\":\"go0\",\"user\":\"ann\"}","{\"instance\":\"go1\",\"user\":\"ann\"}","{\"user\":\"node\"}"]}`; !strings.HasSuffix(fetched, want) {
		t.Errorf("Node's fetchSockets: %s, want data %s", fetched, want)
	}
	got, err := g0.ns.FetchSockets(f.ctx, socketio.BroadcastOptions{})
	if err != nil || len(got) != 3 {
		t.Errorf("Go's fetchSockets: %d sockets, %v; want 3", len(got), err)
	}
	var data []string
	for _, s := range got {
		b, _ := json.Marshal(s.Data)
		data = append(data, string(b))
	}
	slices.Sort(data)
	if want := []string{`{"instance":"go0","user":"ann"}`, `{"instance":"go1","user":"ann"}`, `{"user":"node"}`}; !slices.Equal(data, want) {
		t.Errorf("Go's fetchSockets data: %q, want %q", data, want)
	}
	// Go's socketsJoin moves the Node client; Node's moves Go's.
	g1.ns.SocketsJoin(f.ctx, socketio.BroadcastOptions{Rooms: []socketio.Room{"user:node"}}, "mixed")
	node.command(map[string]any{"in": "user:ann", "join": "mixed"})
	waitRoom(t, g1, "mixed", 3)
	g0.ns.Broadcast(socketio.BroadcastOptions{Rooms: []socketio.Room{"mixed"}}, "mixed-news", 1)
	expectMsg(t, "node client", node.lines, `{"client":"mixed-news","args":[1]}`)
	c0.expectEvent(`["mixed-news",1]`)
	c1.expectEvent(`["mixed-news",1]`)
	// Once each.
	c0.none(`42["from-node"`, 0)
	c0.none(`42["mixed-news"`, 200*time.Millisecond)
	c1.none(`42["from-node"`, 0)
	noMsg(t, "node client", node.lines, `{"client":"mixed-news"`, 200*time.Millisecond)
}

// TestMixedFleetAcks: acknowledgements across a mixed fleet (a Node
// Socket.IO 4 server on the real @socket.io/redis-adapter and two Go
// instances), classic and sharded.
func TestMixedFleetAcks(t *testing.T) {
	for _, sharded := range []bool{false, true} {
		t.Run(fmt.Sprintf("sharded=%v", sharded), func(t *testing.T) { testMixedFleetAcks(t, sharded) })
	}
}

func testMixedFleetAcks(t *testing.T, sharded bool) {
	f := newFleet(t)
	node := startNodePeer(t, f.sessions.URL(), sharded)
	g0 := f.start("go0", f.sessions.URL(), redisadapter.BusConfig{Sharded: sharded})
	g1 := f.start("go1", f.sessions.URL(), redisadapter.BusConfig{Sharded: sharded})
	for _, in := range []*instance{g0, g1} {
		in.ns.OnServerSideEmit("ping", func(args []any, ack func(any)) {
			if ack == nil {
				t.Errorf("%s: no ack for a serverSideEmit with one", in.name)
				return
			}
			ack(map[string]any{"go": in.name, "args": args})
			ack("twice") // only the first call answers
		})
	}

	// Node's serverSideEmit with a callback, and serverSideEmitWithAck: each
	// Go instance's answer, and nothing missing (err null before the
	// adapter's 5 s requestsTimeout).
	want := []string{`{"args":[1,"x"],"go":"go0"}`, `{"args":[1,"x"],"go":"go1"}`}
	for _, cmd := range []string{"sse", "sseWithAck"} {
		node.command(map[string]any{cmd: []any{"ping", 1, "x"}})
		got := expectAck(t, node, `{"sse":"ping"`)
		if !equalSorted(got, want) {
			t.Errorf("Node's %s: responses %v, want %v", cmd, got, want)
		}
	}

	// Go's ServerSideEmitWithAck: the Node server's handler and the other
	// Go instance answer; go0's own handler does not run.
	got, err := g0.ns.ServerSideEmitWithAck(f.ctx, "ping", 2)
	if err != nil {
		t.Fatalf("Go's ServerSideEmitWithAck: %v (answers %v)", err, got)
	}
	expectMsg(t, "node peer", node.lines, `{"server":"ping","args":[2],"ack":true}`)
	if g, w := jsonStrings(got), []string{`{"node":[2]}`, `{"args":[2],"go":"go1"}`}; !equalSorted(g, w) {
		t.Errorf("Go's ServerSideEmitWithAck: %v, want %v", g, w)
	}
	// An event only go1 answers: its answer, then the deadline.
	g1.ns.OnServerSideEmit("half", func(_ []any, ack func(any)) { ack("go1") })
	ctx, cancel := context.WithTimeout(f.ctx, 1500*time.Millisecond)
	defer cancel()
	got, err = g0.ns.ServerSideEmitWithAck(ctx, "half")
	if !errors.Is(err, context.DeadlineExceeded) || !slices.Equal(got, []any{"go1"}) {
		t.Errorf("ServerSideEmitWithAck without Node's answer: %v, %v; want [go1] and a deadline", got, err)
	}
}

func jsonStrings(vs []any) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		b, _ := json.Marshal(v)
		out[i] = string(b)
	}
	return out
}

// expectAck waits up to 8 s for the peer's line starting with prefix and
// returns its responses (each as sorted-key JSON); it fails the test when
// the line has an error.
func expectAck(t *testing.T, p *nodePeer, prefix string) []string {
	t.Helper()
	line := tryMsg(p.lines, prefix, 8*time.Second)
	if line == "" {
		t.Fatalf("node peer: no %s within 8 s", prefix)
	}
	var v struct {
		Err       *string
		Responses []any
	}
	if err := json.Unmarshal([]byte(line), &v); err != nil {
		t.Fatalf("node peer: %s: %v", line, err)
	}
	if v.Err != nil {
		t.Errorf("node peer: %s", line)
	}
	return jsonStrings(v.Responses)
}

// equalSorted reports whether got and want hold the same strings, in any order.
func equalSorted(got, want []string) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}

// TestMixedFleetBroadcastAcks: the real Node server's
// io.timeout(…).emit("question", 3, callback) reaches, with an ack id,
// socket.io-client instances (Node) connected to the two Go instances; the
// callback gets every client's answer (its own client's too) before the
// timeout; Go's BroadcastWithAck gets those of the Node server's client and
// of both Go instances' clients; classic and sharded.
func TestMixedFleetBroadcastAcks(t *testing.T) {
	for _, sharded := range []bool{false, true} {
		t.Run(fmt.Sprintf("sharded=%v", sharded), func(t *testing.T) { testMixedFleetBroadcastAcks(t, sharded) })
	}
}

func testMixedFleetBroadcastAcks(t *testing.T, sharded bool) {
	f := newFleet(t)
	node := startNodePeer(t, f.sessions.URL(), sharded)
	g0 := f.start("go0", f.sessions.URL(), redisadapter.BusConfig{Sharded: sharded})
	g1 := f.start("go1", f.sessions.URL(), redisadapter.BusConfig{Sharded: sharded})
	ann := f.login("ann")
	for _, in := range []*instance{g0, g1} {
		node.command(map[string]any{"dial": "http://" + in.host, "cookie": ann, "name": "ann@" + in.name})
		expectMsg(t, "node peer", node.lines, `{"dialed":"ann@`+in.name+`"}`)
	}
	testenv.WaitFor(t, 10*time.Second, "Go's sockets", func() bool { return g0.ns.Len() == 1 && g1.ns.Len() == 1 })

	node.command(map[string]any{"ask": []any{"question", 3}, "timeout": 4000})
	got := expectAck(t, node, `{"asked":"question"`)
	want := []string{`{"args":[3],"client":"node"}`, `{"args":[3],"client":"ann@go0"}`, `{"args":[3],"client":"ann@go1"}`}
	if !equalSorted(got, want) {
		t.Errorf("Node's broadcast with acks: responses %v, want %v", got, want)
	}
	// To one Go user's room only: the count Go publishes is the real one.
	node.command(map[string]any{"to": "user:ann", "ask": []any{"question", 4}, "timeout": 4000})
	got = expectAck(t, node, `{"asked":"question"`)
	want = []string{`{"args":[4],"client":"ann@go0"}`, `{"args":[4],"client":"ann@go1"}`}
	if !equalSorted(got, want) {
		t.Errorf("Node's broadcast with acks to user:ann: responses %v, want %v", got, want)
	}

	// Go's BroadcastWithAck from go0: its own client, go1's and the Node
	// server's answer, each once.
	ctx, cancel := context.WithTimeout(f.ctx, 4*time.Second)
	defer cancel()
	acks, err := g0.ns.BroadcastWithAck(ctx, socketio.BroadcastOptions{}, "question", 5)
	want = []string{`{"args":[5],"client":"node"}`, `{"args":[5],"client":"ann@go0"}`, `{"args":[5],"client":"ann@go1"}`}
	if g := firstArgs(t, acks); err != nil || !equalSorted(g, want) {
		t.Errorf("Go's BroadcastWithAck: %v, %v; want %v", g, err, want)
	}
	// A client on go1 that never answers: the others' answers, then the
	// deadline (go1 counted it: otherwise the three answers would complete
	// the broadcast with no error).
	f.dialSIO(g1, ann, "ann") // a raw client: it answers nothing
	ctx, cancel = context.WithTimeout(f.ctx, 2*time.Second)
	defer cancel()
	acks, err = g0.ns.BroadcastWithAck(ctx, socketio.BroadcastOptions{}, "question", 6)
	want = []string{`{"args":[6],"client":"node"}`, `{"args":[6],"client":"ann@go0"}`, `{"args":[6],"client":"ann@go1"}`}
	if g := firstArgs(t, acks); !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, socketio.ErrAckTimeout) || !equalSorted(g, want) {
		t.Errorf("Go's BroadcastWithAck with a silent client: %v, %v; want %v and a deadline", g, err, want)
	}
}

// firstArgs returns each acknowledgement's first argument as sorted-key JSON.
func firstArgs(t *testing.T, acks []socketio.Args) []string {
	t.Helper()
	out := make([]string, len(acks))
	for i, a := range acks {
		var v any
		if err := a.Decode(0, &v); err != nil {
			t.Errorf("ack %d: %v", i, err)
		}
		b, _ := json.Marshal(v)
		out[i] = string(b)
	}
	return out
}
