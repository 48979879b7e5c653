package main

import (
	"bufio"
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/internal/testenv"
)

// TestFleet runs two instances of the example on one Redis with the real
// Express app: the unmodified @socket.io/redis-emitter (node-app's
// push.js) reaches Zoë's room on instance A only, and every socket of
// both instances; Bob's shout on B reaches Zoë on A.
func TestFleet(t *testing.T) {
	ex := testenv.StartExample(t, testenv.NodeAppConfig{}, 2, run)
	app, r, ctx := ex.App, ex.Redis, context.Background()
	urls := []string{"http://" + ex.Addrs[0], "http://" + ex.Addrs[1]}
	zoe, bob := app.Login(ctx, t, "Zoë"), app.Login(ctx, t, "Bob")

	root := testenv.RepoRoot(t)
	cmd := testenv.NodeScript(t, "examples/fleet/testdata/client.js", "URL_A="+urls[0], "URL_B="+urls[1], "COOKIE_A="+zoe, "COOKIE_B="+bob, "ORIGIN="+app.URL())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	deadline := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	var lines []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if sc.Text() != "ready" {
			continue
		}
		push := exec.Command(testenv.Node(t), filepath.Join("scripts", "push.js"), r.URL(),
			"emit", "user:Zoë", "notice", `{"to":"Zoë"}`, "--", "emit-all", "notice", `{"to":"all"}`)
		push.Dir = filepath.Join(root, "node-app")
		if b, err := push.CombinedOutput(); err != nil {
			t.Fatalf("push.js: %v\n%s", err, b)
		}
		if _, err := io.WriteString(stdin, "shout\n"); err != nil {
			t.Fatal(err)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Logf("the client exited: %v (its lines say what happened)", err)
	}
	sort.Strings(lines)
	want := []string{`bob notice {"from":"Bob","text":"hi all"}`, `bob notice {"to":"all"}`, "ready",
		`zoe notice {"from":"Bob","text":"hi all"}`, `zoe notice {"to":"Zoë"}`, `zoe notice {"to":"all"}`}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("clients said (sorted):\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
