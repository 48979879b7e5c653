package engineio_test

import (
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/engineio"
)

// TestNewRefuses: New refuses a Config it cannot serve safely.
func TestNewRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  engineio.Config
	}{
		{"no Handler", engineio.Config{Insecure: true}},
		{"no Live and not Insecure", engineio.Config{Handler: newEcho}},
		{"negative ping interval", engineio.Config{Handler: newEcho, Insecure: true, PingInterval: -time.Second}},
		{"negative ping timeout", engineio.Config{Handler: newEcho, Insecure: true, PingTimeout: -time.Second}},
		{"negative buffer", engineio.Config{Handler: newEcho, Insecure: true, MaxHTTPBufferSize: -1}},
		{"negative queue", engineio.Config{Handler: newEcho, Insecure: true, SendQueue: -1}},
		{"negative queue bytes", engineio.Config{Handler: newEcho, Insecure: true, SendQueueBytes: -1}},
		{"negative handshake timeout", engineio.Config{Handler: newEcho, Insecure: true, HandshakeTimeout: -time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := engineio.New(tc.cfg); err == nil {
				t.Errorf("New(%+v) = nil error", tc.cfg)
			}
		})
	}
}
