package expressbridge

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
)

// TestConnCapIdleOrder: the connection shed is the one whose last request
// started first, whatever order net/http marks them idle in (it does so
// after writing the response, so a later connection can be marked first).
func TestConnCapIdleOrder(t *testing.T) {
	pipe := func() net.Conn {
		a, b := net.Pipe()
		t.Cleanup(func() { a.Close(); b.Close() })
		return a
	}
	for _, tc := range []struct {
		name      string
		idleOrder []int // the order the two are marked idle in
	}{
		{"marked in order", []int{0, 1}},
		{"marked out of order", []int{1, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newConnCap(2, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
			conns := []net.Conn{pipe(), pipe()}
			for _, conn := range conns {
				c.connState(conn, http.StateNew)
				c.connState(conn, http.StateActive)
			}
			for _, i := range tc.idleOrder {
				c.connState(conns[i], http.StateIdle)
			}
			c.connState(pipe(), http.StateNew)
			if _, kept := c.conns[conns[0]]; kept {
				t.Error("the connection whose request started first was kept")
			}
			if _, kept := c.conns[conns[1]]; !kept {
				t.Error("the connection whose request started last was shed")
			}
			if got := len(c.conns); got != 2 {
				t.Errorf("%d connections counted, want 2", got)
			}
		})
	}
}
