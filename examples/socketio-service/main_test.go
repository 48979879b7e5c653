package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/internal/testenv"
)

// TestSocketIOService runs the example against the real passport app and
// the real socket.io-client: a room's broadcast, an ack, the Go route
// behind the login, and the socket ended by the user's logout (the watch
// New started; nothing in run asks for it).
func TestSocketIOService(t *testing.T) {
	ex := testenv.StartExample(t, testenv.NodeAppConfig{AuthFlavor: "passport"}, 1, run)
	app, ctx := ex.App, context.Background()
	base := "http://" + ex.Addrs[0]
	cookie := app.Login(ctx, t, "alice") // passport id 42

	for _, tc := range []struct {
		cookie, want string
		status       int
	}{{cookie, "hello, user 42\n", 200}, {"", `"no-cookie"`, 401}} {
		req, err := http.NewRequestWithContext(ctx, "GET", base+"/api/me", nil)
		if err != nil {
			t.Fatal(err)
		}
		if tc.cookie != "" {
			req.Header.Set("Cookie", tc.cookie)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.want) {
			t.Errorf("/api/me with cookie %v: %d %q, want %d %q", tc.cookie != "", resp.StatusCode, body, tc.status, tc.want)
		}
	}

	cmd := testenv.NodeScript(t, "examples/socketio-service/testdata/client.js",
		"URL="+base, "COOKIE="+cookie, "ORIGIN="+app.URL())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var lines []string
	sc := bufio.NewScanner(out)
	deadline := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if sc.Text() == "ready" {
			app.Logout(ctx, t, cookie)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Logf("the client exited: %v (its lines say what happened)", err)
	}
	// passport's logout saves the session without its user, then
	// regenerates it: either change the watch sees first is logged-out.
	want := []string{`said {"text":"hi","user":"42"}`, `count {"length":5,"user":"42"}`, "ready",
		`session-ended {"reason":"logged-out"}`, "disconnect io server disconnect"}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("client said:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
