package testenv

import (
	"net"
	"os"
	"path/filepath"
	"testing"
)

// RepoRoot returns the module root (the directory holding go.mod), found by
// walking up from the working directory. It fails the test when no go.mod
// is found, which means the test is not running inside the module.
func RepoRoot(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatalf("testenv: cannot read the working directory: %v", err)
	}
	for dir := wd; ; {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("testenv: no go.mod above %s: run the tests from inside the expressbridge module", wd)
		}
		dir = parent
	}
}

// FreePort returns a loopback TCP port that was free a moment ago. Another
// process may take it before the caller binds it; the Start helpers in this
// package retry with a new port when that happens.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: cannot listen on 127.0.0.1: %v (is the loopback interface up?)", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
