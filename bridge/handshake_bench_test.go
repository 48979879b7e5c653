package bridge_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/bridge"
	"github.com/expressbridge/expressbridge/examples/chat"
	"github.com/expressbridge/expressbridge/internal/testrig"
)

// BenchmarkHandshake is one authenticated WebSocket handshake after
// another against a bridge on a real Redis, behind net/http as `serve`
// runs it: dial, the upgrade request with a signed cookie, the 101 and
// the hello (which the bridge sends in one write), a close frame, the
// server's close frame and end of the connection. The client is a bare
// TCP connection with the request prebuilt, so that allocs/op is mostly
// the server's (net.Dial's own allocations are in it too). Run with
// -cpuprofile to see the server's share of a handshake.
func BenchmarkHandshake(b *testing.B) {
	rig := testrig.Start(b, testrig.Config{NoApp: true, Secrets: []string{"handshake bench secret"}})
	r, store, ver, gate := rig.Redis, rig.Store, rig.Verifier, rig.Gate
	srv, err := bridge.New(bridge.Config{Gate: gate, Protocol: chat.WebSocket{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", srv)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, MaxHeaderBytes: bridge.MaxHeaderBytes}
	go hs.Serve(ln)
	b.Cleanup(func() { srv.Shutdown(context.Background()); hs.Close() })

	ctx := context.Background()
	exp := time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")
	const sid = "handshake-bench-abcdefghijklmnopq"
	if err := r.Client(b).Set(ctx, store.Key(sid), `{"cookie":{"originalMaxAge":3600000,"expires":"`+exp+
		`","httpOnly":true,"path":"/"},"loggedIn":true,"username":"bench"}`, time.Hour).Err(); err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	req := []byte("GET /ws HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
		"Cookie: connect.sid=" + ver.Sign(sid) + "\r\n\r\n")
	closeFrame := []byte{0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8} // masked (zero key), 1000
	hello := []byte(`{"type":"hello","user":"bench"}`)
	buf := make([]byte, 4096)

	b.ReportAllocs()
	for b.Loop() {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		// The 101 and the hello, in as many reads as they take.
		n := 0
		for !bytes.Contains(buf[:n], hello) {
			m, err := c.Read(buf[n:])
			if err != nil {
				b.Fatalf("after %q: %v", buf[:n], err)
			}
			n += m
		}
		if !strings.HasPrefix(string(buf[:12]), "HTTP/1.1 101") {
			b.Fatalf("not upgraded: %q", buf[:n])
		}
		if _, err := c.Write(closeFrame); err != nil {
			b.Fatal(err)
		}
		for { // the server's close frame, then EOF
			if _, err := c.Read(buf); err != nil {
				break
			}
		}
		c.Close()
	}
}
