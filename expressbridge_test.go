package expressbridge_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/expressbridge/expressbridge"
	"github.com/expressbridge/expressbridge/connectsid/storeurl"
)

// TestNewRefuses: what would leave a server silently half-wired is
// refused by New with an error that names the field.
func TestNewRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  expressbridge.Config
		want string
		is   error
	}{
		{"no store", expressbridge.Config{Secrets: []string{"s"}}, "StoreURL is required", expressbridge.ErrConfig},
		{"no secrets", expressbridge.Config{StoreURL: "redis://127.0.0.1:1"}, "Secrets (or Verifier) is required", expressbridge.ErrConfig},
		{"bad scheme", expressbridge.Config{StoreURL: "mongodb://x", Secrets: []string{"s"}}, `the scheme "mongodb" is not a store's`, storeurl.ErrBadURL},
		{"bad mysql URL", expressbridge.Config{StoreURL: "mysql://u:hunter2@x", Secrets: []string{"s"}}, "want mysql://USER:PASSWORD@HOST:PORT/DATABASE", storeurl.ErrBadURL},
		{"postgres without fan-out", expressbridge.Config{StoreURL: "postgres://u:secret@127.0.0.1:1/db", Secrets: []string{"s"}},
			"PubSubURL is not set", expressbridge.ErrConfig},
		{"mysql without fan-out", expressbridge.Config{StoreURL: "mysql://u:secret@127.0.0.1:1/db", Secrets: []string{"s"}},
			"the store is MySQL and PubSubURL is not set", expressbridge.ErrConfig},
		{"socket.io path", expressbridge.Config{StoreURL: "redis://127.0.0.1:1", Secrets: []string{"s"}, SocketIOPath: "io"},
			"SocketIOPath must start with /", expressbridge.ErrConfig},
		{"cookie-session without fan-out", expressbridge.Config{StoreURL: "cookie-session:", Secrets: []string{"s"}},
			"the store is cookie-session and PubSubURL is not set", expressbridge.ErrConfig},
		{"cookie-session algorithm", expressbridge.Config{StoreURL: "cookie-session:?algorithm=md5", Secrets: []string{"s"}, SingleInstance: true},
			"keygrip's algorithm", storeurl.ErrBadURL},
		{"negative max age", expressbridge.Config{StoreURL: "cookie-session:", Secrets: []string{"s"}, MaxConnectionAge: -1},
			"MaxConnectionAge must not be negative", expressbridge.ErrConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := expressbridge.New(context.Background(), tc.cfg)
			if err == nil {
				srv.Close()
				t.Fatal("New accepted it")
			}
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "secret@") || strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("New: %v; want %v naming %q", err, tc.is, tc.want)
			}
		})
	}
}
