package redisadapter

import (
	"testing"

	"github.com/expressbridge/expressbridge/adapter/redisadapter/wire"
	"github.com/expressbridge/expressbridge/socketio"
)

// BenchmarkConvert is one broadcast's conversions across the fleet: a Go
// packet to the adapter's (packetOf), its MessagePack both ways (Encode,
// DecodeBroadcast), and back to a packet for Go's sockets (encodedOf). It
// uses only functions that predate the order-preserving conversion, so
// that the same file measures the old path on an older commit.
func BenchmarkConvert(b *testing.B) {
	for _, bc := range []struct{ name, text string }{
		{"chat", `2["chat",{"order":1,"text":"hi","from":"a"}]`},
		{"mixed", `2["mixed",{"id":42,"user":{"name":"ann","roles":["admin","dev"],"since":"2026-01-02T03:04:05.006Z"},` +
			`"items":[{"sku":"a-1","qty":2,"price":9.5},{"sku":"b-2","qty":1,"price":120.25}],"total":139.25,"paid":true,"note":null}]`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			enc := &socketio.Encoded{Text: []byte(bc.text)}
			b.ReportAllocs()
			for b.Loop() {
				p, err := packetOf(enc, "/")
				if err != nil {
					b.Fatal(err)
				}
				payload, err := (&wire.Broadcast{UID: "bench", Packet: p}).Encode()
				if err != nil {
					b.Fatal(err)
				}
				back, err := wire.DecodeBroadcast(payload)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := encodedOf(&back.Packet); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
