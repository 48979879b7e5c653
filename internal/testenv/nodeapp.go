package testenv

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	nodeStartTimeout = 15 * time.Second // until "listening on " is printed
	nodeStopGrace    = 3 * time.Second  // SIGTERM to SIGKILL
	nodeLogLines     = 40               // output lines logged on failure
	httpTimeout      = 10 * time.Second // per request of the HTTP helpers
	maxBody          = 4 << 20          // bytes read from a response
)

// NodeApp is the project's real Express app (node-app/server.js) running as
// a child process on 127.0.0.1. It is stopped at cleanup, and its last 40
// output lines are logged when the test fails. Its methods must be called
// from the test's goroutine; URL is safe anywhere.
type NodeApp struct {
	url        string
	cookieName string
	client     *http.Client
	output     lineLog
	stdout     *lineWriter
	stderr     *lineWriter

	started bool // launch succeeded; failures before that already show the output

	mu sync.Mutex
	p  *proc // nil once stopped
}

// NodeAppConfig configures StartNodeApp. Each field maps to one environment
// variable of node-app/server.js; zero values leave the app's default.
type NodeAppConfig struct {
	RedisURL             string   // REDIS_URL; required unless StoreFlavor is a SQL store's (it needs DatabaseURL) or cookie-session
	Secrets              []string // required; one per line in a temp file passed as SESSION_SECRETS_FILE (first signs)
	CookieName           string   // SESSION_COOKIE_NAME when non-empty (app default "connect.sid")
	Prefix               string   // SESSION_PREFIX when non-empty (app default "sess:")
	DisableTTL           bool     // SESSION_DISABLE_TTL=1
	DisableTouch         bool     // SESSION_DISABLE_TOUCH=1
	TTL                  int      // SESSION_TTL (seconds) when > 0
	MaxAgeMS             int64    // SESSION_MAX_AGE_MS when > 0
	BrowserSessionCookie bool     // SESSION_MAX_AGE_MS=session (cookie without expiry); excludes MaxAgeMS
	ExpressFlavor        string   // EXPRESS_FLAVOR when non-empty: "4" (app default) or "5"
	StoreFlavor          string   // STORE_FLAVOR when non-empty: "connect-redis9" (app default), "connect-redis8-ioredis", "connect-redis9-cluster" (RedisURL a RedisCluster's URL), "connect-redis9-sentinel" (RedisURL a Sentinel's URL), "connect-pg-simple", "express-mysql-session", "connect-session-knex", or "cookie-session" (no store; RedisURL not needed; the cookie is "session" and Login returns it with "session.sig")
	DatabaseURL          string   // DATABASE_URL; required with StoreFlavor "connect-pg-simple" (postgres://), "express-mysql-session" (mysql://) or "connect-session-knex" (postgres://, mysql:// or sqlite:///path)
	PGTable              string   // SESSION_PG_TABLE when non-empty (connect-pg-simple's tableName, default "session")
	PGSchema             string   // SESSION_PG_SCHEMA when non-empty (connect-pg-simple's schemaName)
	MySQLTable           string   // SESSION_MYSQL_TABLE when non-empty (express-mysql-session's schema.tableName, default "sessions")
	KnexTable            string   // SESSION_KNEX_TABLE when non-empty (connect-session-knex's tableName, default "sessions")
	BridgeURL            string   // BRIDGE_URL when non-empty
	AuthFlavor           string   // AUTH_FLAVOR when non-empty: "flag" (app default: loggedIn, username) or "passport" (passport-local; alice is id 42)
	KeygripAlgorithm     string   // KEYGRIP_ALGORITHM with StoreFlavor "cookie-session": the app passes new Keygrip(keys, alg); Secrets are its keys
	Env                  []string // extra KEY=VALUE entries; they win over everything above
}

// nodeAppEnvKeys are the variables StartNodeApp controls; values inherited
// from the caller's environment are dropped so runs are reproducible.
var nodeAppEnvKeys = []string{
	"PORT", "HOST", "REDIS_URL", "SESSION_SECRET", "SESSION_SECRETS_FILE", "BRIDGE_URL",
	"SESSION_COOKIE_NAME", "SESSION_PREFIX", "SESSION_DISABLE_TTL", "SESSION_DISABLE_TOUCH",
	"SESSION_TTL", "SESSION_MAX_AGE_MS", "EXPRESS_FLAVOR", "STORE_FLAVOR", "EXPRESSBRIDGE_TEST_ROUTES", "AUTH_FLAVOR",
	"DATABASE_URL", "SESSION_PG_TABLE", "SESSION_PG_SCHEMA", "SESSION_MYSQL_TABLE", "SESSION_KNEX_TABLE", "KEYGRIP_ALGORITHM",
}

// StartNodeApp runs `node server.js` in node-app (after EnsureNodeModules)
// with EXPRESSBRIDGE_TEST_ROUTES=1 and returns once it prints
// "listening on " (bounded by 15 s), retrying on a new port if the chosen
// one was taken. It fails the test, showing the app's output, when the app
// cannot start. At cleanup the app gets SIGTERM, then SIGKILL after 3 s.
func StartNodeApp(t testing.TB, cfg NodeAppConfig) *NodeApp {
	t.Helper()
	switch {
	case sqlFlavor(cfg.StoreFlavor) && cfg.DatabaseURL == "":
		t.Fatalf("testenv: NodeAppConfig.DatabaseURL is required with StoreFlavor %s (e.g. StartPostgres(t).URL() or StartMariaDB(t).URL())", cfg.StoreFlavor)
	case cfg.RedisURL == "" && !sqlFlavor(cfg.StoreFlavor) && cfg.StoreFlavor != "cookie-session":
		t.Fatal("testenv: NodeAppConfig.RedisURL is required (e.g. StartRedis(t).URL())")
	case len(cfg.Secrets) == 0:
		t.Fatal("testenv: NodeAppConfig.Secrets needs at least one secret")
	case cfg.BrowserSessionCookie && cfg.MaxAgeMS > 0:
		t.Fatal("testenv: NodeAppConfig: set BrowserSessionCookie or MaxAgeMS, not both")
	}
	for _, s := range cfg.Secrets {
		if strings.TrimSpace(s) == "" || strings.ContainsAny(s, "\r\n") {
			t.Fatalf("testenv: NodeAppConfig.Secrets: %q is blank or has a line break; the secrets file holds one non-blank secret per line", s)
		}
	}
	node := Node(t)
	EnsureNodeModules(t)
	dir := filepath.Join(RepoRoot(t), "node-app")
	if _, err := os.Stat(filepath.Join(dir, "server.js")); err != nil {
		t.Fatalf("testenv: %s missing: the Express app must exist before tests can start it", filepath.Join(dir, "server.js"))
	}
	secrets := filepath.Join(t.TempDir(), "session-secrets")
	if err := os.WriteFile(secrets, []byte(strings.Join(cfg.Secrets, "\n")+"\n"), 0o600); err != nil {
		t.Fatalf("testenv: write secrets file: %v", err)
	}

	a := &NodeApp{
		cookieName: cfg.CookieName,
		client: &http.Client{
			Timeout:       httpTimeout,
			Transport:     &http.Transport{DisableCompression: true}, // own pool, never a proxy
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	if a.cookieName == "" {
		a.cookieName = "connect.sid"
		if cfg.StoreFlavor == "cookie-session" {
			a.cookieName = "session"
		}
	}
	t.Cleanup(func() {
		a.stop()
		a.client.CloseIdleConnections()
		if a.started && t.Failed() {
			t.Logf("testenv: node-app output (last %d lines):\n%s", nodeLogLines, a.tail(nodeLogLines))
		}
	})

	var err error
	for attempt := 1; attempt <= portAttempts; attempt++ {
		port := FreePort(t)
		a.url = "http://127.0.0.1:" + strconv.Itoa(port)
		var portTaken bool
		if portTaken, err = a.launch(node, dir, nodeAppEnv(cfg, port, secrets)); err == nil {
			a.started = true
			return a
		}
		if !portTaken {
			break
		}
		t.Logf("testenv: node-app port %d was taken by another process, retrying on a new port", port)
	}
	t.Fatalf("testenv: node-app did not start: %v\n--- node-app output (last %d lines) ---\n%s", err, nodeLogLines, a.tail(nodeLogLines))
	return nil
}

// sqlFlavor reports a store flavor on DATABASE_URL rather than Redis.
func sqlFlavor(flavor string) bool {
	return flavor == "connect-pg-simple" || flavor == "express-mysql-session" || flavor == "connect-session-knex"
}

// nodeAppEnv builds the child environment for cfg.
func nodeAppEnv(cfg NodeAppConfig, port int, secretsFile string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(nodeAppEnvKeys, k) {
			env = append(env, kv)
		}
	}
	set := func(k, v string) { env = append(env, k+"="+v) }
	set("PORT", strconv.Itoa(port))
	set("HOST", "127.0.0.1")
	set("REDIS_URL", cfg.RedisURL)
	set("SESSION_SECRETS_FILE", secretsFile)
	set("EXPRESSBRIDGE_TEST_ROUTES", "1")
	if cfg.CookieName != "" {
		set("SESSION_COOKIE_NAME", cfg.CookieName)
	}
	if cfg.Prefix != "" {
		set("SESSION_PREFIX", cfg.Prefix)
	}
	if cfg.DisableTTL {
		set("SESSION_DISABLE_TTL", "1")
	}
	if cfg.DisableTouch {
		set("SESSION_DISABLE_TOUCH", "1")
	}
	if cfg.TTL > 0 {
		set("SESSION_TTL", strconv.Itoa(cfg.TTL))
	}
	if cfg.MaxAgeMS > 0 {
		set("SESSION_MAX_AGE_MS", strconv.FormatInt(cfg.MaxAgeMS, 10))
	}
	if cfg.BrowserSessionCookie {
		set("SESSION_MAX_AGE_MS", "session")
	}
	if cfg.ExpressFlavor != "" {
		set("EXPRESS_FLAVOR", cfg.ExpressFlavor)
	}
	if cfg.StoreFlavor != "" {
		set("STORE_FLAVOR", cfg.StoreFlavor)
	}
	if cfg.BridgeURL != "" {
		set("BRIDGE_URL", cfg.BridgeURL)
	}
	if cfg.AuthFlavor != "" {
		set("AUTH_FLAVOR", cfg.AuthFlavor)
	}
	if cfg.KeygripAlgorithm != "" {
		set("KEYGRIP_ALGORITHM", cfg.KeygripAlgorithm)
	}
	if cfg.DatabaseURL != "" {
		set("DATABASE_URL", cfg.DatabaseURL)
	}
	if cfg.PGTable != "" {
		set("SESSION_PG_TABLE", cfg.PGTable)
	}
	if cfg.PGSchema != "" {
		set("SESSION_PG_SCHEMA", cfg.PGSchema)
	}
	if cfg.MySQLTable != "" {
		set("SESSION_MYSQL_TABLE", cfg.MySQLTable)
	}
	if cfg.KnexTable != "" {
		set("SESSION_KNEX_TABLE", cfg.KnexTable)
	}
	return append(env, cfg.Env...) // os/exec keeps the last value of a duplicated key
}

// launch starts the app and waits for its "listening on " line. It reports
// portTaken when the app died with EADDRINUSE.
func (a *NodeApp) launch(node, dir string, env []string) (portTaken bool, err error) {
	ready := make(chan struct{})
	var once sync.Once
	a.stdout = a.output.writer(func(line string) {
		if strings.HasPrefix(line, "listening on ") {
			once.Do(func() { close(ready) })
		}
	})
	a.stderr = a.output.writer(nil)
	cmd := exec.Command(node, "server.js")
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout = a.stdout
	cmd.Stderr = a.stderr
	p, err := startProc(cmd)
	if err != nil {
		return false, fmt.Errorf("exec %s: %v", node, err)
	}
	timer := time.NewTimer(nodeStartTimeout)
	defer timer.Stop()
	select {
	case <-ready:
		a.mu.Lock()
		a.p = p
		a.mu.Unlock()
		return false, nil
	case <-p.done:
		return strings.Contains(a.tail(maxLogLines), "EADDRINUSE"), fmt.Errorf("node server.js exited before listening (%v)", p.err)
	case <-timer.C:
		p.stop(syscall.SIGTERM, nodeStopGrace)
		return false, fmt.Errorf("node server.js printed no \"listening on \" line within %v", nodeStartTimeout)
	}
}

// URL returns the app's base URL, "http://127.0.0.1:PORT" (no trailing slash).
func (a *NodeApp) URL() string { return a.url }

// Stop sends SIGTERM to the app, SIGKILLs it after 3 s, and waits for it to
// exit. It is a no-op when the app is already stopped.
func (a *NodeApp) Stop(t testing.TB) {
	t.Helper()
	a.stop()
}

// stop is Stop without a TB, for cleanups.
func (a *NodeApp) stop() {
	a.mu.Lock()
	p := a.p
	a.p = nil
	a.mu.Unlock()
	if p != nil {
		p.stop(syscall.SIGTERM, nodeStopGrace)
	}
}

// tail returns the app's last n output lines (stdout and stderr interleaved).
func (a *NodeApp) tail(n int) string {
	return a.output.tail(n, a.stdout, a.stderr)
}

// Login posts {"username": username} to /login as JSON and returns the Cookie
// header value a browser would send next, "NAME=VALUE" exactly as in the
// Set-Cookie header (value still percent-encoded, e.g. "connect.sid=s%3A...").
// It fails the test unless the app answers 200 {"ok":true,...} with the
// session cookie.
func (a *NodeApp) Login(ctx context.Context, t testing.TB, username string) string {
	t.Helper()
	// The password is the passport flavor's; the default flavor ignores it.
	resp, body := a.do(ctx, t, http.MethodPost, "/login", "", map[string]string{"username": username, "password": PassportPassword})
	var res struct {
		OK bool `json:"ok"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &res) != nil || !res.OK {
		t.Fatalf("testenv: POST /login as %q: want 200 {\"ok\":true}, got %s %s", username, resp.Status, body)
	}
	if pair := a.sessionCookie(resp); pair != "" {
		return pair
	}
	t.Fatalf("testenv: POST /login as %q: no %s cookie in Set-Cookie headers %q", username, a.cookieName, resp.Header.Values("Set-Cookie"))
	return ""
}

// PassportPassword is every user's password in the passport flavor.
const PassportPassword = "let-me-in"

// sessionCookie returns the session cookie's "NAME=VALUE" pair a response
// sets, or "". cookie-session's signature cookie beside it (NAME.sig)
// follows it: "NAME=VALUE; NAME.sig=SIG", the Cookie header a browser sends.
func (a *NodeApp) sessionCookie(resp *http.Response) string {
	var session, sig string
	for _, sc := range resp.Header.Values("Set-Cookie") {
		pair, _, _ := strings.Cut(sc, ";")
		pair = strings.TrimSpace(pair)
		name, value, ok := strings.Cut(pair, "=")
		switch {
		case !ok || value == "":
		case name == a.cookieName:
			session = pair
		case name == a.cookieName+".sig":
			sig = pair
		}
	}
	if session != "" && sig != "" {
		return session + "; " + sig
	}
	return session
}

// Logout posts /logout with the given Cookie header value and fails the test
// unless the app answers with a status below 400.
func (a *NodeApp) Logout(ctx context.Context, t testing.TB, cookie string) {
	t.Helper()
	a.LogoutCookie(ctx, t, cookie)
}

// LogoutCookie is Logout, returning the session cookie pair the response
// sets ("" when none): passport's logout regenerates the session and the
// browser gets the fresh one.
func (a *NodeApp) LogoutCookie(ctx context.Context, t testing.TB, cookie string) string {
	t.Helper()
	resp, body := a.do(ctx, t, http.MethodPost, "/logout", cookie, nil)
	if resp.StatusCode >= 400 {
		t.Fatalf("testenv: POST /logout: got %s %s", resp.Status, body)
	}
	return a.sessionCookie(resp)
}

// WhoAmI is the JSON body of GET /whoami.
type WhoAmI struct {
	SID      string          `json:"sid"`      // session id Express sees
	LoggedIn bool            `json:"loggedIn"` // whether the session has a user
	Username *string         `json:"username"` // nil when logged out
	Session  json.RawMessage `json:"session"`  // the session object as stored
}

// WhoAmI GETs /whoami with the given Cookie header value ("" sends none) and
// returns the decoded body; it fails the test unless the app answers 200 JSON.
func (a *NodeApp) WhoAmI(ctx context.Context, t testing.TB, cookie string) WhoAmI {
	t.Helper()
	resp, body := a.do(ctx, t, http.MethodGet, "/whoami", cookie, nil)
	var w WhoAmI
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("testenv: GET /whoami: want 200, got %s %s", resp.Status, body)
	}
	if err := json.Unmarshal(body, &w); err != nil {
		t.Fatalf("testenv: GET /whoami: body is not the expected JSON (%v): %s", err, body)
	}
	return w
}

// PostJSON posts body, encoded as JSON, to path (e.g. "/test/set") with the
// given Cookie header value ("" sends none) and returns the status code and
// response body. Only transport errors fail the test; the status is the
// caller's to check.
func (a *NodeApp) PostJSON(ctx context.Context, t testing.TB, path, cookie string, body any) (int, []byte) {
	t.Helper()
	if body == nil {
		body = struct{}{}
	}
	resp, b := a.do(ctx, t, http.MethodPost, path, cookie, body)
	return resp.StatusCode, b
}

// do sends one request (JSON body when body is non-nil, Accept JSON, never
// following redirects) and returns the response with its body read.
func (a *NodeApp) do(ctx context.Context, t testing.TB, method, path, cookie string, body any) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatalf("testenv: %s %s: encode body: %v", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.url+path, rd)
	if err != nil {
		t.Fatalf("testenv: %s %s: %v", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		t.Fatalf("testenv: %s %s: %v (is the node-app still running? see its output below)", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		t.Fatalf("testenv: %s %s: read body: %v", method, path, err)
	}
	return resp, b
}

// Node returns the path of the node binary, failing the test with one line
// when Node.js is not installed.
func Node(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"node", "nodejs"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("node not found: install Node.js >= 18 with npm (e.g. apt-get install nodejs npm) and run again")
	return ""
}

// nodeModules makes the npm ci check happen at most once per test process;
// the file lock in withFileLock serialises processes.
var nodeModules struct {
	once sync.Once
	err  error
}

// EnsureNodeModules makes node-app/node_modules match package-lock.json,
// running `npm ci` (under a cross-process file lock) when node_modules is
// missing or older than package-lock.json. It fails the test with one line
// when node or npm is missing, and with npm's output when npm ci fails.
func EnsureNodeModules(t testing.TB) {
	t.Helper()
	Node(t)
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatal("npm not found: install npm (e.g. apt-get install npm) and run again")
	}
	dir := filepath.Join(RepoRoot(t), "node-app")
	sum := sha256.Sum256([]byte(dir))
	lock := filepath.Join(os.TempDir(), "expressbridge-testenv-npm-"+hex.EncodeToString(sum[:8])+".lock")
	nodeModules.once.Do(func() {
		nodeModules.err = withFileLock(lock, func() error {
			stale, err := nodeModulesStale(dir)
			if err != nil || !stale {
				return err
			}
			t.Logf("testenv: node-app/node_modules missing or older than package-lock.json; running npm ci in %s", dir)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("npm ci in %s failed (%v); fix the error below (network, registry, lockfile) and run again\n%s", dir, err, tailText(string(out), 30))
			}
			return nil
		})
	})
	if nodeModules.err != nil {
		t.Fatalf("testenv: %v", nodeModules.err)
	}
}

// nodeModulesStale reports whether dir/node_modules is missing or older than
// dir/package-lock.json. npm writes node_modules/.package-lock.json last, so
// its time stamp tells when node_modules was installed.
func nodeModulesStale(dir string) (bool, error) {
	lock, err := os.Stat(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return false, fmt.Errorf("%s: %v: run npm install in node-app to create the lockfile", filepath.Join(dir, "package-lock.json"), err)
	}
	installed, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json"))
	if err != nil {
		return true, nil
	}
	return installed.ModTime().Before(lock.ModTime()), nil
}
