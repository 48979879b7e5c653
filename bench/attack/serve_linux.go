package attack

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/expressbridge/expressbridge/bench"
)

// ServeOptions are what RunServe starts and runs.
type ServeOptions struct {
	Bridge, Node, Repo string // bin/expressbridge, node, the module's root
	Attacks            []Attack
	Sizes              Sizes
	Logf               func(format string, args ...any)
}

// RunServe starts redis-server, the Express app (node-app/server.js) and
// `expressbridge serve` with its defaults (and --metrics-listen, whose
// go_goroutines it reads), then runs each attack in turn, measuring serve's
// RSS (/proc/PID/status: VmRSS, and VmHWM for the peak) and goroutines.
func RunServe(ctx context.Context, o ServeOptions) ([]Result, error) {
	dir, err := os.MkdirTemp("", "ebload-attack")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	sh := bench.Shared{SecretsFile: filepath.Join(dir, "secrets"), Prefix: "sess:"}
	if err := os.WriteFile(sh.SecretsFile, []byte("attack-secret-1f3e\n"), 0o600); err != nil {
		return nil, err
	}
	redis, url, err := bench.StartRedis(dir)
	if err != nil {
		return nil, err
	}
	defer redis.Stop(5 * time.Second)
	sh.RedisURL = url
	appPort, err := bench.FreePort()
	if err != nil {
		return nil, err
	}
	app, err := bench.StartNode(o.Node, filepath.Join(o.Repo, "node-app"), "server.js", appPort, sh)
	if err != nil {
		return nil, err
	}
	defer app.Stop(5 * time.Second)
	port, err := bench.FreePort()
	if err != nil {
		return nil, err
	}
	mport, err := bench.FreePort()
	if err != nil {
		return nil, err
	}
	metrics := "127.0.0.1:" + strconv.Itoa(mport)
	srv, err := bench.StartBridge(o.Bridge, port, sh, "--metrics-listen", metrics)
	if err != nil {
		return nil, err
	}
	defer srv.Stop(10 * time.Second)
	pid := srv.PID()
	tg := Target{Addr: "127.0.0.1:" + strconv.Itoa(port), AppURL: "http://127.0.0.1:" + strconv.Itoa(appPort)}
	o.Logf("serve pid %d on %s (metrics %s), Express app on %s, %s", pid, tg.Addr, metrics, tg.AppURL, url)

	mc := &http.Client{Timeout: 5 * time.Second}
	probe := func() (int64, int, error) {
		rss, err := bench.ReadStatusKB(pid, "VmRSS")
		if err != nil {
			return 0, 0, err
		}
		g, err := goroutines(mc, "http://"+metrics+"/metrics")
		return rss << 10, g, err
	}
	peak := func() (int64, error) {
		hwm, err := bench.ReadStatusKB(pid, "VmHWM")
		// Reset the high-water mark to the current RSS for the next call.
		os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
		return hwm << 10, err
	}
	if _, err := Legit(ctx, tg); err != nil {
		return nil, fmt.Errorf("a legitimate login before any attack: %w\n%s", err, srv.Tail(20))
	}
	opts := Options{
		Sizes: o.Sizes, Probe: probe, Peak: peak,
		// serve's defaults: 10 s read and write timeouts, 30 s idle, 45 s
		// until a polling session that does not poll is closed.
		ReleaseWait: 60 * time.Second, Hold: 2 * time.Second,
		BackWait: 60 * time.Second, MemSlack: 20 << 20, GoroutineSlack: 10,
		LoginEvery: 100 * time.Millisecond,
	}
	var out []Result
	for _, a := range o.Attacks {
		o.Logf("%s: %s", a.Name, a.What)
		r := Measure(ctx, tg, a, opts)
		o.Logf("%s: done in %.1f s; %s", a.Name, r.Took.Seconds(), r.Outcomes)
		if r.Err != nil {
			o.Logf("%s: %v", a.Name, r.Err)
		}
		for i, f := range r.LoginFails {
			if i < 3 {
				o.Logf("%s: a legitimate login failed: %s", a.Name, f)
			}
		}
		out = append(out, r)
		if srv.Exited() {
			return out, fmt.Errorf("serve exited during %s\n%s", a.Name, srv.Tail(20))
		}
	}
	o.Logf("serve's warnings:\n%s", srv.Tail(40))
	return out, nil
}

// goroutines reads go_goroutines from a Prometheus text page.
func goroutines(c *http.Client, url string) (int, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int(f), err
		}
	}
	return 0, fmt.Errorf("%s: no go_goroutines", url)
}
