package expressbridge

import (
	"log"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/internal/ratelog"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// TestHTTPErrorLog: accept errors are a warning once per interval with
// their count; a client's errors stay at debug.
func TestHTTPErrorLog(t *testing.T) {
	var buf testenv.Buffer
	now := time.Unix(1000, 0)
	h := &httpErrorLog{log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})),
		accepts: ratelog.Counter[string]{Interval: acceptLogInterval, Now: func() time.Time { return now }}}
	l := log.New(h, "", 0)
	l.Print("http: TLS handshake error from 1.2.3.4:5: EOF")
	for range 500 { // net/http retries every few ms
		l.Print("http: Accept error: accept tcp 127.0.0.1:8081: accept4: too many open files; retrying in 5ms")
	}
	now = now.Add(acceptLogInterval)
	l.Print("http: Accept error: accept tcp 127.0.0.1:8081: accept4: too many open files; retrying in 5ms")
	out := buf.String()
	if strings.Contains(out, "TLS handshake") {
		t.Errorf("a client's error at info: %s", out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "level=WARN") || !strings.Contains(lines[0], "errors=1 ") ||
		!strings.Contains(lines[1], "errors=500 ") || !strings.Contains(lines[1], "too many open files") {
		t.Errorf("want two warnings (the first error, then the 500 since):\n%s", out)
	}
}
