package testenv

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"
)

var listeningLine = regexp.MustCompile(`^listening on (http://\S+)$`)

// StartNodeServer runs the node script at path (relative to node-app)
// with env added, waits for its "listening on http://HOST:PORT" line and
// returns that URL; the process is stopped (SIGTERM, then SIGKILL) when
// the test ends. It fails the test when the script exits or stays silent
// for 30 s.
func StartNodeServer(t testing.TB, path string, env ...string) string {
	t.Helper()
	EnsureNodeModules(t)
	cmd := exec.Command(Node(t), path)
	cmd.Dir = filepath.Join(RepoRoot(t), "node-app")
	cmd.Env = append(cmd.Environ(), env...)
	var log lineLog
	url := make(chan string, 1)
	onLine := func(line string) {
		if m := listeningLine.FindStringSubmatch(line); m != nil {
			select {
			case url <- m[1]:
			default:
			}
		}
	}
	cmd.Stdout, cmd.Stderr = log.writer(onLine), log.writer(nil)
	p, err := startProc(cmd)
	if err != nil {
		t.Fatalf("node %s: %v", path, err)
	}
	t.Cleanup(func() { p.stop(syscall.SIGTERM, 5*time.Second) })
	select {
	case u := <-url:
		return u
	case <-p.done:
		t.Fatalf("node %s exited: %v\n%s", path, p.err, log.tail(50))
	case <-time.After(30 * time.Second):
		t.Fatalf("node %s: no listening line in 30 s\n%s", path, log.tail(50))
	}
	return ""
}
