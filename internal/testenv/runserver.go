package testenv

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// RunServer runs serve on a fresh loopback listener until the test ends;
// then it cancels serve's context, waits for it to return, and fails the
// test if it returned an error. It returns the listener's host:port.
func RunServer(t testing.TB, serve func(ctx context.Context, ln net.Listener) error) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	return ln.Addr().String()
}

// NodeScript is a command that runs the script at path (relative to the
// repository's root) with node and node-app's packages on NODE_PATH, so
// that a script outside node-app can require socket.io-client; env is
// added to the environment.
func NodeScript(t testing.TB, path string, env ...string) *exec.Cmd {
	t.Helper()
	root := RepoRoot(t)
	cmd := exec.Command(Node(t), filepath.Join(root, path))
	cmd.Env = append(append(cmd.Environ(), "NODE_PATH="+filepath.Join(root, "node-app", "node_modules")), env...)
	return cmd
}

// ServeHTTP serves h on a fresh loopback listener until the test ends
// (RunServer), then shuts the server down, waiting up to 5 s for the
// requests in flight. It returns the listener's host:port.
func ServeHTTP(t testing.TB, h http.Handler) string {
	t.Helper()
	return RunServer(t, func(ctx context.Context, ln net.Listener) error {
		hs := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			hs.Shutdown(sctx)
		}()
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
}
