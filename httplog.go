package expressbridge

import (
	"context"
	"log"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/expressbridge/expressbridge/internal/ratelog"
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
	log     *slog.Logger
	accepts ratelog.Counter[string]
}

func newHTTPErrorLog(l *slog.Logger) *log.Logger {
	return log.New(&httpErrorLog{log: l, accepts: ratelog.Counter[string]{Interval: acceptLogInterval}}, "", 0)
}

func (h *httpErrorLog) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	if !strings.HasPrefix(line, "http: Accept error:") {
		h.log.LogAttrs(context.Background(), slog.LevelDebug, line)
		return len(p), nil
	}
	if n, due := h.accepts.Note("accept"); due {
		h.log.LogAttrs(context.Background(), slog.LevelWarn, "cannot accept connections (at the file limit? raise ulimit -n)",
			slog.String("err", strings.TrimPrefix(line, "http: Accept error: ")), slog.Int("errors", n),
			slog.Duration("since_last_report", acceptLogInterval))
	}
	return len(p), nil
}

// withWriteDeadline bounds writing the response to every request h
// serves: the connection's write deadline is set d from the request's
// start, so that a client that never reads (its socket's buffers full)
// fails the write, and loses the connection and the goroutine serving it,
// within d. It is the one rule for every response but two: a long-polling
// response sets its own deadline when it writes (engineio), and a
// WebSocket upgrade clears it on the connection it hijacks
// (gorilla/websocket), whose frames wsconn bounds.
func withWriteDeadline(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A ResponseWriter that cannot (a wrapper without Unwrap) is
		// served without: the http.Server's own timeouts then apply.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(d))
		h.ServeHTTP(w, r)
	})
}
