package expressbridge

import (
	"context"
	"log"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// acceptLogInterval is how often a run of accept errors is logged: once
// with its count, not once per retry (net/http retries every few ms).
const acceptLogInterval = 10 * time.Second

// httpErrorLog is the http.Server's ErrorLog. Accept errors ("too many
// open files": the process is at its file limit, and every new client is
// failing) are a warning, logged at most once per acceptLogInterval with
// how many there were; the rest (a client's bad TLS, a broken pipe) is a
// client's problem, at debug level.
type httpErrorLog struct {
	log *slog.Logger
	now func() time.Time

	mu      sync.Mutex
	last    time.Time // when a run of accept errors was last logged
	pending int       // accept errors since then
}

func newHTTPErrorLog(l *slog.Logger) *log.Logger {
	return newHTTPErrorLogWith(&httpErrorLog{log: l, now: time.Now})
}

func newHTTPErrorLogWith(h *httpErrorLog) *log.Logger { return log.New(h, "", 0) }

func (h *httpErrorLog) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	if !strings.HasPrefix(line, "http: Accept error:") {
		h.log.LogAttrs(context.Background(), slog.LevelDebug, line)
		return len(p), nil
	}
	now := h.now()
	h.mu.Lock()
	h.pending++
	n := h.pending
	due := now.Sub(h.last) >= acceptLogInterval
	if due {
		h.last, h.pending = now, 0
	}
	h.mu.Unlock()
	if due {
		h.log.LogAttrs(context.Background(), slog.LevelWarn, "cannot accept connections (at the file limit? raise ulimit -n)",
			slog.String("err", strings.TrimPrefix(line, "http: Accept error: ")), slog.Int("errors", n),
			slog.Duration("since_last_report", acceptLogInterval))
	}
	return len(p), nil
}
