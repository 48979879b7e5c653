package bench

import (
	"fmt"
	"io"
	"math"
)

// SocketIOSpecs are the servers of the Socket.IO comparison (`ebload
// socketio`, run by `make bench` after the side-by-side run), beside (b),
// Node's Socket.IO 4 over WebSocket only:
//
//	(d) the Go bridge's Socket.IO endpoint (serve's --socketio-path,
//	    /socket.io/, the same serve process as (a)), WebSocket only;
//	(e) the same endpoint, long-polling then the upgrade to WebSocket;
//	(f) Node's Socket.IO 4 (b's server), long-polling then the upgrade.
func SocketIOSpecs() []ServerSpec {
	return []ServerSpec{
		{Key: "d", Name: "Go Socket.IO, websocket", Proto: SocketIO},
		{Key: "e", Name: "Go Socket.IO, polling→ws", Proto: SocketIOPolling},
		{Key: "f", Name: "Node Socket.IO 4, polling→ws", Proto: SocketIOPolling, Script: "peers/socketio.js"},
	}
}

// SocketIOServers are the servers `ebload socketio` runs, in order.
func SocketIOServers() []string { return []string{"b", "d", "e", "f"} }

// SocketIOComparison sets a Go Socket.IO server beside Node's Socket.IO 4
// over the same transport: server CPU per handshake and RSS per idle
// connection, each with its ratio Go ÷ Node (below 1: Go spends less).
type SocketIOComparison struct {
	Transport string `json:"transport"`
	Go        string `json:"go"`   // server key
	Node      string `json:"node"` // server key

	GoCPU    float64 `json:"go_server_cpu_us_per_handshake"`
	NodeCPU  float64 `json:"node_server_cpu_us_per_handshake"`
	CPURatio Num     `json:"cpu_ratio_go_to_node"`

	GoRate   float64 `json:"go_handshakes_per_sec"`
	NodeRate float64 `json:"node_handshakes_per_sec"`

	// RSS per idle connection; the ratio is null when either slope is not
	// positive (no measurement) or there was no hold.
	GoRSS    float64 `json:"go_rss_per_conn_kb"`
	NodeRSS  float64 `json:"node_rss_per_conn_kb"`
	RSSRatio Num     `json:"rss_ratio_go_to_node"`

	Failures int `json:"failures"` // both servers, every phase
}

// socketIOPairs are the comparisons: Go key, Node key, transport.
func socketIOPairs() [][3]string {
	return [][3]string{
		{"d", "b", "websocket only"},
		{"e", "f", "polling then websocket"},
	}
}

// compareSocketIO fills r.SocketIO from the servers present.
func (r *Results) compareSocketIO() {
	r.SocketIO = nil
	for _, pr := range socketIOPairs() {
		g, n := r.serverByKey(pr[0]), r.serverByKey(pr[1])
		if g == nil || n == nil {
			continue
		}
		c := SocketIOComparison{
			Transport: pr[2], Go: pr[0], Node: pr[1],
			GoCPU: g.CPUMicros, NodeCPU: n.CPUMicros, CPURatio: round(ratio(g.CPUMicros, n.CPUMicros), 3),
			GoRate: g.HandshakesPerSec, NodeRate: n.HandshakesPerSec,
			GoRSS: g.RSSPerConnKB, NodeRSS: n.RSSPerConnKB, RSSRatio: Num(math.NaN()),
			Failures: g.Failures + n.Failures,
		}
		if g.RSSPerConnKB > 0 && n.RSSPerConnKB > 0 {
			c.RSSRatio = round(ratio(g.RSSPerConnKB, n.RSSPerConnKB), 3)
		}
		r.SocketIO = append(r.SocketIO, c)
	}
}

// writeSocketIO prints the Socket.IO comparison, when there is one.
func (r *Results) writeSocketIO(w io.Writer) {
	if len(r.SocketIO) == 0 {
		return
	}
	fmt.Fprintf(w, "\nSocket.IO: the Go bridge's endpoint vs Node's Socket.IO 4, same sessions, same transport (ratio Go ÷ Node)\n")
	fmt.Fprintf(w, "%-24s %-9s %14s %14s %8s %12s %12s %12s %12s %8s %9s\n", "transport", "servers",
		"Go CPU µs/hs", "Node CPU µs/hs", "ratio", "Go hs/s", "Node hs/s", "Go RSS KB", "Node RSS KB", "ratio", "failures")
	for _, c := range r.SocketIO {
		fmt.Fprintf(w, "%-24s %-9s %14.0f %14.0f %8s %12.0f %12.0f %12.1f %12.1f %8s %9d\n", c.Transport,
			"("+c.Go+")/("+c.Node+")", c.GoCPU, c.NodeCPU, fmtRatio(c.CPURatio), c.GoRate, c.NodeRate,
			c.GoRSS, c.NodeRSS, fmtRatio(c.RSSRatio), c.Failures)
	}
}
