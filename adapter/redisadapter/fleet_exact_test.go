package redisadapter_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/adapter/redisadapter"
)

// exactPayload is node-app/scripts/exact-payload.js's TEXT (a plain "hi"
// for its text): out-of-order and array-index keys, integers beyond 2^53,
// 2^63 and 2^64, floats, -0.
const exactPayload = `{"order":1,"text":"hi","from":"a","2":"two","1":"one","nested":{"z":[3,{"y":-0,"x":0.1}],"a":null},` +
	`"big":9007199254740993,"bigger":12345678901234567890,"huge":123456789012345678901234567890,` +
	`"negbig":-9223372036854775809,"floats":[1.5,-2.25,1e-7,5e-324,-1e-300,123.456],"ints":[4294967296,-2147483649,255,-33]}`

// TestPayloadsCrossExactly: two Node Socket.IO servers (A, B) on the real
// @socket.io/redis-adapter and two Go instances on one Redis, with classic
// and sharded Pub/Sub. What Node A's broadcast gives Node B's client is the
// reference (Node→Node); the same payload reaches the Go instances' clients
// as the same text (Node→Go), and a Go instance's broadcast of it reaches
// both Node clients and the other Go instance's client as the same text
// (Go→Node, Go→Go): key order, numbers as Node holds them, binary nested
// in objects and arrays, a Date as JSON.stringify writes it.
func TestPayloadsCrossExactly(t *testing.T) {
	for _, sharded := range []bool{false, true} {
		t.Run(fmt.Sprintf("sharded=%v", sharded), func(t *testing.T) { testPayloadsCrossExactly(t, sharded) })
	}
}

func testPayloadsCrossExactly(t *testing.T, sharded bool) {
	f := newFleet(t)
	nodeA := startNodePeer(t, f.sessions.URL(), sharded)
	nodeB := startNodePeer(t, f.sessions.URL(), sharded)
	g0 := f.start("go0", f.sessions.URL(), redisadapter.BusConfig{Sharded: sharded})
	g1 := f.start("go1", f.sessions.URL(), redisadapter.BusConfig{Sharded: sharded})
	ann := f.login("ann")
	c0, c1 := f.dialSIO(g0, ann, "ann"), f.dialSIO(g1, ann, "ann")

	// 1. Node → Node, the reference: {"client":"exact","args":[ARGS]} is
	// JSON.stringify of what B's client got, which is the text B's server
	// sent it.
	nodeA.command(map[string]any{"emit": []any{"exact", json.RawMessage(exactPayload)}})
	ref := expectMsg(t, "node B client", nodeB.lines, `{"client":"exact",`)
	expectMsg(t, "node A client", nodeA.lines, `{"client":"exact",`)
	args := strings.TrimSuffix(strings.TrimPrefix(ref, `{"client":"exact","args":[`), `]}`)
	if want := `{"1":"one","2":"two","order":1,"text":"hi","from":"a",`; !strings.HasPrefix(args, want) {
		t.Fatalf("Node→Node gives %s, not starting %s", args, want)
	}
	t.Logf("Node→Node: %s", args)
	frame := `42["exact",` + args + `]`

	// 2. Node → Go: both Go instances' clients get the same text.
	for _, c := range []*sioClient{c0, c1} {
		if got := c.expect(`42["exact"`); got != frame {
			t.Errorf("Node→Go %s got\n%s\nNode→Node gives\n%s", c.name, got, frame)
		}
	}

	// 3. Go → Node and Go: go0's broadcast reaches both Node clients and
	// go1's client as Node A's did. (go0's own client gets the text as go0
	// encoded it, without crossing Redis.)
	g0.ns.Emit("exact", json.RawMessage(exactPayload))
	for _, p := range []*nodePeer{nodeA, nodeB} {
		if got := expectMsg(t, "node client", p.lines, `{"client":"exact",`); got != ref {
			t.Errorf("Go→Node got\n%s\nNode→Node gives\n%s", got, ref)
		}
	}
	if got := c1.expect(`42["exact"`); got != frame {
		t.Errorf("Go→Go got\n%s\nNode→Node gives\n%s", got, frame)
	}
	c0.expect(`42["exact"`)

	// 4. Binary nested in an object and an array, and a Date, from Node
	// (Go's API writes binary as top-level arguments only): Node B's client
	// and the Go clients see the same payload, Buffers as their toJSON.
	nodeA.command(map[string]any{"emitExact": "exact-bin"})
	refBin := expectMsg(t, "node B client", nodeB.lines, `{"client":"exact-bin",`)
	expectMsg(t, "node A client", nodeA.lines, `{"client":"exact-bin",`)
	wantBin := strings.TrimSuffix(strings.TrimPrefix(refBin, `{"client":"exact-bin","args":[`), `]}`)
	for _, c := range []*sioClient{c0, c1} {
		if got := c.binaryEvent(`"exact-bin"`); got != `["exact-bin",`+wantBin+`]` {
			t.Errorf("Node→Go %s got\n%s\nNode→Node gives\n[\"exact-bin\",%s]", c.name, got, wantBin)
		}
	}

	// 5. Top-level binary and an object from Go.
	g1.ns.Emit("exact-go-bin", []byte{0xff, 0, 7}, json.RawMessage(`{"z":{"y":1},"a":[2]}`))
	want := `{"client":"exact-go-bin","args":[{"type":"Buffer","data":[255,0,7]},{"z":{"y":1},"a":[2]}]}`
	for _, p := range []*nodePeer{nodeA, nodeB} {
		if got := expectMsg(t, "node client", p.lines, `{"client":"exact-go-bin",`); got != want {
			t.Errorf("Go→Node got\n%s\nwant\n%s", got, want)
		}
	}
	if got := c0.binaryEvent(`"exact-go-bin"`); got != `["exact-go-bin",{"type":"Buffer","data":[255,0,7]},{"z":{"y":1},"a":[2]}]` {
		t.Errorf("Go→Go got %s", got)
	}
}

// binaryEvent waits for a BINARY_EVENT whose data starts with name after
// '[', reads its attachments and returns its data with each placeholder
// replaced by the attachment's Buffer toJSON, the form socket.io-client's
// Buffers take in JSON.stringify.
func (c *sioClient) binaryEvent(name string) string {
	c.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		var m string
		select {
		case m = <-c.msgs:
		case <-deadline:
			c.t.Fatalf("%s: no binary event %s within 5 s", c.name, name)
		}
		dash := strings.IndexByte(m, '-')
		if !strings.HasPrefix(m, "45") || dash < 0 || !strings.HasPrefix(m[dash+1:], "["+name) {
			continue
		}
		n, err := strconv.Atoi(m[2:dash])
		if err != nil {
			c.t.Fatalf("%s: %q", c.name, m)
		}
		data := m[dash+1:]
		for i := range n {
			var att string
			select {
			case att = <-c.msgs:
			case <-deadline:
				c.t.Fatalf("%s: attachment %d of %d missing", c.name, i, n)
			}
			var buf strings.Builder
			buf.WriteString(`{"type":"Buffer","data":[`)
			for j := 0; j < len(att); j++ {
				if j > 0 {
					buf.WriteByte(',')
				}
				buf.WriteString(strconv.Itoa(int(att[j])))
			}
			buf.WriteString(`]}`)
			data = strings.Replace(data, fmt.Sprintf(`{"_placeholder":true,"num":%d}`, i), buf.String(), 1)
		}
		return data
	}
}
