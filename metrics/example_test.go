package metrics_test

import (
	"fmt"
	"io"
	"net/http/httptest"
	"strings"

	"github.com/expressbridge/expressbridge/metrics"
)

// Example shows what a scrape holds after three handshakes at the
// WebSocket door: counters by result, never by user or session.
func Example() {
	m := metrics.New() // pass it as auth.Config.Observer and bridge.Config.Observer
	m.Handshake("ws", "accepted")
	m.Handshake("ws", "accepted")
	m.Handshake("ws", "no-cookie")

	srv := httptest.NewServer(m.Handler()) // serve's --metrics-listen
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for line := range strings.SplitSeq(string(body), "\n") {
		if strings.HasPrefix(line, "expressbridge_handshakes_total{") {
			fmt.Println(line)
		}
	}
	// Output:
	// expressbridge_handshakes_total{door="ws",result="accepted"} 2
	// expressbridge_handshakes_total{door="ws",result="no-cookie"} 1
}
