package redisadapter_test

import (
	"encoding/base64"
	"errors"
	"testing"

	"github.com/expressbridge/expressbridge/adapter/redisadapter"
)

// FuzzDecode feeds every decoder the same bytes, seeded with the golden
// messages: none may panic, every failure must wrap ErrMalformed, and what
// decodes must encode again into bytes that decode.
func FuzzDecode(f *testing.F) {
	for _, m := range readVectors(f).Messages {
		p, err := base64.StdEncoding.DecodeString(m.Payload)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(p)
	}
	f.Add([]byte{0x93, 0xa0, 0x80, 0x80})
	f.Add([]byte(`{"type":2,"opts":{"rooms":[],"except":[]},"rooms":["a"]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if b, err := redisadapter.DecodeBroadcast(data); err == nil {
			enc, err := b.Encode()
			if err != nil {
				t.Fatalf("a decoded broadcast does not encode: %v", err)
			}
			if _, err := redisadapter.DecodeBroadcast(enc); err != nil {
				t.Fatalf("a re-encoded broadcast does not decode: %v", err)
			}
		} else if !errors.Is(err, redisadapter.ErrMalformed) {
			t.Fatalf("DecodeBroadcast: %v does not wrap ErrMalformed", err)
		}
		if r, err := redisadapter.DecodeRequest(data); err == nil {
			enc, err := r.Encode()
			if err != nil {
				t.Fatalf("a decoded request does not encode: %v", err)
			}
			if _, err := redisadapter.DecodeRequest(enc); err != nil {
				t.Fatalf("a re-encoded request does not decode: %v\n%q", err, enc)
			}
		} else if !errors.Is(err, redisadapter.ErrMalformed) {
			t.Fatalf("DecodeRequest: %v does not wrap ErrMalformed", err)
		}
		if _, err := redisadapter.DecodeResponse(data); err != nil && !errors.Is(err, redisadapter.ErrMalformed) {
			t.Fatalf("DecodeResponse: %v does not wrap ErrMalformed", err)
		}
		if m, err := redisadapter.DecodeClusterMessage(data); err == nil {
			if _, err := m.Encode(); err != nil {
				t.Fatalf("a decoded cluster message does not encode: %v", err)
			}
		} else if !errors.Is(err, redisadapter.ErrMalformed) {
			t.Fatalf("DecodeClusterMessage: %v does not wrap ErrMalformed", err)
		}
	})
}
