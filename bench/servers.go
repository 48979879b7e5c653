package bench

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	startTimeout = 20 * time.Second // until a server is ready
	stopGrace    = 5 * time.Second  // SIGTERM to SIGKILL
)

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("cannot listen on 127.0.0.1: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// RepoRoot returns the module root: the nearest directory at or above the
// working directory that holds go.mod.
func RepoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above %s: run from inside the expressbridge module", wd)
		}
		dir = parent
	}
}

// StartRedis starts a redis-server on a free loopback port with nothing
// persisted (the flags internal/testenv uses) and returns it with its URL
// once it answers PING.
func StartRedis(dir string) (*Proc, string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, "", fmt.Errorf("redis-server not found: run scripts/ensure.sh redis (apt-get install redis-server)")
	}
	port, err := FreePort()
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(bin,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no",
		"--dir", dir, "--daemonize", "no", "--logfile", filepath.Join(dir, "redis.log"))
	p, err := StartProc("redis-server", cmd, nil, 0)
	if err != nil {
		return nil, "", err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if redisPing(addr) == nil {
			return p, "redis://" + addr, nil
		}
		if p.Exited() || time.Now().After(deadline) {
			p.Stop(time.Second)
			log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
			return nil, "", fmt.Errorf("redis-server on %s did not answer PING\n%s\n%s", addr, lastLines(string(log), 20), p.Tail(10))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func redisPing(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Shared is what every server of a run shares with the Express app: its
// secrets file (one secret per line, the first signs), its Redis and its
// key prefix. The cookie name is express-session's default, connect.sid,
// everywhere.
type Shared struct {
	RedisURL    string
	SecretsFile string
	Prefix      string

	// Env holds extra KEY=VALUE entries for every server (e.g.
	// GODEBUG=gctrace=1); LogDir, when set, gets a copy of each server's
	// output in LogDir/NAME.log (NAME: expressbridge, socketio, ws, server).
	Env    []string
	LogDir string
}

// logFile opens LogDir/name.log for appending, or returns nil.
func (sh Shared) logFile(name string) io.WriteCloser {
	if sh.LogDir == "" {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(sh.LogDir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil
	}
	return f
}

// start runs cmd with the shared extra environment and log copy.
func (sh Shared) start(logName, name string, cmd *exec.Cmd, ready func(string) bool, timeout time.Duration) (*Proc, error) {
	cmd.Env = append(cmd.Env, sh.Env...)
	var tee io.Writer
	if f := sh.logFile(logName); f != nil {
		tee = f // closed by the Proc once the process has ended
	}
	return startProc(name, cmd, ready, timeout, tee)
}

// CookieName is the session cookie name every server uses (the default).
const CookieName = "connect.sid"

// nodeEnvKeys are the node-app variables the harness controls; inherited
// values are dropped so that runs are reproducible.
var nodeEnvKeys = []string{
	"PORT", "HOST", "REDIS_URL", "SESSION_SECRET", "SESSION_SECRETS_FILE", "BRIDGE_URL",
	"SESSION_COOKIE_NAME", "SESSION_PREFIX", "SESSION_DISABLE_TTL", "SESSION_DISABLE_TOUCH",
	"SESSION_TTL", "SESSION_MAX_AGE_MS", "EXPRESS_FLAVOR", "STORE_FLAVOR", "EXPRESSBRIDGE_TEST_ROUTES",
	"NODE_OPTIONS",
}

// StartNode runs `node SCRIPT` in appDir (node-app) with the node-app
// environment contract (PORT, HOST=127.0.0.1, REDIS_URL,
// SESSION_SECRETS_FILE, SESSION_PREFIX) and returns once it prints
// "listening on ". script is "server.js" (the Express app),
// "peers/socketio.js" or "peers/ws.js".
func StartNode(node, appDir, script string, port int, sh Shared) (*Proc, error) {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(nodeEnvKeys, k) {
			env = append(env, kv)
		}
	}
	env = append(env,
		"PORT="+strconv.Itoa(port), "HOST=127.0.0.1",
		"REDIS_URL="+sh.RedisURL, "SESSION_SECRETS_FILE="+sh.SecretsFile, "SESSION_PREFIX="+sh.Prefix)
	cmd := exec.Command(node, script)
	cmd.Dir = appDir
	cmd.Env = env
	return sh.start(strings.TrimSuffix(filepath.Base(script), ".js"), "node "+script, cmd,
		func(line string) bool { return strings.HasPrefix(line, "listening on ") }, startTimeout)
}

// StartBridge runs `expressbridge serve` on 127.0.0.1:port with the shared
// secrets file, Redis and prefix (no --allow-origin: the load generator
// sends no Origin header, like every non-browser client), logging only
// warnings, and returns once GET /healthz answers 200. extra are more
// flags of serve.
func StartBridge(bin string, port int, sh Shared, extra ...string) (*Proc, error) {
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin, append([]string{"serve",
		"--listen", addr, "--redis-url", sh.RedisURL, "--secret-file", sh.SecretsFile,
		"--prefix", sh.Prefix, "--cookie-name", CookieName, "--log-level", "warn"}, extra...)...)
	cmd.Env = os.Environ()
	p, err := sh.start("expressbridge", "expressbridge serve", cmd, nil, 0)
	if err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(startTimeout)
	for {
		resp, err := client.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if p.Exited() || time.Now().After(deadline) {
			p.Stop(time.Second)
			return nil, fmt.Errorf("expressbridge serve on %s did not answer /healthz 200 (last: %v)\n%s", addr, err, p.Tail(20))
		}
		time.Sleep(25 * time.Millisecond)
	}
}
