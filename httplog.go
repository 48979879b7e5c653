package expressbridge

import (
	"context"
	"log"
	"log/slog"
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
	accepts ratelog.Counter
}

func newHTTPErrorLog(l *slog.Logger) *log.Logger {
	return log.New(&httpErrorLog{log: l, accepts: ratelog.Counter{Interval: acceptLogInterval}}, "", 0)
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
