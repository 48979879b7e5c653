package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// debianChromium is where Debian's chromium package puts its launcher.
const debianChromium = "/usr/bin/chromium"

// chromiumMissing is the whole failure message when chromium is absent and
// cannot be installed here.
const chromiumMissing = "chromium not found: apt-get install chromium"

// chromiumInstall makes the apt-get install of chromium happen at most once
// per test process; the file lock (shared with the redis-server install, so
// that apt runs one at a time) serialises processes.
var chromiumInstall struct {
	once sync.Once
	err  error
}

// Chromium returns the path of Debian's chromium (/usr/bin/chromium, else
// "chromium" on PATH) for browser tests; Playwright drives it, nothing ever
// downloads a browser. When it is missing and the test runs as root it is
// installed once per machine with apt-get update and apt-get install -y
// chromium (about a minute; progress goes to t.Log). Otherwise the test
// fails with one line saying what to install. It never skips.
func Chromium(t testing.TB) string {
	t.Helper()
	return chromiumPath(t, findChromium, os.Geteuid, installChromium)
}

// chromiumPath is Chromium with its lookups and the installer passed in, so
// that the failure paths can be tested on a machine that has chromium.
func chromiumPath(t testing.TB, find func() (string, bool), euid func() int, install func(testing.TB) error) string {
	t.Helper()
	if p, ok := find(); ok {
		return p
	}
	if euid() != 0 {
		t.Fatal(chromiumMissing)
	}
	if err := install(t); err != nil {
		t.Fatalf("chromium not found and installing it failed: %v", err)
	}
	p, ok := find()
	if !ok {
		t.Fatalf("chromium not found at %s nor on PATH even after apt-get install chromium: add its directory to PATH and run again", debianChromium)
	}
	return p
}

// findChromium looks for the chromium launcher.
func findChromium() (string, bool) {
	if isExecutable(debianChromium) {
		return debianChromium, true
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		return p, true
	}
	return "", false
}

// isExecutable reports whether path is a regular file someone may execute.
func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// installChromium runs the apt-get install once per process and under the
// machine-wide apt lock file.
func installChromium(t testing.TB) error {
	t.Helper()
	chromiumInstall.once.Do(func() {
		chromiumInstall.err = withFileLock(filepath.Join(os.TempDir(), "expressbridge-testenv-apt.lock"), func() error {
			if _, ok := findChromium(); ok {
				return nil // another test process installed it meanwhile
			}
			return aptInstallChromium(t)
		})
	})
	return chromiumInstall.err
}

// aptInstallChromium runs apt-get update and apt-get install -y chromium
// (with its recommended packages, fonts-liberation among them, so pages
// render with real fonts), logging each step and how long it took.
func aptInstallChromium(t testing.TB) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	// Wait for a dpkg lock held by someone else instead of failing at once.
	lockWait := []string{"-o", "DPkg::Lock::Timeout=300"}
	steps := [][]string{{"update"}, {"install", "-y", "chromium"}}
	for _, args := range steps {
		t.Logf("testenv: chromium not found; running apt-get %s (once per machine, takes a minute)", strings.Join(args, " "))
		start := time.Now()
		cmd := exec.CommandContext(ctx, "apt-get", append(append([]string{}, lockWait...), args...)...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get %s: %v\n%s\n(fix the apt error above, or run apt-get install chromium by hand, and run again)",
				strings.Join(args, " "), err, tailText(string(out), 20))
		}
		t.Logf("testenv: apt-get %s done in %v", strings.Join(args, " "), time.Since(start).Round(100*time.Millisecond))
	}
	return nil
}
