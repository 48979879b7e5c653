package wire_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/expressbridge/expressbridge/adapter/redisadapter/wire"
)

// TestLimits: hostile payloads fail with ErrMalformed before any large
// allocation or deep recursion.
func TestLimits(t *testing.T) {
	deep := bytes.Repeat([]byte{0x91}, wire.MaxDepth+2)
	deep = append(deep, 0xc0)
	for name, p := range map[string][]byte{
		"over MaxMessageSize":          append([]byte{0xc6, 0, 0x10, 0, 1}, make([]byte, 1<<20+1)...),
		"msgpack nested too deep":      deep,
		"json nested too deep":         []byte(`{"type":6,"data":` + strings.Repeat("[", wire.MaxDepth+2) + strings.Repeat("]", wire.MaxDepth+2) + `}`),
		"bin header of 2.6 GB":         {0xc6, 0x9f, 0x76, 0x32, 0x26, 1, 2},
		"array header of 4 G elements": {0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0},
		"str header past the end":      {0xdb, 0, 0, 1, 0, 'a'},
		"trailing bytes":               {0x93, 0xa0, 0x80, 0x80, 0xc0},
		"never-used code":              {0xc1},
		"not a triple":                 {0x92, 0xa0, 0x80},
		"json not an object":           []byte(`{"type":"x"}`),
		"packet data not an array":     {0x93, 0xa0, 0x82, 0xa4, 't', 'y', 'p', 'e', 0x02, 0xa4, 'd', 'a', 't', 'a', 0x01, 0x80},
		"unknown ext":                  {0x93, 0xa0, 0xd4, 0x05, 0x00, 0x80},
	} {
		_, err1 := wire.DecodeBroadcast(p)
		_, err2 := wire.DecodeRequest(p)
		_, err3 := wire.DecodeClusterMessage(p)
		for _, err := range []error{err1, err2, err3} {
			if !errors.Is(err, wire.ErrMalformed) {
				t.Errorf("%s: %v, want ErrMalformed", name, err)
			}
		}
	}
}
