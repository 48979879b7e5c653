//go:build linux

package bench

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// TestParseFrame checks the raw client's frame parser on whole, partial
// and extended-length server frames.
func TestParseFrame(t *testing.T) {
	small := serverText([]byte("hi"))
	if op, p, n := parseFrame(small); op != 1 || string(p) != "hi" || n != len(small) {
		t.Errorf("small frame: op %d payload %q n %d", op, p, n)
	}
	if _, _, n := parseFrame(small[:3]); n != 0 {
		t.Errorf("partial frame parsed as %d bytes", n)
	}
	big := serverText(bytes.Repeat([]byte{'x'}, 70000))
	if op, p, n := parseFrame(big); op != 1 || len(p) != 70000 || n != len(big) {
		t.Errorf("64-bit length frame: op %d, %d bytes, n %d", op, len(p), n)
	}
	mid := serverText(bytes.Repeat([]byte{'y'}, 300))
	if _, p, n := parseFrame(append(mid, small...)); len(p) != 300 || n != len(mid) {
		t.Errorf("16-bit length frame followed by another: %d bytes, n %d", len(p), n)
	}
}

// TestFloorFanout opens raw connections to the floor, has one send a
// message, and waits (bounded) until every connection has received it.
func TestFloorFanout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go ServeFloor(ln, io.Discard)
	pool, err := NewRawPool(ln.Addr().(*net.TCPAddr).Port, "/ws", Bare, [][4]byte{{127, 0, 0, 2}, {127, 0, 0, 3}})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	const n = 20
	sessions := []Session{NewSession("u1", "connect.sid=x")}
	if f, aborted := pool.Open(sessions, 0, n, 4, 10*time.Second); f.Total > 0 || aborted || pool.Len() != n {
		t.Fatalf("opened %d of %d: %+v, aborted %v", pool.Len(), n, f, aborted)
	}
	if err := pool.Send([]byte(`{"type":"said","text":"x"}`)); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); pool.Delivered() < n && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if got := pool.Delivered(); got != n {
		t.Errorf("delivered %d messages, want %d (one per connection)", got, n)
	}
}
