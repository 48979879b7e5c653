package expressbridge_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// TestUnreadResponsesAreCut: a client that sends requests and never reads
// the answers (a small receive buffer, requests pipelined until the
// server's socket buffer is full) has its connection closed within
// Config.WriteTimeout, on every route outside long-polling: /healthz,
// /readyz, the plain door's refusal, the Socket.IO handshake's answer, a
// 404. Without the deadline each would hold its connection and goroutine
// for as long as the client likes.
func TestUnreadResponsesAreCut(t *testing.T) {
	const bound = time.Second
	rds := testenv.StartRedis(t)
	srv, err := expressbridge.New(context.Background(), expressbridge.Config{StoreURL: rds.URL(), Secrets: []string{"s"},
		SingleInstance: true, WriteTimeout: bound, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	hs := srv.HTTPServer()
	var mu sync.Mutex
	closed := map[string]time.Time{} // by the client's address
	hs.ConnState = func(c net.Conn, st http.ConnState) {
		if st == http.StateClosed {
			mu.Lock()
			closed[c.RemoteAddr().String()] = time.Now()
			mu.Unlock()
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	addr := ln.Addr().String()

	for _, path := range []string{"/healthz", "/readyz", "/ws", "/socket.io/?EIO=4&transport=polling", "/nowhere"} {
		t.Run(path, func(t *testing.T) {
			d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
				rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
				return nil
			}}
			c, err := d.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			req := []byte(fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, addr))
			start := time.Now()
			sent := 0
			go func() { // until the server stops reading, or closes
				for {
					c.SetWriteDeadline(time.Now().Add(30 * time.Second))
					if _, err := c.Write(req); err != nil {
						return
					}
					sent++
				}
			}()
			key := c.LocalAddr().String()
			testenv.WaitFor(t, 30*time.Second, "the server to close the connection", func() bool {
				mu.Lock()
				defer mu.Unlock()
				_, ok := closed[key]
				return ok
			})
			mu.Lock()
			at := closed[key]
			mu.Unlock()
			t.Logf("closed %v after the first request (WriteTimeout %v)", at.Sub(start).Round(time.Millisecond), bound)
		})
	}
}
