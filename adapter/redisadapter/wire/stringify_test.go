package wire_test

import (
	"math"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/adapter/redisadapter/wire"
)

// TestJSONDate: what JSON.stringify writes for a Date (new Date(ms).toJSON()
// in Node 20 for each case).
func TestJSONDate(t *testing.T) {
	for _, tc := range []struct {
		t    time.Time
		want any
	}{
		{time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC), "2026-01-02T03:04:05.006Z"},
		{time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600)), "2026-01-02T02:04:05.000Z"},
		{time.Date(2026, 1, 2, 3, 4, 5, 999_999_999, time.UTC), "2026-01-02T03:04:05.999Z"}, // truncated to the ms, as a Date holds it
		{time.Unix(0, 0), "1970-01-01T00:00:00.000Z"},
		{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), "+010000-01-01T00:00:00.000Z"},
		{time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), "-000001-01-01T00:00:00.000Z"},
		{time.Unix(8_640_000_000_000, 0), "+275760-09-13T00:00:00.000Z"},
		{time.Unix(8_640_000_000_001, 0), nil}, // Invalid Date: toJSON gives null
		{time.Unix(-8_640_000_000_001, 0), nil},
	} {
		if got := wire.JSONDate(tc.t); got != tc.want {
			t.Errorf("JSONDate(%v) = %v, want %v", tc.t, got, tc.want)
		}
	}
}

// TestJSONAsStringify: the JSON encoders write what JSON.stringify writes
// for the value Node holds: a JSON payload's 1e999 (Infinity) as null, a
// MessagePack timestamp (a Date) as its toJSON, wherever they are.
func TestJSONAsStringify(t *testing.T) {
	r, err := wire.DecodeRequest([]byte(`{"uid":"u","type":6,"data":["e",1e999,[-1e999],{"x":2}]}`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Encode()
	if want := `{"uid":"u","type":6,"data":["e",null,[null],{"x":2}]}`; err != nil || string(b) != want {
		t.Errorf("Request.Encode = %s, %v; want %s", b, err, want)
	}
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name string
		kind wire.RequestType
		res  wire.Response
		want string
	}{
		{"infinity", wire.RequestServerSideEmit, wire.Response{RequestID: "q", Data: math.Inf(1)}, `{"type":6,"requestId":"q","data":null}`},
		{"date", wire.RequestServerSideEmit, wire.Response{RequestID: "q", Data: map[string]any{"at": when}}, `{"type":6,"requestId":"q","data":{"at":"2026-01-02T03:04:05.000Z"}}`},
		{"socket data", wire.RequestRemoteFetch, wire.Response{RequestID: "q", Sockets: []wire.SocketInfo{{ID: "s", Data: []any{when}}}},
			`{"requestId":"q","sockets":[{"id":"s","handshake":null,"rooms":null,"data":["2026-01-02T03:04:05.000Z"]}]}`},
		{"plain", wire.RequestAllRooms, wire.Response{RequestID: "q", Rooms: []string{"a"}}, `{"requestId":"q","rooms":["a"]}`},
	} {
		b, err := tc.res.Encode(tc.kind)
		if err != nil || string(b) != tc.want {
			t.Errorf("%s: Response.Encode = %s, %v; want %s", tc.name, b, err, tc.want)
		}
	}
}
