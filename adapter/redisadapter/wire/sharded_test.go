package wire_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/expressbridge/expressbridge/adapter/redisadapter/wire"
)

// TestClusterMessageFields: the typed fields of a cluster message's Data,
// present, absent and of the wrong shape.
func TestClusterMessageFields(t *testing.T) {
	for _, tc := range []struct {
		name, json string
		want       string // RequestID Opts Packet Rooms Sockets ClientCount, as printed
		malformed  string // the accessors that must fail: o(pts) p(acket) r(ooms)
	}{
		{"empty", `{"type":3,"uid":"u","nsp":"/"}`, "|<nil>|<nil>|[]|[]|0", "p"},
		{"broadcast with acks",
			`{"type":3,"data":{"packet":{"type":2,"data":["e",1]},"opts":{"rooms":["r"],"except":["x"],"flags":{"timeout":500}},"requestId":"q"},"uid":"u","nsp":"/"}`,
			"q|[r] [x] 500|/ [e 1]|[]|[]|0", ""},
		{"socketsJoin", `{"type":4,"data":{"opts":{"rooms":[],"except":[]},"rooms":["a",7]},"uid":"u","nsp":"/"}`,
			"|[] [] <nil>|<nil>|[a 7]|[]|0", "p"},
		{"fetch answer", `{"type":8,"data":{"requestId":"q","sockets":[{"id":"s1","rooms":["s1"],"data":{"n":1}},"junk",{"id":3}]},"uid":"u","nsp":"/"}`,
			"q|<nil>|<nil>|[]|[s1]|0", "p"},
		{"client count", `{"type":11,"data":{"requestId":"q","clientCount":3},"uid":"u","nsp":"/"}`, "q|<nil>|<nil>|[]|[]|3", "p"},
		{"wrong shapes", `{"type":3,"data":{"packet":[],"opts":1,"rooms":{},"requestId":5,"clientCount":"x"},"uid":"u","nsp":"/"}`,
			"|<nil>|<nil>|[]|[]|0", "opr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := wire.DecodeClusterMessage([]byte(tc.json))
			if err != nil {
				t.Fatal(err)
			}
			o, errO := m.Opts()
			p, errP := m.Packet()
			r, errR := m.Rooms()
			var failed string
			for _, e := range []struct {
				c   string
				err error
			}{{"o", errO}, {"p", errP}, {"r", errR}} {
				if e.err != nil {
					if !errors.Is(e.err, wire.ErrMalformed) {
						t.Errorf("%s: %v does not wrap ErrMalformed", e.c, e.err)
					}
					failed += e.c
				}
			}
			os, ps := "<nil>", "<nil>"
			if o != nil {
				to := "<nil>"
				if o.Flags.Timeout != nil {
					to = fmt.Sprint(*o.Flags.Timeout)
				}
				os = fmt.Sprint(o.Rooms, " ", o.Except, " ", to)
			}
			if p != nil {
				ps = fmt.Sprint(p.Nsp, " ", p.Data)
			}
			var ids []string
			for _, s := range m.Sockets() {
				ids = append(ids, s.ID)
			}
			got := fmt.Sprintf("%s|%s|%s|%v|%v|%d", m.RequestID(), os, ps, r, ids, m.ClientCount())
			if got != tc.want || failed != tc.malformed {
				t.Errorf("got %s (failing %q), want %s (failing %q)", got, failed, tc.want, tc.malformed)
			}
		})
	}
}

// TestMapsRoundTrip: what the Map methods build decodes through the
// accessors to what went in, as MessagePack (binary inside) and as JSON.
func TestMapsRoundTrip(t *testing.T) {
	timeout := int64(250)
	o := wire.Options{Rooms: []string{"a"}, Flags: wire.Flags{Volatile: true, Timeout: &timeout}}
	s := wire.SocketInfo{ID: "s1", Rooms: []string{"s1", "a"}, Handshake: map[string]any{"url": "/"}, Data: "d"}
	for _, arg := range []any{[]byte{1}, "text"} {
		p := wire.Packet{Type: wire.PacketEvent, Nsp: "/chat", Data: []any{"said", arg}}
		payload, err := (&wire.ClusterMessage{Type: wire.ClusterBroadcast, UID: "u", Nsp: "/chat", Data: map[string]any{
			"packet": p.Map(), "opts": o.Map(), "sockets": []any{s.Map()}}}).Encode()
		if err != nil {
			t.Fatal(err)
		}
		m, err := wire.DecodeClusterMessage(payload)
		if err != nil {
			t.Fatal(err)
		}
		gp, err1 := m.Packet()
		gotO, err2 := m.Opts()
		socks := m.Sockets()
		if err1 != nil || err2 != nil || len(socks) != 1 {
			t.Fatalf("%q: %v %v %v", payload, err1, err2, socks)
		}
		got := fmt.Sprintf("%s %v %v %v %d %s %v %v", gp.Nsp, gp.Data, gotO.Rooms, gotO.Flags.Volatile, *gotO.Flags.Timeout,
			socks[0].ID, socks[0].Rooms, socks[0].Handshake)
		if want := fmt.Sprintf("/chat [said %v] [a] true 250 s1 [s1 a] map[url:/]", arg); got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
}
