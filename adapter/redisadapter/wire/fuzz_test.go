package wire_test

import (
	"encoding/base64"
	"errors"
	"fmt"
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
	}
	return 0
}
