package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/internal/testenv"
)

// result is what one run of the command did.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout ---\n%s--- stderr ---\n%s", r.code, r.stdout, r.stderr)
}

// cli runs the command in-process with env as its whole environment and
// stdin as its input.
func cli(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	getenv := func(k string) string { return env[k] }
	code := run(ctx, args, strings.NewReader(stdin), &stdout, &stderr, getenv)
	return result{code, stdout.String(), stderr.String()}
}

// want fails the test unless the run exited with code and both streams
// hold the given pieces.
func (r result) want(t *testing.T, code int, stdoutHas, stderrHas []string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\n%s", r.code, code, r)
	}
	for _, s := range stdoutHas {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("stdout lacks %q\n%s", s, r)
		}
	}
	for _, s := range stderrHas {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr lacks %q\n%s", s, r)
		}
	}
}

// lacks fails the test when either stream holds one of the strings.
func (r result) lacks(t *testing.T, what string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && (strings.Contains(r.stdout, s) || strings.Contains(r.stderr, s)) {
			t.Errorf("output shows %s %q\n%s", what, s, r)
		}
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	line := regexp.MustCompile(`^expressbridge \S+ \(go\d[^)]*\)\n$`)
	for _, args := range [][]string{{"version"}, {"--version"}} {
		r := cli(t, nil, "", args...)
		r.want(t, exitOK, nil, nil)
		if !line.MatchString(r.stdout) {
			t.Errorf("%v printed %q, want expressbridge VERSION (goX)", args, r.stdout)
		}
	}
	r := cli(t, nil, "", "version", "--json")
	r.want(t, exitOK, []string{`"version":"`, `"go":"go`}, nil)
}

// TestVersionRevision builds the binary as `make build` does and checks
// that it names the module version and the revision it was built from.
func TestVersionRevision(t *testing.T) {
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("git rev-parse HEAD (the tests run in the project's git checkout): %v", err)
	}
	bin := filepath.Join(t.TempDir(), "expressbridge")
	if out, err := exec.Command("go", "build", "-buildvcs=auto", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	want := regexp.MustCompile(`^expressbridge v\S+ \(revision ` + strings.TrimSpace(string(head)) + `(\+modified)?, go\d\S*\)\n$`)
	if fi, serr := os.Stat(filepath.Join(testenv.RepoRoot(t), ".git")); serr == nil && !fi.IsDir() {
		// A git worktree (.git is a file): go build stamps no VCS
		// information there, so the line has no revision, as the help says.
		want = regexp.MustCompile(`^expressbridge \S+ \(go\d\S*\)\n$`)
		t.Logf("a git worktree: go build records no revision here; checking the line without it")
	}
	if err != nil || !want.Match(out) {
		t.Fatalf("version printed %q, %v; want %s", out, err, want)
	}
}

// TestCompletion: the shells' completion scripts, as the README installs them.
func TestCompletion(t *testing.T) {
	t.Parallel()
	for shell, marker := range map[string]string{
		"bash": "__start_expressbridge", "zsh": "#compdef expressbridge", "fish": "complete -c expressbridge",
	} {
		r := cli(t, nil, "", "completion", shell)
		r.want(t, exitOK, []string{marker}, nil)
	}
}

// TestHelp checks that each command explains itself, with examples, and
// names every environment variable that sets it.
func TestHelp(t *testing.T) {
	t.Parallel()
	cookie := []string{envSecretFile, envSecret, envCookieName}
	store := []string{envRedisURL, envPrefix, envTTL, envDisableTTL, envDisableTouch}
	tests := []struct {
		cmd []string
		env []string
	}{
		{nil, []string{envSecret}},
		{[]string{"unsign"}, cookie},
		{[]string{"sign"}, cookie},
		{[]string{"session"}, nil},
		{[]string{"session", "get"}, append(cookie, store...)},
		{[]string{"session", "list"}, append([]string{envUserField}, store...)},
		{[]string{"session", "destroy"}, append(cookie, store...)},
		{[]string{"session", "touch"}, append(cookie, store...)},
		{[]string{"version"}, nil},
	}
	for _, tt := range tests {
		r := cli(t, nil, "", append(tt.cmd, "--help")...)
		r.want(t, exitOK, append([]string{"Usage:", "Examples:"}, tt.env...), nil)
		if r.stderr != "" {
			t.Errorf("%v --help wrote to stderr: %q", tt.cmd, r.stderr)
		}
	}
	// A group without a subcommand shows its help too.
	cli(t, nil, "", "session").want(t, exitOK, []string{"get", "list", "destroy", "touch"}, nil)
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		env    map[string]string
		args   []string
		stderr []string
	}{
		{"unknown command", nil, []string{"frobnicate"}, []string{"usage: unknown command"}},
		{"unknown session command", nil, []string{"session", "frobnicate"}, []string{`usage: unknown command "frobnicate"`, "session --help"}},
		{"misspelt command", nil, []string{"unsing", "x"}, []string{`usage: unknown command "unsing" for "expressbridge"`, "hint: did you mean 'expressbridge unsign'?"}},
		{"cookie in place of a command", nil, []string{"session", "s%3Ad-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR.rPdcmAd8H7LnDrih7JlnEAc5ob49dAfrkjmDX6FZaPs"},
			[]string{`usage: unknown command "s%3Ad-…" for "expressbridge session"`}},
		{"unknown flag", nil, []string{"unsign", "--frobnicate"}, []string{"usage: unknown flag: --frobnicate", "unsign --help"}},
		{"too many args", nil, []string{"unsign", "a", "b"}, []string{"usage: accepts at most 1 arg"}},
		{"sign needs a SID", nil, []string{"sign"}, []string{"usage: accepts 1 arg"}},
		{"bad env duration", map[string]string{envTTL: "a while"}, []string{"session", "get", "x"}, []string{"usage: " + envTTL + " is not a valid --ttl"}},
		{"negative limit", nil, []string{"session", "list", "--limit", "-1"}, []string{"usage: --limit must be 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cli(t, tt.env, "", tt.args...).want(t, exitUsage, nil, tt.stderr)
		})
	}
}
