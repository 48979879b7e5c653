package expressbridge_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge"
	"github.com/expressbridge/expressbridge/internal/testenv"
	"github.com/expressbridge/expressbridge/metrics"
)

// lockedBuffer is a log sink for a server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestMaxHTTPConnections: at Config.MaxHTTPConnections open connections,
// a new one closes the one idle longest and is served (a login during a
// flood of idle connections gets through); when every one is busy (here a
// handler that waits, as a long-polling GET does) the new one is closed at
// once and the busy ones are untouched; each is logged with its limit.
func TestMaxHTTPConnections(t *testing.T) {
	const max = 8
	rds := testenv.StartRedis(t)
	logs, m := &lockedBuffer{}, metrics.New()
	hits := func(limit string) float64 { // expressbridge_limits_hit_total{door="http",limit}
		mfs, err := m.Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			for _, mt := range mf.GetMetric() {
				if mf.GetName() != "expressbridge_limits_hit_total" {
					continue
				}
				labels := map[string]string{}
				for _, l := range mt.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				if labels["door"] == "http" && labels["limit"] == limit {
					return mt.GetCounter().GetValue()
				}
			}
		}
		return 0
	}
	srv, err := expressbridge.New(context.Background(), expressbridge.Config{StoreURL: rds.URL(), Secrets: []string{"s"},
		SingleInstance: true, MaxHTTPConnections: max, Logger: slog.New(slog.NewTextHandler(logs, nil)), Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	release := make(chan struct{})
	arrived := make(chan struct{}, 64)
	srv.Handle("/wait", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		io.WriteString(w, "done")
	}))
	addr := testenv.RunServer(t, srv.Serve)

	type client struct {
		c  net.Conn
		br *bufio.Reader
	}
	dial := func() client {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return client{c, bufio.NewReader(c)}
	}
	get := func(cl client, path string) (int, error) {
		if _, err := fmt.Fprintf(cl.c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, addr); err != nil {
			return 0, err
		}
		cl.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(cl.br, nil)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, err
	}
	closedByServer := func(cl client) bool {
		cl.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := cl.br.ReadByte()
		return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || strings.Contains(fmt.Sprint(err), "reset")
	}

	// 1. max idle keep-alive connections, oldest first.
	idle := make([]client, max)
	for i := range idle {
		idle[i] = dial()
		if code, err := get(idle[i], "/healthz"); err != nil || code != http.StatusOK {
			t.Fatalf("idle connection %d: GET /healthz: %d %v", i, code, err)
		}
	}
	// 2. One more is served; the one idle longest is closed for it, and
	// the others are kept.
	extra := dial()
	if code, err := get(extra, "/healthz"); err != nil || code != http.StatusOK {
		t.Fatalf("a connection past the cap of idle ones: GET /healthz: %d %v, want 200", code, err)
	}
	if !closedByServer(idle[0]) {
		t.Fatal("the connection idle longest was not closed to make room")
	}
	if code, err := get(idle[1], "/healthz"); err != nil || code != http.StatusOK {
		t.Fatalf("the second oldest idle connection: GET /healthz: %d %v, want it kept", code, err)
	}
	testenv.WaitFor(t, 10*time.Second, "the idle shed logged", func() bool {
		return strings.Contains(logs.String(), "limit="+expressbridge.LimitIdleShed)
	})

	// 3. Every connection busy: the new one is closed at once, and the
	// busy ones are served to the end.
	busy := make([]client, 0, max)
	errs := make(chan error, max)
	for i := range max {
		cl := dial()
		busy = append(busy, cl)
		go func() {
			code, err := get(cl, "/wait")
			if err == nil && code != http.StatusOK {
				err = fmt.Errorf("status %d", code)
			}
			errs <- err
		}()
		// One at a time: a connection dialed before the last one's
		// request arrived finds no idle one to shed and is refused.
		select {
		case <-arrived:
		case err := <-errs:
			t.Fatalf("busy connection %d: %v", i, err)
		case <-time.After(10 * time.Second):
			t.Fatalf("busy connection %d never reached the handler", i)
		}
	}
	// all max are Active: the idle ones were shed for them
	refused := dial()
	if !closedByServer(refused) {
		t.Fatal("a connection past the cap while every one is busy was not closed")
	}
	close(release)
	for range busy {
		if err := <-errs; err != nil {
			t.Errorf("a busy connection: %v", err)
		}
	}
	testenv.WaitFor(t, 10*time.Second, "the refusal logged", func() bool {
		return strings.Contains(logs.String(), "limit="+expressbridge.LimitHTTPConnections)
	})
	if shed, refused := hits(expressbridge.LimitIdleShed), hits(expressbridge.LimitHTTPConnections); shed != 1+max || refused != 1 {
		t.Errorf("limits_hit_total: %v idle connections shed, %v refused; want %d and 1", shed, refused, 1+max)
	}
}
