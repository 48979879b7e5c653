package redisadapter

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/socketio"
	"github.com/expressbridge/expressbridge/socketio/parser"
)

// TestEncodedRoundTrip: a Go broadcast becomes the adapter's packet and back
// into the same Socket.IO packet (binary attachments in place; map keys
// sorted), and a Node packet's Date becomes what JSON.stringify writes.
func TestEncodedRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		bins       [][]byte
		want       string
	}{
		{"plain", `2["said",{"user":"ann","text":"hi"}]`, nil, `2["said",{"text":"hi","user":"ann"}]`},
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
			b := &Broadcast{UID: "x", Packet: p}
			wire, err := b.Encode()
			if err != nil {
				t.Fatal(err)
			}
			back, err := DecodeBroadcast(wire)
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
	enc, err := encodedOf(&Packet{Type: PacketEvent, Nsp: "/", Data: []any{"d", map[string]any{"when": when, "b": []byte{9}}}})
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
