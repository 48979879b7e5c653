package socketio_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/internal/testenv"
	"github.com/expressbridge/expressbridge/socketio"
	"github.com/expressbridge/expressbridge/wsconn"
)

// countingConn counts the bytes a client reads: what the server wrote.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// BenchmarkBroadcastCompressed: one broadcast of a 4 KiB JSON event to
// 50 WebSocket clients per op, without and with permessage-deflate (the
// compressed frame is built once per broadcast). wire-B/msg is what the
// server wrote per delivered message; ns/op includes the clients reading
// (and inflating), which run in the same process.
func BenchmarkBroadcastCompressed(b *testing.B) {
	type row struct {
		ID    int    `json:"id"`
		Name  string `json:"name"`
		State string `json:"state"`
	}
	var rows []row
	for i := 0; len(rows) < 64; i++ {
		rows = append(rows, row{ID: i, Name: fmt.Sprintf("user-%d", i), State: "online"})
	}
	payload, _ := json.Marshal(rows) // about 3.5 KiB
	for _, bc := range []struct {
		name    string
		deflate *wsconn.Deflate
	}{{"plain", nil}, {"deflate", &wsconn.Deflate{}}} {
		b.Run(bc.name, func(b *testing.B) {
			const clients = 50
			srv, err := socketio.New(socketio.Config{Insecure: true, PerMessageDeflate: bc.deflate, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			ns := srv.Of("/")
			addr := testenv.ServeHTTP(b, srv)
			b.Cleanup(func() { srv.Shutdown(context.Background()) })
			var wire atomic.Int64
			got := make(chan struct{}, clients*4)
			var wg sync.WaitGroup
			d := websocket.Dialer{EnableCompression: true, NetDialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
				c, err := (&net.Dialer{}).DialContext(ctx, network, a)
				if err != nil {
					return nil, err
				}
				return countingConn{Conn: c, n: &wire}, nil
			}}
			for range clients {
				c, _, err := d.Dial("ws://"+addr+"/socket.io/?EIO=4&transport=websocket", nil)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { c.Close() })
				c.ReadMessage() // open
				c.WriteMessage(websocket.TextMessage, []byte("40"))
				c.ReadMessage() // connect
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						_, m, err := c.ReadMessage()
						if err != nil {
							return
						}
						if strings.HasPrefix(string(m), `42["rows"`) {
							got <- struct{}{}
						}
					}
				}()
			}
			testenv.WaitFor(b, 10*time.Second, "the clients to join", func() bool { return ns.Len() == clients })
			wire.Store(0)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				ns.Emit("rows", json.RawMessage(payload))
				for range clients {
					<-got
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(wire.Load())/float64(b.N*clients), "wire-B/msg")
		})
	}
}
