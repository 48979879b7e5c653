package wire_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/adapter/redisadapter/wire"
)

// Golden messages: testdata/messages.json holds what the real
// Node packages published (node-app/scripts/adapter-traffic.js, captured by
// TestAdapterVectorsMatchNode), each with the decoding this package must
// give, random ids replaced by placeholders.

// vectorFile is the golden file's layout.
type vectorFile struct {
	Comment  string            `json:"comment"`
	Packages map[string]string `json:"packages"`
	Messages []vector          `json:"messages"`
}

type vector struct {
	Channel string          `json:"channel"` // random ids replaced
	Kind    string          `json:"kind"`    // broadcast, request, response or cluster
	Payload string          `json:"payload"` // base64 of the bytes as published
	Decoded json.RawMessage `json:"decoded"` // view of the decoding, random ids replaced
}

// vectorPath is the golden file, beside this package (go test runs in its
// folder).
const vectorPath = "testdata/messages.json"

func readVectors(t testing.TB) vectorFile {
	t.Helper()
	b, err := os.ReadFile(vectorPath)
	if err != nil {
		t.Fatalf("read the golden messages: %v (make vectors regenerates them)", err)
	}
	var f vectorFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("golden messages: %v", err)
	}
	if len(f.Messages) == 0 {
		t.Fatal("golden messages: none")
	}
	return f
}

// kindOf names the decoder for a channel.
func kindOf(channel string) string {
	switch {
	case strings.HasPrefix(channel, "socket.io-request#"):
		return "request"
	case strings.HasPrefix(channel, "socket.io-response#"):
		return "response"
	case strings.HasPrefix(channel, "socket.io#"):
		return "broadcast"
	case strings.HasPrefix(channel, "sharded#"):
		return "cluster"
	}
	return ""
}

// decoded is one message decoded by kind.
type decoded struct {
	broadcast *wire.Broadcast
	request   *wire.Request
	response  *wire.Response
	cluster   *wire.ClusterMessage
}

func decode(kind string, payload []byte) (decoded, error) {
	var d decoded
	var err error
	switch kind {
	case "broadcast":
		d.broadcast, err = wire.DecodeBroadcast(payload)
	case "request":
		d.request, err = wire.DecodeRequest(payload)
	case "response":
		d.response, err = wire.DecodeResponse(payload)
	case "cluster":
		d.cluster, err = wire.DecodeClusterMessage(payload)
	default:
		err = fmt.Errorf("unknown kind %q", kind)
	}
	return d, err
}

// tokens are the random ids of a message: adapter uids, request ids,
// socket ids.
func (d decoded) tokens() []string {
	var s []string
	add := func(x string) {
		if x != "" && x != wire.EmitterUID {
			s = append(s, x)
		}
	}
	switch {
	case d.broadcast != nil:
		add(d.broadcast.UID)
	case d.request != nil:
		add(d.request.UID)
		add(d.request.RequestID)
	case d.response != nil:
		add(d.response.RequestID)
		for _, x := range d.response.Sockets {
			add(x.ID)
		}
		for _, x := range d.response.SocketIDs {
			add(x)
		}
	case d.cluster != nil:
		add(d.cluster.UID)
		if id, ok := d.cluster.Data["requestId"].(string); ok {
			add(id)
		}
	}
	return s
}

// view is the decoding as plain JSON: []byte as {"$bin": hex}, time.Time as
// {"$date": RFC 3339}, a handshake as its sorted keys.
func (d decoded) view() any {
	switch {
	case d.broadcast != nil:
		b := d.broadcast
		return map[string]any{"uid": b.UID, "packet": packetView(&b.Packet), "opts": optsView(&b.Opts)}
	case d.request != nil:
		r := d.request
		m := map[string]any{"uid": r.UID, "requestId": r.RequestID, "type": int(r.Type), "rooms": r.Rooms,
			"close": r.Close, "data": value(r.Data), "sid": r.SID, "room": r.Room}
		if r.Packet != nil {
			m["packet"] = packetView(r.Packet)
		}
		if r.Opts != nil {
			m["opts"] = optsView(r.Opts)
		}
		return m
	case d.response != nil:
		r := d.response
		m := map[string]any{"hasType": r.HasType, "type": int(r.Type), "requestId": r.RequestID, "socketIds": r.SocketIDs,
			"rooms": r.Rooms, "data": value(r.Data), "clientCount": r.ClientCount, "packet": value(r.Packet)}
		var socks []any
		for _, s := range r.Sockets {
			keys := make([]string, 0, len(s.Handshake))
			for k := range s.Handshake {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			socks = append(socks, map[string]any{"id": s.ID, "handshakeKeys": keys, "rooms": s.Rooms, "data": value(s.Data)})
		}
		m["sockets"] = socks
		return m
	case d.cluster != nil:
		return map[string]any{"type": int(d.cluster.Type), "uid": d.cluster.UID, "nsp": d.cluster.Nsp, "data": value(d.cluster.Data)}
	}
	return nil
}

func packetView(p *wire.Packet) any {
	m := map[string]any{"type": p.Type, "nsp": p.Nsp, "data": value(p.Data)}
	if p.ID != nil {
		m["id"] = *p.ID
	}
	return m
}

func optsView(o *wire.Options) any {
	f := map[string]any{"volatile": o.Flags.Volatile, "local": o.Flags.Local, "broadcast": o.Flags.Broadcast,
		"expectSingleResponse": o.Flags.ExpectSingleResponse, "compress": o.Flags.Compress, "binary": o.Flags.Binary,
		"timeout": o.Flags.Timeout, "other": value(o.Flags.Other)}
	return map[string]any{"rooms": o.Rooms, "except": o.Except, "flags": f}
}

func value(v any) any {
	switch v := v.(type) {
	case wire.Object: // the view compares members, order is checked byte for byte
		m := make(map[string]any, len(v))
		for _, x := range v {
			m[x.Key] = x.Value
		}
		return value(m)
	case []byte:
		return map[string]any{"$bin": hex.EncodeToString(v)}
	case time.Time:
		return map[string]any{"$date": v.UTC().Format(time.RFC3339Nano)}
	case []any:
		out := make([]any, len(v))
		for i := range v {
			out[i] = value(v[i])
		}
		return out
	case map[string]any:
		if v == nil {
			return nil
		}
		out := make(map[string]any, len(v))
		for k, x := range v {
			if k == "handshake" {
				if h, ok := x.(map[string]any); ok {
					keys := make([]string, 0, len(h))
					for hk := range h {
						keys = append(keys, hk)
					}
					slices.Sort(keys)
					out["handshakeKeys"] = keys
					continue
				}
			}
			out[k] = value(x)
		}
		return out
	}
	return v
}

// normalizer replaces random ids by placeholders in order of appearance.
type normalizer struct {
	seen []string
}

func (n *normalizer) learn(tokens []string) {
	for _, tok := range tokens {
		if !slices.Contains(n.seen, tok) {
			n.seen = append(n.seen, tok)
		}
	}
}

func (n *normalizer) apply(s string) string {
	for i, tok := range n.seen {
		s = strings.ReplaceAll(s, tok, fmt.Sprintf("<id%d>", i+1))
	}
	return s
}

// normalized turns captured messages into vectors: channel and decoding
// with random ids replaced.
func normalized(t testing.TB, channels []string, payloads [][]byte) []vector {
	t.Helper()
	var n normalizer
	ds := make([]decoded, len(payloads))
	for i, p := range payloads {
		kind := kindOf(channels[i])
		d, err := decode(kind, p)
		if err != nil {
			t.Fatalf("message %d on %s (%s): %v\n%s", i, channels[i], kind, err, hex.Dump(p))
		}
		ds[i] = d
		n.learn(d.tokens())
	}
	out := make([]vector, len(payloads))
	for i, d := range ds {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(d.view()); err != nil {
			t.Fatal(err)
		}
		out[i] = vector{Channel: n.apply(channels[i]), Kind: kindOf(channels[i]),
			Payload: base64.StdEncoding.EncodeToString(payloads[i]),
			Decoded: json.RawMessage(strings.TrimSpace(n.apply(b.String())))}
	}
	return out
}

// TestGoldenMessagesDecode decodes every committed message and compares
// with its recorded decoding; then re-encodes it with the Go encoder and
// checks that the bytes decode to the same thing.
func TestGoldenMessagesDecode(t *testing.T) {
	f := readVectors(t)
	channels := make([]string, len(f.Messages))
	payloads := make([][]byte, len(f.Messages))
	for i, m := range f.Messages {
		channels[i] = m.Channel
		p, err := base64.StdEncoding.DecodeString(m.Payload)
		if err != nil {
			t.Fatalf("message %d: payload: %v", i, err)
		}
		payloads[i] = p
	}
	got := normalized(t, channels, payloads)
	kinds := map[string]int{}
	for i, m := range f.Messages {
		kinds[m.Kind]++
		if !jsonEqual(t, got[i].Decoded, m.Decoded) {
			t.Errorf("message %d on %s decodes to\n%s\nwant\n%s", i, m.Channel, got[i].Decoded, m.Decoded)
		}
		d, _ := decode(m.Kind, payloads[i])
		again, err := reencode(m.Kind, d, payloads[i])
		if err != nil {
			t.Errorf("message %d: re-encode: %v", i, err)
			continue
		}
		d2, err := decode(m.Kind, again)
		if err != nil {
			t.Errorf("message %d: the Go encoding does not decode: %v", i, err)
			continue
		}
		if !reflect.DeepEqual(canon(t, d.view()), canon(t, d2.view())) {
			t.Errorf("message %d on %s: round trip through the Go encoder changed it:\n%s\n%s", i, m.Channel,
				canon(t, d.view()), canon(t, d2.view()))
		}
		if m.Kind != "cluster" && bytes.Equal(again, payloads[i]) {
			kinds["byte-exact "+m.Kind]++
		}
		if ev := d.event(); strings.HasPrefix(ev, "exact-") {
			// Payloads that must cross exactly: Go writes them again byte
			// for byte (key order, notepack.io's number forms, nested
			// binary).
			// The emitter writes its options in another order
			// ({rooms, flags, except}) than the adapter Go speaks for; its
			// packet's data must still be the same bytes.
			kinds["exact payloads"]++
			if d.broadcast != nil && d.broadcast.UID == wire.EmitterUID {
				data, err := wire.EncodeMsgpackValue(d.broadcast.Packet.Data)
				if err != nil || !bytes.Contains(payloads[i], data) {
					t.Errorf("message %d (%s): Go writes the data as\n%q (%v)\nnot found in what the emitter wrote\n%q", i, ev, data, err, payloads[i])
				}
			} else if !bytes.Equal(again, payloads[i]) {
				t.Errorf("message %d (%s): Go re-encodes\n%q\nNode wrote\n%q", i, ev, again, payloads[i])
			}
		}
	}
	t.Logf("%d golden messages from %v: %v", len(f.Messages), f.Packages, kinds)
}

// event is the event name of a broadcast or a serverSideEmit request, ""
// for other messages.
func (d decoded) event() string {
	var data []any
	switch {
	case d.broadcast != nil:
		data = d.broadcast.Packet.Data
	case d.request != nil:
		data = d.request.Data
	}
	if d.response != nil && (exactAnswer(d.response.Data) || exactAnswer(d.response.Packet)) {
		return "exact-answer"
	}
	if len(data) == 0 {
		return ""
	}
	ev, _ := data[0].(string)
	return ev
}

// exactAnswer reports whether v is (or holds at its top) the traffic
// script's exact payload, an object whose first key is "order" once its
// array-index keys are enumerated first.
func exactAnswer(v any) bool {
	if a, ok := v.([]any); ok && len(a) > 0 {
		v = a[0]
	}
	o, ok := v.(wire.Object)
	return ok && len(o) > 2 && o[2].Key == "order"
}

// reencode encodes d again; a response needs the kind of request it
// answers, found from its fields as the requester would know it.
func reencode(kind string, d decoded, orig []byte) ([]byte, error) {
	switch kind {
	case "broadcast":
		return d.broadcast.Encode()
	case "request":
		return d.request.Encode()
	case "response":
		r := d.response
		k := wire.RequestRemoteJoin
		switch {
		case r.HasType:
			k = r.Type
		case r.Sockets != nil || bytes.Contains(orig, []byte(`"sockets":[]`)):
			k = wire.RequestRemoteFetch
		case r.SocketIDs != nil:
			k = wire.RequestSockets
		case r.Rooms != nil:
			k = wire.RequestAllRooms
		}
		return r.Encode(k)
	case "cluster":
		return d.cluster.Encode()
	}
	return nil, fmt.Errorf("kind %q", kind)
}

func canon(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func jsonEqual(t testing.TB, a, b []byte) bool {
	t.Helper()
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
