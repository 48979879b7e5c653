package testenv

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestChromium(t *testing.T) {
	p := Chromium(t)
	if !filepath.IsAbs(p) || !isExecutable(p) {
		t.Fatalf("Chromium() = %q, want an absolute path to an executable", p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, p, "--version")
	cmd.SysProcAttr = sysProcAttr()
	out, err := cmd.Output()
	if err != nil || !strings.Contains(string(out), "Chromium") {
		t.Fatalf("%s --version = %q, %v; want a Chromium version", p, out, err)
	}
}

func TestChromiumMissingNotRoot(t *testing.T) {
	msg := fatalMessage(t, func(tb testing.TB) {
		chromiumPath(tb,
			func() (string, bool) { return "", false },
			func() int { return 1000 },
			func(testing.TB) error { t.Error("installer ran without root"); return nil })
	})
	if msg != "chromium not found: apt-get install chromium" {
		t.Fatalf("message = %q, want exactly the one-line install hint", msg)
	}
}

func TestChromiumMissingRootInstalls(t *testing.T) {
	installed, installs := false, 0
	p := chromiumPath(t,
		func() (string, bool) { return "/usr/bin/chromium", installed },
		func() int { return 0 },
		func(testing.TB) error { installs++; installed = true; return nil })
	if p != "/usr/bin/chromium" || installs != 1 {
		t.Fatalf("chromiumPath = %q after %d installs, want /usr/bin/chromium after 1", p, installs)
	}
}

func TestChromiumInstallFails(t *testing.T) {
	msg := fatalMessage(t, func(tb testing.TB) {
		chromiumPath(tb,
			func() (string, bool) { return "", false },
			func() int { return 0 },
			func(testing.TB) error { return errors.New("apt-get update: exit status 100") })
	})
	if !strings.HasPrefix(msg, "chromium not found and installing it failed: apt-get update: exit status 100") {
		t.Fatalf("message = %q", msg)
	}
}

func TestChromiumStillMissingAfterInstall(t *testing.T) {
	msg := fatalMessage(t, func(tb testing.TB) {
		chromiumPath(tb,
			func() (string, bool) { return "", false },
			func() int { return 0 },
			func(testing.TB) error { return nil })
	})
	if !strings.Contains(msg, "even after apt-get install chromium") || !strings.Contains(msg, "PATH") {
		t.Fatalf("message = %q", msg)
	}
}

func TestIsExecutable(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "exe")
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(plain, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]bool{exe: true, plain: false, dir: false, filepath.Join(dir, "none"): false} {
		if got := isExecutable(path); got != want {
			t.Errorf("isExecutable(%s) = %v, want %v", path, got, want)
		}
	}
}
