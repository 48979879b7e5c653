package wire_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/expressbridge/expressbridge/adapter/redisadapter/wire"
)

// One fuzz target per decoder, each seeded with every golden message (a
// decoder must also refuse cleanly what another decoder's channel carries):
// none may panic, every failure must wrap ErrMalformed, and what decodes
// must encode again into bytes that decode.

// seed adds the golden messages and a few hand-made ones to f's corpus.
func seed(f *testing.F) {
	for _, m := range readVectors(f).Messages {
		p, err := base64.StdEncoding.DecodeString(m.Payload)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(p)
	}
	f.Add([]byte{0x93, 0xa0, 0x80, 0x80})
	f.Add([]byte(`{"type":2,"opts":{"rooms":[],"except":[]},"rooms":["a"]}`))
	f.Add([]byte(`{"type":6,"data":["e",1e999,{"x":-1e999}]}`))
	f.Add([]byte{0x82, 0xa4, 't', 'y', 'p', 'e', 0x06, 0xa4, 'd', 'a', 't', 'a', 0x91, // {type: 6, data: [a Date of year 33658]}
		0xc7, 12, 0xff, 0, 0, 0, 0, 0, 0, 0, 0xe8, 0xd4, 0xa5, 0x10, 0})
	f.Add([]byte(`{"type":3,"data":{"packet":{"type":2,"data":["x"],"nsp":"/"},"opts":{"rooms":["r"],"except":[]},"requestId":"1"},"uid":"u","nsp":"/"}`))
}

// malformedOnly fails t when err is neither nil nor ErrMalformed.
func malformedOnly(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil && !errors.Is(err, wire.ErrMalformed) {
		t.Fatalf("%s: %v does not wrap ErrMalformed", what, err)
	}
}

// roundTrip fuzzes decode: what it refuses wraps ErrMalformed; what it
// takes, encode writes (nil bytes: nothing to re-encode), and decode
// takes that again.
func roundTrip[T any](f *testing.F, name string, decode func([]byte) (T, error), encode func(T) ([]byte, error)) {
	seed(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := decode(data)
		if malformedOnly(t, name, err); err != nil {
			return
		}
		enc, err := encode(v)
		if err != nil {
			t.Fatalf("%s: what decodes does not encode: %v", name, err)
		}
		if enc == nil {
			return
		}
		if _, err := decode(enc); err != nil {
			t.Fatalf("%s: what re-encodes does not decode: %v\n%q", name, err, enc)
		}
	})
}

func FuzzDecodeBroadcast(f *testing.F) {
	roundTrip(f, "DecodeBroadcast", wire.DecodeBroadcast, (*wire.Broadcast).Encode)
}

func FuzzDecodeRequest(f *testing.F) {
	roundTrip(f, "DecodeRequest", wire.DecodeRequest, (*wire.Request).Encode)
}

// A response is re-encoded when it names its kind (the others' kind only
// the requester knows).
func FuzzDecodeResponse(f *testing.F) {
	roundTrip(f, "DecodeResponse", wire.DecodeResponse, func(r *wire.Response) ([]byte, error) {
		if !r.HasType {
			return nil, nil
		}
		return r.Encode(r.Type)
	})
}

// A cluster message is re-encoded, and the typed fields of its Data fail,
// when they do, with ErrMalformed.
func FuzzDecodeClusterMessage(f *testing.F) {
	roundTrip(f, "DecodeClusterMessage", wire.DecodeClusterMessage, func(m *wire.ClusterMessage) ([]byte, error) {
		_, errO := m.Opts()
		_, errP := m.Packet()
		_, errR := m.Rooms()
		_, _, _ = m.RequestID(), m.Sockets(), m.ClientCount()
		for _, err := range []error{errO, errP, errR} {
			if err != nil && !errors.Is(err, wire.ErrMalformed) {
				return nil, fmt.Errorf("a field: %v does not wrap ErrMalformed", err)
			}
		}
		return m.Encode()
	})
}

func FuzzDecodeJSONValue(f *testing.F) {
	for _, s := range []string{`null`, `1`, `-2.5e3`, `9007199254740993`, `"x"`, `[1,{"a":[true,null]}]`, `{"a":1} 2`, `[[[[`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := wire.DecodeJSONValue(data)
		// The reader takes exactly what encoding/json calls valid, within
		// the limits.
		valid := json.Valid(data)
		if err == nil && !valid {
			t.Fatalf("accepted what is not JSON: %q", data)
		}
		if err != nil && valid && len(data) <= wire.MaxMessageSize {
			var x any
			if json.Unmarshal(data, &x) == nil && depth(x) < wire.MaxDepth {
				t.Fatalf("refused valid JSON %q: %v", data, err)
			}
		}
		if malformedOnly(t, "DecodeJSONValue", err); err != nil {
			return
		}
		// A value rides in a response: Encode writes it as JSON.stringify
		// would (±Inf as null), and the bytes decode unless the
		// response's own map makes them nest too deep.
		enc, err := (&wire.Response{Data: v}).Encode(wire.RequestServerSideEmit)
		if err != nil {
			t.Fatalf("a decoded value does not encode: %v", err)
		}
		if _, err := wire.DecodeResponse(enc); err != nil && depth(v) < wire.MaxDepth {
			t.Fatalf("a re-encoded value does not decode: %v\n%q", err, enc)
		}
	})
}

// depth is how deep arrays and maps nest in v (0 for a scalar).
func depth(v any) int {
	d := 0
	switch v := v.(type) {
	case []any:
		for _, x := range v {
			d = max(d, depth(x))
		}
		return d + 1
	case map[string]any:
		for _, x := range v {
			d = max(d, depth(x))
		}
		return d + 1
	case wire.Object:
		for _, x := range v {
			d = max(d, depth(x.Value))
		}
		return d + 1
	}
	return 0
}

// FuzzJSONMsgpackRoundTrip: the one conversion, on any JSON. A value
// decoded from JSON is written back as JSON.stringify writes it (j1),
// which decodes and writes again to the same text; through MessagePack
// and back it is j1 again, key order included, unless it holds an integer
// notepack.io wraps (2^64 and up, below -2^63: documented at
// encodeNumber), and then a second trip changes nothing more; MessagePack
// Go wrote decodes and re-encodes to the same bytes when nothing wraps.
func FuzzJSONMsgpackRoundTrip(f *testing.F) {
	for _, s := range []string{`{"order":1,"text":"hi","from":"a"}`, `{"b":1,"2":2,"a":3,"1":4,"a":5}`,
		`[9007199254740993,12345678901234567890,123456789012345678901234567890,-0,1e-7,0.1,1e21,1e999,-1e999]`,
		`{"z":[{"y":{"x":[]}},{}],"s":"\u2028\ud800\"\\/\u0000é"}`, `-9223372036854775809`, `18446744073709551615`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := wire.DecodeJSONValue(data)
		if err != nil || depth(v) >= wire.MaxDepth {
			return
		}
		j1, err := wire.AppendJSON(nil, v, nil)
		if err != nil {
			t.Fatalf("AppendJSON: %v", err)
		}
		v1, err := wire.DecodeJSONValue(j1)
		if err != nil {
			t.Fatalf("AppendJSON wrote what does not decode: %v\n%s", err, j1)
		}
		if again, _ := wire.AppendJSON(nil, v1, nil); !bytes.Equal(again, j1) {
			t.Fatalf("JSON → JSON is not stable:\n%s\n%s", j1, again)
		}
		b, err := wire.EncodeMsgpackValue(v)
		if err != nil {
			t.Fatalf("EncodeMsgpackValue: %v", err)
		}
		if len(b) > wire.MaxMessageSize {
			return
		}
		m, err := wire.DecodeMsgpackValue(b)
		if err != nil {
			t.Fatalf("Go's MessagePack does not decode: %v\n%x", err, b)
		}
		j2, _ := wire.AppendJSON(nil, m, nil)
		b2, _ := wire.EncodeMsgpackValue(m)
		if !wraps(v) {
			if !bytes.Equal(j2, j1) {
				t.Fatalf("JSON → MessagePack → JSON changed it:\n%s\n%s", j1, j2)
			}
			if !bytes.Equal(b2, b) {
				t.Fatalf("MessagePack → MessagePack changed it:\n%x\n%x", b, b2)
			}
			return
		}
		m2, err := wire.DecodeMsgpackValue(b2)
		if err != nil {
			t.Fatal(err)
		}
		if j3, _ := wire.AppendJSON(nil, m2, nil); !bytes.Equal(j3, j2) {
			t.Fatalf("a second trip changed it:\n%s\n%s", j2, j3)
		}
	})
}

// wraps reports whether v holds an integral number notepack.io writes
// wrapped (2^64 and up, below -2^63).
func wraps(v any) bool {
	switch v := v.(type) {
	case float64:
		return v == math.Trunc(v) && !math.IsInf(v, 0) && (v >= 1<<64 || v < -1<<63)
	case []any:
		return slices.ContainsFunc(v, wraps)
	case wire.Object:
		return slices.ContainsFunc(v, func(m wire.Member) bool { return wraps(m.Value) })
	}
	return false
}
