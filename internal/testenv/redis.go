package testenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

const (
	redisStartTimeout = 10 * time.Second // until PING answers
	redisStopTimeout  = 10 * time.Second // until exit after SIGTERM
	portAttempts      = 4                // ports tried when the chosen one gets taken
)

// Redis is a redis-server process owned by one test. It listens on
// 127.0.0.1 only, keeps no data on disk across restarts (no RDB, no AOF) and
// is killed when the test ends. Its methods must be called from the test's
// goroutine; Addr and URL are safe anywhere.
type Redis struct {
	bin     string
	port    int // fixed after StartRedis returns
	dir     string
	logPath string
	extra   []string
	conf    string  // config file passed first (sentinels need one); "" for none
	output  lineLog // redis-server's own stdout/stderr (startup errors before the log file opens)

	mu sync.Mutex
	p  *proc // nil while stopped
}

// redisConfig collects RedisOptions.
type redisConfig struct {
	args []string
	conf string
}

// RedisOption customises StartRedis.
type RedisOption func(*redisConfig)

// WithRedisArgs appends extra redis-server command-line arguments, e.g.
// "--notify-keyspace-events", "Kx" or "--rename-command", "CONFIG", "".
// They are used again on every (re)start.
func WithRedisArgs(args ...string) RedisOption {
	return func(c *redisConfig) { c.args = append(c.args, args...) }
}

// StartRedis starts a redis-server on a free loopback port and returns once
// it answers PING (bounded by 10 s). If the port is taken by someone else
// during startup it retries on a new port. It fails the test (showing the
// server log) when it cannot start, and kills the server at cleanup.
func StartRedis(t testing.TB, opts ...RedisOption) *Redis {
	t.Helper()
	var cfg redisConfig
	for _, o := range opts {
		o(&cfg)
	}
	dir := t.TempDir()
	r := &Redis{
		bin:     redisServerPath(t),
		dir:     dir,
		logPath: filepath.Join(dir, "redis.log"),
		extra:   cfg.args,
		conf:    cfg.conf,
	}
	t.Cleanup(func() {
		if p := r.take(); p != nil {
			p.stop(syscall.SIGKILL, 0)
		}
	})
	var err error
	for attempt := 1; attempt <= portAttempts; attempt++ {
		r.port = FreePort(t)
		var portTaken bool
		if portTaken, err = r.launch(); err == nil {
			return r
		}
		if !portTaken {
			break
		}
		t.Logf("testenv: redis port %d was taken by another process, retrying on a new port", r.port)
	}
	t.Fatalf("testenv: redis-server did not start: %v\n%s", err, r.logTail())
	return nil
}

// Addr returns the server address, "127.0.0.1:PORT".
func (r *Redis) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }

// URL returns the server URL, "redis://127.0.0.1:PORT".
func (r *Redis) URL() string { return "redis://" + r.Addr() }

// Client returns a new go-redis client for this server, closed at cleanup.
// It sends no client-identity or maintenance-notification handshakes, so the
// server's command stream contains only what the test does.
func (r *Redis) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:                     r.Addr(),
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Stop shuts the server down gracefully (SIGTERM, which redis handles like
// SHUTDOWN; nothing is saved) and waits for it to exit. It is a no-op when
// the server is not running. If the server does not exit within 10 s it is
// killed and the test fails.
func (r *Redis) Stop(t testing.TB) {
	t.Helper()
	if p := r.take(); p != nil && !p.stop(syscall.SIGTERM, redisStopTimeout) {
		t.Fatalf("testenv: redis-server on %s ignored SIGTERM for %v and was killed\n%s", r.Addr(), redisStopTimeout, r.logTail())
	}
}

// Kill sends SIGKILL to the server and waits for it to exit, simulating a
// crash. It is a no-op when the server is not running.
func (r *Redis) Kill(t testing.TB) {
	t.Helper()
	if p := r.take(); p != nil {
		p.stop(syscall.SIGKILL, 0)
	}
}

// Start restarts a stopped or killed server on the same port with the same
// arguments and returns once it answers PING. The data set starts empty
// (nothing is persisted unless the test itself runs SAVE).
// It fails the test if the server is running or cannot start (for example
// because another process took the port meanwhile).
func (r *Redis) Start(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	running := r.p != nil
	r.mu.Unlock()
	if running {
		t.Fatalf("testenv: redis-server on %s is already running: call Stop or Kill before Start", r.Addr())
	}
	if portTaken, err := r.launch(); err != nil {
		hint := ""
		if portTaken {
			hint = " (another process took the port while redis was stopped)"
		}
		t.Fatalf("testenv: redis-server restart on %s failed%s: %v\n%s", r.Addr(), hint, err, r.logTail())
	}
}

// take detaches and returns the running process, or nil.
func (r *Redis) take() *proc {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.p
	r.p = nil
	return p
}

// launch starts redis-server on r.port and waits until it answers. It
// reports portTaken when the failure is because another process has the port.
func (r *Redis) launch() (portTaken bool, err error) {
	logStart := fileSize(r.logPath)
	args := append([]string{
		"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no",
		"--dir", r.dir, "--daemonize", "no", "--logfile", r.logPath,
	}, r.extra...)
	if r.conf != "" {
		args = append([]string{r.conf}, args...)
	}
	cmd := exec.Command(r.bin, args...)
	cmd.Stdout = r.output.writer(nil)
	cmd.Stderr = r.output.writer(nil)
	p, err := startProc(cmd)
	if err != nil {
		return false, fmt.Errorf("exec %s: %v", r.bin, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), redisStartTimeout)
	defer cancel()
	for {
		pid, probeErr := redisProbe(ctx, r.Addr())
		switch {
		case p.exited():
			since := readFrom(r.logPath, logStart) + r.output.tail(maxLogLines)
			return strings.Contains(since, "Address already in use"), fmt.Errorf("redis-server exited during startup (%v)", p.err)
		case probeErr == nil && pid != 0 && pid != p.cmd.Process.Pid:
			p.stop(syscall.SIGKILL, 0)
			return true, fmt.Errorf("port %d is served by another redis (pid %d)", r.port, pid)
		case probeErr == nil:
			r.mu.Lock()
			r.p = p
			r.mu.Unlock()
			return false, nil
		}
		select {
		case <-ctx.Done():
			p.stop(syscall.SIGKILL, 0)
			return false, fmt.Errorf("no PING answer on %s within %v (last error: %v)", r.Addr(), redisStartTimeout, probeErr)
		case <-p.done:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// logTail returns the end of the server log and output, for failure messages.
func (r *Redis) logTail() string {
	s := ""
	if log := tailText(readFrom(r.logPath, 0), 30); log != "" {
		s += "--- " + r.logPath + " (tail) ---\n" + log + "\n"
	}
	if out := r.output.tail(20); out != "" {
		s += "--- redis-server stdout/stderr (tail) ---\n" + out + "\n"
	}
	if s == "" {
		return "(redis-server wrote nothing)"
	}
	return strings.TrimSuffix(s, "\n")
}

// errLoading means redis answered but is still loading its data set.
var errLoading = errors.New("redis is loading")

// redisProbe sends PING and INFO server over a raw connection. Any reply but
// LOADING means the server is up (PING may be renamed or need AUTH). It
// returns the server's process_id when INFO reveals it, else 0.
func redisProbe(ctx context.Context, addr string) (pid int, err error) {
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	conn, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(conn, "*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n"); err != nil {
		return 0, err
	}
	br := bufio.NewReader(conn)
	line, err := br.ReadString('\n')
	if err != nil {
		return 0, err
	}
	if strings.HasPrefix(line, "-LOADING") {
		return 0, errLoading
	}
	line, err = br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "$") {
		return 0, nil // INFO unavailable (renamed, NOAUTH): the PING reply is enough
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil || n < 0 {
		return 0, nil
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(br, body); err != nil {
		return 0, nil
	}
	for _, l := range strings.Split(string(body), "\r\n") {
		if v, ok := strings.CutPrefix(l, "process_id:"); ok {
			pid, _ = strconv.Atoi(v)
		}
	}
	return pid, nil
}

// fileSize returns the size of path, or 0 when it does not exist.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// readFrom returns the contents of path from offset on ("" on error).
func readFrom(path string, offset int64) string {
	b, err := os.ReadFile(path)
	if err != nil || offset > int64(len(b)) {
		return ""
	}
	return string(b[offset:])
}
