package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// redisInstall makes the apt-get install of redis-server happen at most once
// per test process; the file lock in withFileLock serialises processes.
var redisInstall struct {
	once sync.Once
	err  error
}

// redisServerPath returns the redis-server binary, installing it with
// apt-get when it is missing and the test runs as root.
func redisServerPath(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p
	}
	if os.Geteuid() != 0 {
		t.Fatal("redis-server not found: install it (apt-get install redis-server) and run again")
	}
	redisInstall.once.Do(func() {
		redisInstall.err = withFileLock(filepath.Join(os.TempDir(), "expressbridge-testenv-apt.lock"), func() error {
			if _, err := exec.LookPath("redis-server"); err == nil {
				return nil // another test process installed it meanwhile
			}
			return aptInstall(t, "redis-server")
		})
	})
	if redisInstall.err != nil {
		t.Fatalf("redis-server not found and installing it failed: %v", redisInstall.err)
	}
	p, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redis-server not found on PATH even after apt-get install redis-server: add its directory (usually /usr/bin) to PATH and run again")
	}
	return p
}

// aptInstall runs apt-get update and apt-get install -y pkgs, logging progress.
func aptInstall(t testing.TB, pkgs ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	steps := [][]string{{"update"}, append([]string{"install", "-y", "--no-install-recommends"}, pkgs...)}
	for _, args := range steps {
		t.Logf("testenv: running apt-get %s (once per machine)", strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get %s: %v\n%s\n(fix the apt error above, or install %s by hand, and run again)",
				strings.Join(args, " "), err, tailText(string(out), 20), strings.Join(pkgs, " "))
		}
	}
	return nil
}

// withFileLock runs fn while holding an exclusive flock on path, so that
// test processes running in parallel (go test ./...) take turns.
func withFileLock(path string, fn func() error) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return fmt.Errorf("open lock file %s: %v (make it writable or remove it)", path, err)
	}
	defer f.Close()
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("lock %s: %v", path, err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return fn()
}

// tailText returns the last n lines of s.
func tailText(s string, n int) string {
	return strings.Join(lastLines(strings.Split(strings.TrimRight(s, "\n"), "\n"), n), "\n")
}
