package testenv

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var tapCount = regexp.MustCompile(`(?m)^# (tests|pass|fail|skipped|todo|cancelled) (\d+)$`)

// RunNode runs a node script (or node --test) in node-app with env added,
// logs its output, and returns the TAP counts when it printed them. It
// fails the test when node exits non-zero or a test failed.
func RunNode(t testing.TB, timeout time.Duration, env []string, args ...string) map[string]int {
	t.Helper()
	node := Node(t)
	EnsureNodeModules(t)
	dir := filepath.Join(RepoRoot(t), "node-app")
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 2 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	var out strings.Builder
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
		}
	}()
	err := cmd.Run()
	pw.Close()
	<-done
	counts := map[string]int{}
	for _, m := range tapCount.FindAllStringSubmatch(out.String(), -1) {
		counts[m[1]], _ = strconv.Atoi(m[2])
	}
	if err != nil || counts["fail"] > 0 {
		t.Errorf("node %s: %v\n%s", strings.Join(args, " "), err, out.String())
	} else if testing.Verbose() {
		t.Logf("node %s:\n%s", strings.Join(args, " "), out.String())
	}
	return counts
}

// NodeOutput runs a node script in node-app with env added and returns
// its standard output; it fails the test, with the script's standard
// error, when node exits non-zero or runs past timeout.
func NodeOutput(t testing.TB, timeout time.Duration, env []string, args ...string) string {
	t.Helper()
	node := Node(t)
	EnsureNodeModules(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = filepath.Join(RepoRoot(t), "node-app")
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 2 * time.Second
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Errorf("node %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}
