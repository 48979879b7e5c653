package redisadapter

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/adapter/redisadapter/wire"
	"github.com/expressbridge/expressbridge/socketio"
	"github.com/expressbridge/expressbridge/socketio/parser"
)

// TestEncodedRoundTrip: a Go broadcast becomes the adapter's packet and back
// into the Socket.IO packet a Node server relaying it writes (keys in the
// sender's order, numbers as Node holds them, binary attachments in place,
// nested too), and a Node packet's Date becomes what JSON.stringify writes.
func TestEncodedRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		bins       [][]byte
		want       string
	}{
		{"plain", `2["said",{"user":"ann","text":"hi"}]`, nil, `2["said",{"user":"ann","text":"hi"}]`},
		{"key order", `2["m",{"order":1,"text":"hi","from":"a","in":{"z":1,"y":[{"b":1,"a":2}]}}]`, nil,
			`2["m",{"order":1,"text":"hi","from":"a","in":{"z":1,"y":[{"b":1,"a":2}]}}]`},
		{"numbers as Node holds them", `2["n",9007199254740993,12345678901234567890,-0,1.0,1e-7,0.1,1e999]`, nil,
			`2["n",9007199254740992,12345678901234567000,0,1,1e-7,0.1,null]`},
		{"nested binary", `52-["b",{"z":{"_placeholder":true,"num":0},"a":[{"_placeholder":true,"num":1}]}]`, [][]byte{{1}, {2}},
			`52-["b",{"z":{"_placeholder":true,"num":0},"a":[{"_placeholder":true,"num":1}]}]`},
		{"namespace", `2/chat,["n",1,2.5,-3,null,true,"x"]`, nil, `2/chat,["n",1,2.5,-3,null,true,"x"]`},
		{"big integers stay exact", `2["n",9007199254740991]`, nil, `2["n",9007199254740991]`},
		{"binary", `51-["bin",{"_placeholder":true,"num":0},"after"]`, [][]byte{{1, 2, 3}}, `51-["bin",{"_placeholder":true,"num":0},"after"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp, _ := parser.Decode([]byte(tc.text))
			p, err := packetOf(&socketio.Encoded{Text: []byte(tc.text), Attachments: tc.bins}, sp.Namespace)
			if err != nil {
				t.Fatal(err)
			}
			b := &wire.Broadcast{UID: "x", Packet: p}
			payload, err := b.Encode()
			if err != nil {
				t.Fatal(err)
			}
			back, err := wire.DecodeBroadcast(payload)
			if err != nil {
				t.Fatal(err)
			}
			enc, err := encodedOf(&back.Packet)
			if err != nil {
				t.Fatal(err)
			}
			if string(enc.Text) != tc.want || len(enc.Attachments) != len(tc.bins) {
				t.Errorf("got %s with %d attachments, want %s", enc.Text, len(enc.Attachments), tc.want)
			}
		})
	}
	when := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)
	enc, err := encodedOf(&wire.Packet{Type: wire.PacketEvent, Nsp: "/", Data: []any{"d", map[string]any{"when": when, "b": []byte{9}}}})
	if err != nil {
		t.Fatal(err)
	}
	var args []any
	json.Unmarshal(enc.Text[len("51-"):], &args)
	if got := args[1].(map[string]any)["when"]; got != "2026-01-02T03:04:05.006Z" {
		t.Errorf("a Date became %v", got)
	}
	if len(enc.Attachments) != 1 || enc.Attachments[0][0] != 9 {
		t.Errorf("nested binary: %v", enc.Attachments)
	}
	if _, err := packetOf(&socketio.Encoded{Text: []byte(`3["ack"]`)}, "/"); err == nil {
		t.Error("an ACK was turned into a broadcast")
	}
}

// TestAckValues: what crosses instances in an ack. A Go client's
// acknowledgement becomes its first argument as a value (binary as []byte);
// a value from another server becomes one argument for Go (binary as an
// attachment, a Date as JSON.stringify writes it); a Go handler's answer
// written as JSON is what JSON.stringify writes for the value Node has
// (a Buffer as {type, data}).
func TestAckValues(t *testing.T) {
	when := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)
	t.Run("ackValue", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			args socketio.Args
			want string
		}{
			{"none", socketio.NewArgs(nil, nil), "<nil>"},
			{"first only, in order", socketio.NewArgs([]json.RawMessage{[]byte(`{"b":[2.5,"x"],"a":1}`), []byte(`7`)}, nil), "[{b [2.5 x]} {a 1}]"},
			{"integer exact", socketio.NewArgs([]json.RawMessage{[]byte(`9007199254740993`)}, nil), "9007199254740993"},
			{"binary", socketio.NewArgs([]json.RawMessage{parser.Placeholder(0)}, [][]byte{{1, 2}}), "[1 2]"},
		} {
			if got := fmt.Sprint(ackValue(tc.args)); got != tc.want {
				t.Errorf("%s: ackValue = %s, want %s", tc.name, got, tc.want)
			}
		}
		if _, ok := ackValue(socketio.NewArgs([]json.RawMessage{[]byte(`9007199254740993`)}, nil)).(int64); !ok {
			t.Error("an integer is not an int64")
		}
	})
	t.Run("argsOf", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			v    any
			want string
			bins int
		}{
			{"nil", nil, `null`, 0},
			{"map", map[string]any{"n": int64(1), "s": "x"}, `{"n":1,"s":"x"}`, 0},
			{"object in order", wire.Object{{Key: "s", Value: "x"}, {Key: "n", Value: uint64(1 << 60)}}, `{"s":"x","n":1152921504606847000}`, 0},
			{"binary inside", map[string]any{"b": []byte{9}}, `{"b":{"_placeholder":true,"num":0}}`, 1},
			{"date", when, `"2026-01-02T03:04:05.006Z"`, 0},
		} {
			a := argsOf(tc.v)
			if a.Len() != 1 || string(a.Raw(0)) != tc.want {
				t.Errorf("%s: argsOf = %d args, %s; want %s", tc.name, a.Len(), a.Raw(0), tc.want)
			}
			if tc.bins > 0 {
				if b, ok := a.Bytes(0); ok || b != nil {
					t.Errorf("%s: a nested attachment read as the argument", tc.name)
				}
			}
		}
		if b, ok := argsOf([]byte{4, 5}).Bytes(0); !ok || string(b) != "\x04\x05" {
			t.Errorf("argsOf([]byte) = %v, %v", b, ok)
		}
	})
	t.Run("stringified", func(t *testing.T) {
		type answer struct {
			OK bool `json:"ok"`
		}
		for _, tc := range []struct {
			name string
			v    any
			want string
		}{
			{"buffer", []byte{1, 2}, `{"type":"Buffer","data":[1,2]}`},
			{"buffer inside", map[string]any{"b": []byte{3}}, `{"b":{"type":"Buffer","data":[3]}}`},
			{"object in order", wire.Object{{Key: "z", Value: int64(1)}, {Key: "a", Value: []byte{4}}}, `{"z":1,"a":{"type":"Buffer","data":[4]}}`},
			{"date", when, `"2026-01-02T03:04:05.006Z"`},
			{"struct", answer{OK: true}, `{"ok":true}`},
			{"string", "pong", `"pong"`},
		} {
			b, err := json.Marshal(stringified(tc.v))
			if err != nil || string(b) != tc.want {
				t.Errorf("%s: stringified = %s, %v; want %s", tc.name, b, err, tc.want)
			}
		}
	})
}

// TestAckTimeout: a broadcast's timeout flag, up to MaxRemoteAckTimeout
// (another server must not make Go hold sockets for hours, nor overflow a
// Duration).
func TestAckTimeout(t *testing.T) {
	ms := func(v int64) *wire.Options {
		o := &wire.Options{}
		o.Flags.Timeout = &v
		return o
	}
	for _, tc := range []struct {
		name string
		o    *wire.Options
		want time.Duration
	}{
		{"no options", nil, 0},
		{"no flag", &wire.Options{}, 0},
		{"zero", ms(0), 0},
		{"negative", ms(-5), 0},
		{"2 s", ms(2000), 2 * time.Second},
		{"an hour", ms(3_600_000), MaxRemoteAckTimeout},
		{"overflow", ms(math.MaxInt64), MaxRemoteAckTimeout},
	} {
		if got := ackTimeout(tc.o); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestCompressFlag: socket.io's compress(false) crosses the fleet as
// flags.compress false and arrives as NoCompress: the broadcast the real
// @socket.io/redis-adapter published for io.except("room:x").compress(false)
// .emit("plain", 2) (wire/testdata/messages.json, "server except, compress
// false") decodes to NoCompress, and Go publishes the same options byte for
// byte. Without NoCompress Go leaves the flag out, as socket.io does unless
// compress(…) was called; Node's compress(true) is the default.
func TestCompressFlag(t *testing.T) {
	node, _ := base64.StdEncoding.DecodeString("k6Y4dVZERWeDpHR5cGUCpGRhdGGSpXBsYWluAqNuc3ChL4Olcm9vbXOQpmV4Y2VwdJGmcm9vbTp4pWZsYWdzgahjb21wcmVzc8I=")
	b, err := wire.DecodeBroadcast(node)
	if err != nil {
		t.Fatal(err)
	}
	opts := broadcastOptionsOf(&b.Opts)
	if !opts.NoCompress {
		t.Fatalf("Node's compress(false) arrived as %+v", opts)
	}
	b.Opts = optionsOf(opts)
	if again, err := b.Encode(); err != nil || !bytes.Equal(again, node) {
		t.Errorf("Go's encoding of the same broadcast differs: %v\n got %x\nwant %x", err, again, node)
	}
	if f := optionsOf(socketio.BroadcastOptions{}).Flags; f.Compress != nil {
		t.Errorf("the default sends compress %v; socket.io leaves it out", *f.Compress)
	}
	yes := true
	if broadcastOptionsOf(&wire.Options{Flags: wire.Flags{Compress: &yes}}).NoCompress {
		t.Error("Node's compress(true) arrived as NoCompress")
	}
}
