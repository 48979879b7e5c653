package testenv

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNodeAppLoginLogout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var pid int
	assertReaped(t, &pid)
	r := StartRedis(t)
	app := StartNodeApp(t, NodeAppConfig{RedisURL: r.URL(), Secrets: []string{"first-secret", "older-secret"}})
	pid = app.p.cmd.Process.Pid
	if !strings.HasPrefix(app.URL(), "http://127.0.0.1:") {
		t.Fatalf("URL() = %q", app.URL())
	}
	const name = "Zoë 🚀"
	cookie := app.Login(ctx, t, name)
	if !strings.HasPrefix(cookie, "connect.sid=s%3A") || strings.ContainsAny(cookie, "; ") {
		t.Fatalf("Login cookie = %q, want the raw connect.sid=s%%3A... pair", cookie)
	}

	who := app.WhoAmI(ctx, t, cookie)
	if !who.LoggedIn || who.Username == nil || *who.Username != name || who.SID == "" {
		t.Fatalf("WhoAmI after login = %+v, want logged in as %q", who, name)
	}
	rc := r.Client(t)
	stored, err := rc.Get(ctx, "sess:"+who.SID).Result()
	if err != nil {
		t.Fatalf("GET sess:%s while logged in: %v", who.SID, err)
	}
	if !strings.Contains(stored, name) {
		t.Fatalf("stored session %s does not name %q", stored, name)
	}

	status, body := app.PostJSON(ctx, t, "/test/set", cookie, map[string]any{"color": "blue"})
	if status != http.StatusOK || !strings.Contains(string(body), `"color":"blue"`) {
		t.Fatalf("POST /test/set = %d %s", status, body)
	}

	app.Logout(ctx, t, cookie)
	who = app.WhoAmI(ctx, t, cookie)
	if who.LoggedIn || who.Username != nil {
		t.Fatalf("WhoAmI after logout = %+v, want logged out", who)
	}
	if n, err := rc.Exists(ctx, "sess:"+who.SID).Result(); err != nil || n != 0 {
		t.Fatalf("EXISTS sess:%s after logout = %d, %v; want 0", who.SID, n, err)
	}

	app.Stop(t)
	app.Stop(t) // no-op when stopped
}

func TestNodeAppOptions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := StartRedis(t)
	app := StartNodeApp(t, NodeAppConfig{
		RedisURL:      r.URL(),
		Secrets:       []string{"s"},
		CookieName:    "app.sid",
		Prefix:        "custom:",
		ExpressFlavor: "5",
		StoreFlavor:   "connect-redis8-ioredis",
	})
	cookie := app.Login(ctx, t, "alice")
	if !strings.HasPrefix(cookie, "app.sid=s%3A") {
		t.Fatalf("Login cookie = %q, want app.sid=s%%3A...", cookie)
	}
	who := app.WhoAmI(ctx, t, cookie)
	if n, err := r.Client(t).Exists(ctx, "custom:"+who.SID).Result(); err != nil || n != 1 {
		t.Fatalf("EXISTS custom:%s = %d, %v; want 1", who.SID, n, err)
	}
}

func TestStartNodeAppFailureShowsOutput(t *testing.T) {
	r := StartRedis(t)
	msg := fatalMessage(t, func(tb testing.TB) {
		StartNodeApp(tb, NodeAppConfig{RedisURL: r.URL(), Secrets: []string{"s"}, ExpressFlavor: "7"})
	})
	if !strings.Contains(msg, "node-app did not start") || !strings.Contains(msg, "EXPRESS_FLAVOR") {
		t.Fatalf("failure message lacks the app's own error:\n%s", msg)
	}
}

func TestNodeAppLaunchPortTaken(t *testing.T) {
	EnsureNodeModules(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	secrets := filepath.Join(t.TempDir(), "secrets")
	if err := os.WriteFile(secrets, []byte("s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := StartRedis(t)
	a := &NodeApp{}
	env := nodeAppEnv(NodeAppConfig{RedisURL: r.URL()}, l.Addr().(*net.TCPAddr).Port, secrets)
	portTaken, err := a.launch(Node(t), filepath.Join(RepoRoot(t), "node-app"), env)
	if !portTaken || err == nil {
		t.Fatalf("launch on a taken port = %v, %v; want portTaken and an error\n%s", portTaken, err, a.tail(nodeLogLines))
	}
}

func TestNodeModulesStale(t *testing.T) {
	dir := t.TempDir()
	if _, err := nodeModulesStale(dir); err == nil {
		t.Fatal("no error without package-lock.json")
	}
	lock := filepath.Join(dir, "package-lock.json")
	installed := filepath.Join(dir, "node_modules", ".package-lock.json")
	if err := os.WriteFile(lock, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if stale, err := nodeModulesStale(dir); err != nil || !stale {
		t.Fatalf("without node_modules: stale = %v, %v; want true", stale, err)
	}
	if err := os.MkdirAll(filepath.Dir(installed), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(installed, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, tc := range []struct {
		lockAge, installedAge time.Duration
		want                  bool
	}{{time.Hour, time.Minute, false}, {time.Minute, time.Hour, true}} {
		if err := os.Chtimes(lock, now.Add(-tc.lockAge), now.Add(-tc.lockAge)); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(installed, now.Add(-tc.installedAge), now.Add(-tc.installedAge)); err != nil {
			t.Fatal(err)
		}
		if stale, err := nodeModulesStale(dir); err != nil || stale != tc.want {
			t.Fatalf("lock %v old, node_modules %v old: stale = %v, %v; want %v", tc.lockAge, tc.installedAge, stale, err, tc.want)
		}
	}
}
