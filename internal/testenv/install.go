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

// installOnce makes the apt-get install of one package happen at most once
// per test process; the file lock in withFileLock serialises processes.
type installOnce struct {
	once sync.Once
	err  error
}

var redisInstall, nginxInstall installOnce

// redisServerPath returns the redis-server binary, installing it with
// apt-get when it is missing and the test runs as root.
func redisServerPath(t testing.TB) string {
	t.Helper()
	return toolPath(t, "redis-server", "redis-server", &redisInstall)
}

// toolPath returns the path of bin, installing Debian's package pkg with
// apt-get when bin is missing and the test runs as root; otherwise the test
// fails with the one line that says what to install.
func toolPath(t testing.TB, bin, pkg string, inst *installOnce) string {
	t.Helper()
	look := func() (string, error) {
		if p, err := exec.LookPath(bin); err == nil {
			return p, nil
		}
		for _, dir := range []string{"/usr/sbin", "/sbin"} { // not on every PATH
			if p := filepath.Join(dir, bin); isExecutable(p) {
				return p, nil
			}
		}
		return "", fmt.Errorf("%s not found", bin)
	}
	if p, err := look(); err == nil {
		return p
	}
	if os.Geteuid() != 0 {
		t.Fatalf("%s not found: install it (apt-get install %s) and run again", bin, pkg)
	}
	inst.once.Do(func() {
		inst.err = withFileLock(filepath.Join(os.TempDir(), "expressbridge-testenv-apt.lock"), func() error {
			if _, err := look(); err == nil {
				return nil // another test process installed it meanwhile
			}
			return aptInstall(t, pkg)
		})
	})
	if inst.err != nil {
		t.Fatalf("%s not found and installing it failed: %v", bin, inst.err)
	}
	p, err := look()
	if err != nil {
		t.Fatalf("%s not found even after apt-get install %s: add its directory to PATH and run again", bin, pkg)
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
