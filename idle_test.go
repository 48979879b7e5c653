package expressbridge_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// TestIdleConnectionsClosed: HTTPServer closes a kept-alive connection
// that carries no request for Config.IdleTimeout (DefaultIdleTimeout when
// zero), and not before: a request within it is served on the same
// connection.
func TestIdleConnectionsClosed(t *testing.T) {
	rds := testenv.StartRedis(t)
	newServer := func(idle time.Duration) *expressbridge.Server {
		t.Helper()
		srv, err := expressbridge.New(context.Background(), expressbridge.Config{StoreURL: rds.URL(), Secrets: []string{"s"},
			SingleInstance: true, IdleTimeout: idle, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Close)
		return srv
	}
	for _, tc := range []struct {
		set, want time.Duration
	}{{0, expressbridge.DefaultIdleTimeout}, {time.Second, time.Second}} {
		if got := newServer(tc.set).HTTPServer().IdleTimeout; got != tc.want {
			t.Errorf("Config.IdleTimeout %v: HTTPServer().IdleTimeout = %v, want %v", tc.set, got, tc.want)
		}
	}

	const idle, slack = time.Second, 3 * time.Second
	addr := testenv.RunServer(t, newServer(idle).Serve)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	get := func() {
		t.Helper()
		if _, err := fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", addr); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /healthz: %d %v", resp.StatusCode, err)
		}
	}
	get()
	time.Sleep(idle / 2)
	get() // the same connection, kept alive
	start := time.Now()
	c.SetReadDeadline(start.Add(idle + slack))
	_, err = br.ReadByte()
	took := time.Since(start)
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		t.Fatalf("an idle connection is still open after %v", idle+slack)
	case !errors.Is(err, io.EOF):
		t.Fatalf("idle connection: %v, want the server's EOF", err)
	case took < idle-50*time.Millisecond:
		t.Errorf("closed after %v idle, before IdleTimeout (%v)", took, idle)
	}
	t.Logf("idle connection closed after %v", took)
}
