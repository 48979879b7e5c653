package engineio_test

import (
	"log/slog"
	"testing"

	"github.com/expressbridge/expressbridge/engineio"
	"github.com/expressbridge/expressbridge/engineio/parser"
	"github.com/expressbridge/expressbridge/internal/testenv"
	"github.com/expressbridge/expressbridge/liveness"
	"github.com/expressbridge/expressbridge/wsconn"
)

// echo is the Engine.IO suite's server: every message back as it came.
type echo struct{ s *engineio.Session }

func newEcho(s *engineio.Session) engineio.Handler { return echo{s} }

func (echo) Opened()                   {}
func (h echo) Message(p parser.Packet) { _ = h.s.Send(p) } // fails only when the session is closing
func (h echo) End(r liveness.Reason)   { h.s.CloseWith(wsconn.CloseFor(r)) }
func (echo) Closed(string)             {}

// newLogs returns the buffer a test's servers log to, shown if it fails.
func newLogs(t *testing.T) *testenv.Buffer {
	logs := &testenv.Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return logs
}

func logger(logs *testenv.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
