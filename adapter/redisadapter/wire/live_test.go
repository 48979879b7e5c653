package wire_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/expressbridge/expressbridge/adapter/redisadapter/wire"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// Against the real Node packages, on a real redis-server.

// updateEnv, set to 1, makes TestAdapterVectorsMatchNode rewrite the golden
// file from what the Node packages publish now (make vectors).
const updateEnv = "EXPRESSBRIDGE_UPDATE_VECTORS"

// goldenPackages are the npm packages whose versions the golden file records.
var goldenPackages = []string{"@socket.io/redis-adapter", "@socket.io/redis-emitter", "socket.io", "socket.io-adapter", "notepack.io"}

// TestAdapterVectorsMatchNode runs node-app/scripts/adapter-traffic.js
// (the real emitter, two Socket.IO servers on the real adapter, one on the
// sharded adapter) while subscribed to every channel; every message must
// decode, and the decodings, random ids aside, must be the committed
// golden messages: a change in the Node packages' wire format fails here.
func TestAdapterVectorsMatchNode(t *testing.T) {
	r := testenv.StartRedis(t)
	rc := r.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ps := rc.PSubscribe(ctx, "socket.io*")
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatalf("PSUBSCRIBE: %v", err)
	}
	ss := rc.SSubscribe(ctx, wire.ShardedChannel("sharded", "/"), wire.ShardedRoomChannel("sharded", "/", "room:s"))
	defer ss.Close()
	for range 2 {
		if _, err := ss.Receive(ctx); err != nil {
			t.Fatalf("SSUBSCRIBE: %v", err)
		}
	}
	classic, sharded := ps.Channel(), ss.Channel()

	testenv.EnsureNodeModules(t)
	start := time.Now()
	cmd := exec.CommandContext(ctx, testenv.Node(t), filepath.Join("scripts", "adapter-traffic.js"), r.URL())
	cmd.Dir = filepath.Join(testenv.RepoRoot(t), "node-app")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("adapter-traffic.js: %v\n%s", err, out)
	}
	took := time.Since(start)
	var channels []string
	var payloads [][]byte
	collect := func(ch <-chan *redis.Message) {
		for {
			select {
			case m := <-ch:
				channels = append(channels, m.Channel)
				payloads = append(payloads, []byte(m.Payload))
			case <-time.After(300 * time.Millisecond):
				return
			}
		}
	}
	collect(classic)
	collect(sharded)
	got := normalized(t, channels, payloads)
	t.Logf("captured %d messages from the Node packages in %v", len(got), took)

	f := vectorFile{
		Comment: "Messages the real Node packages published (node-app/scripts/adapter-traffic.js), " +
			"captured by TestAdapterVectorsMatchNode; random ids replaced by <idN> in channel and decoded. " +
			"Regenerate with make vectors.",
		Packages: nodeVersions(t),
		Messages: got,
	}
	if os.Getenv(updateEnv) == "1" {
		b, err := json.MarshalIndent(f, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(vectorPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorPath, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", vectorPath)
		return
	}
	want := readVectors(t)
	for _, p := range goldenPackages {
		if want.Packages[p] != f.Packages[p] {
			t.Errorf("%s is %s in node_modules, the golden messages come from %s: run make vectors", p, f.Packages[p], want.Packages[p])
		}
	}
	if len(got) != len(want.Messages) {
		t.Fatalf("the Node packages published %d messages, the golden file has %d: run make vectors if the change is intended",
			len(got), len(want.Messages))
	}
	for i, w := range want.Messages {
		g := got[i]
		if g.Channel != w.Channel || g.Kind != w.Kind || !jsonEqual(t, g.Decoded, w.Decoded) {
			t.Errorf("message %d differs from the golden file (make vectors if intended):\n got %s %s\nwant %s %s",
				i, g.Channel, g.Decoded, w.Channel, w.Decoded)
		}
	}
}

// nodeVersions reads the installed versions of goldenPackages.
func nodeVersions(t testing.TB) map[string]string {
	t.Helper()
	v := make(map[string]string)
	for _, p := range goldenPackages {
		b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "node-app", "node_modules", p, "package.json"))
		if err != nil {
			t.Fatalf("version of %s: %v", p, err)
		}
		var pkg struct{ Version string }
		if err := json.Unmarshal(b, &pkg); err != nil {
			t.Fatalf("version of %s: %v", p, err)
		}
		v[p] = pkg.Version
	}
	return v
}

// nodeLine is one line adapter-receive.js prints.
type nodeLine struct {
	Ready  bool   `json:"ready"`
	Client string `json:"client"`
	Server string `json:"server"`
	Args   []any  `json:"args"`
	raw    string
}

// TestGoEncodingAcceptedByNode publishes messages made by the Go encoder
// into Redis, where a real Socket.IO server with the real adapter and a
// real socket.io-client (node-app/scripts/adapter-receive.js) act on them:
// a broadcast to a room with a Buffer and a Date inside, socketsJoin then
// a broadcast to the joined room, serverSideEmit, fetchSockets and
// allRooms (the Node server's responses decoded by Go), socketsLeave, a
// broadcast with acks (client count and ack decoded), disconnectSockets.
func TestGoEncodingAcceptedByNode(t *testing.T) {
	r := testenv.StartRedis(t)
	rc := r.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const key, nsp, uid = wire.DefaultKey, "/", "go-test"
	responses := rc.Subscribe(ctx, wire.ResponseChannel(key, nsp))
	defer responses.Close()
	if _, err := responses.Receive(ctx); err != nil {
		t.Fatalf("SUBSCRIBE: %v", err)
	}
	resCh := responses.Channel()

	testenv.EnsureNodeModules(t)
	cmd := exec.CommandContext(ctx, testenv.Node(t), filepath.Join("scripts", "adapter-receive.js"), r.URL())
	cmd.Dir = filepath.Join(testenv.RepoRoot(t), "node-app")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
		if t.Failed() {
			t.Logf("adapter-receive.js stderr:\n%s", stderr.String())
		}
	})
	lines := make(chan nodeLine, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var l nodeLine
			if json.Unmarshal(sc.Bytes(), &l) == nil {
				l.raw = sc.Text()
				lines <- l
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	next := func(what string) nodeLine {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("adapter-receive.js ended while waiting for %s", what)
			}
			return l
		case <-time.After(10 * time.Second):
			t.Fatalf("no line from adapter-receive.js for %s", what)
		}
		return nodeLine{}
	}
	if l := next("ready"); !l.Ready {
		t.Fatalf("first line %s, want ready", l.raw)
	}
	publish := func(channel string, b []byte, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		if err := rc.Publish(ctx, channel, b).Err(); err != nil {
			t.Fatalf("PUBLISH: %v", err)
		}
	}
	broadcast := func(event string, args []any, opts wire.Options) {
		t.Helper()
		b := &wire.Broadcast{UID: uid, Packet: wire.Packet{Type: wire.PacketEvent, Nsp: nsp,
			Data: append([]any{event}, args...)}, Opts: opts}
		enc, err := b.Encode()
		publish(b.Channel(key), enc, err)
	}
	request := func(req *wire.Request) {
		t.Helper()
		enc, err := req.Encode()
		publish(wire.RequestChannel(key, nsp), enc, err)
	}
	response := func(what string) *wire.Response {
		t.Helper()
		select {
		case m := <-resCh:
			res, err := wire.DecodeResponse([]byte(m.Payload))
			if err != nil {
				t.Fatalf("%s: the Node server's response does not decode: %v", what, err)
			}
			return res
		case <-time.After(10 * time.Second):
			t.Fatalf("no response for %s", what)
		}
		return nil
	}
	expectClient := func(event, args string) {
		t.Helper()
		l := next(event)
		a, _ := json.Marshal(l.Args)
		if l.Client != event || !jsonEqual(t, a, []byte(args)) {
			t.Fatalf("the client got %s, want %s with %s", l.raw, event, args)
		}
	}
	user := wire.Options{Rooms: []string{"user:42"}}

	// 1. A broadcast to one room, on its room channel, Buffer and Date inside.
	when := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)
	broadcast("from-go", []any{map[string]any{"text": "hi ✓", "n": int64(42), "pi": 3.5, "bin": []byte{1, 2, 3},
		"when": when, "list": []any{int64(1), "two", nil, true}}}, user)
	expectClient("from-go", `[{"text":"hi ✓","n":42,"pi":3.5,"bin":{"$bin":"010203"},"when":"2026-01-02T03:04:05.006Z","list":[1,"two",null,true]}]`)

	// 2. socketsJoin, then a broadcast to the joined room.
	request(&wire.Request{UID: uid, Type: wire.RequestRemoteJoin, Opts: &user, Rooms: []string{"go-room"}})
	broadcast("in-go-room", []any{int64(1)}, wire.Options{Rooms: []string{"go-room"}})
	expectClient("in-go-room", `[1]`)

	// 3. serverSideEmit.
	request(&wire.Request{UID: uid, Type: wire.RequestServerSideEmit, Data: []any{"from-go-server", int64(1), "two"}})
	if l := next("serverSideEmit"); l.Server != "from-go-server" || len(l.Args) != 2 {
		t.Fatalf("the server got %s, want from-go-server [1, \"two\"]", l.raw)
	}

	// 4. fetchSockets and allRooms, answered by the Node server.
	request(&wire.Request{UID: uid, RequestID: "gofetch1", Type: wire.RequestRemoteFetch, Opts: &user})
	res := response("fetchSockets")
	if res.RequestID != "gofetch1" || len(res.Sockets) != 1 || !contains(res.Sockets[0].Rooms, "go-room") ||
		res.Sockets[0].Handshake == nil {
		t.Fatalf("fetchSockets response: %+v", res)
	}
	if d, _ := res.Sockets[0].Data.(map[string]any); d["name"] != "zoe" {
		t.Fatalf("fetchSockets: socket data %v", res.Sockets[0].Data)
	}
	request(&wire.Request{UID: uid, RequestID: "gorooms1", Type: wire.RequestAllRooms})
	if res := response("allRooms"); res.RequestID != "gorooms1" || !contains(res.Rooms, "go-room") || !contains(res.Rooms, "user:42") {
		t.Fatalf("allRooms response: %+v", res)
	}

	// 5. socketsLeave: a broadcast to the room it left does not arrive, the
	// next one to the user does.
	request(&wire.Request{UID: uid, Type: wire.RequestRemoteLeave, Opts: &user, Rooms: []string{"go-room"}})
	broadcast("left-room", nil, wire.Options{Rooms: []string{"go-room"}})
	broadcast("except-user", nil, wire.Options{Except: []string{"user:42"}})
	broadcast("after-leave", []any{"ok"}, user)
	expectClient("after-leave", `["ok"]`)

	// 6. A broadcast with acks: the Node server counts the clients and
	// forwards the client's ack.
	timeout := int64(2000)
	request(&wire.Request{UID: uid, RequestID: "goack1", Type: wire.RequestBroadcast,
		Packet: &wire.Packet{Type: wire.PacketEvent, Nsp: nsp, Data: []any{"q", int64(41)}},
		Opts:   &wire.Options{Rooms: []string{"user:42"}, Flags: wire.Flags{Timeout: &timeout}}})
	if l := next("q"); l.Client != "q" {
		t.Fatalf("the client got %s, want q", l.raw)
	}
	var count, ack *wire.Response
	for count == nil || ack == nil {
		res := response("broadcast with acks")
		switch {
		case res.RequestID != "goack1" || !res.HasType:
			t.Fatalf("broadcast with acks: unexpected response %+v", res)
		case res.Type == wire.RequestBroadcastClientCount:
			count = res
		case res.Type == wire.RequestBroadcastAck:
			ack = res
		}
	}
	a, _ := json.Marshal(ack.Packet)
	if count.ClientCount != 1 || !strings.Contains(string(a), `"answer":42`) {
		t.Fatalf("broadcast with acks: count %d, ack %s", count.ClientCount, a)
	}

	// 7. disconnectSockets(true).
	request(&wire.Request{UID: uid, Type: wire.RequestRemoteDisconnect, Opts: &user, Close: true})
	expectClient("disconnect", `["io server disconnect"]`)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
