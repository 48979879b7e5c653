package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const nginxStartTimeout = 10 * time.Second

// Nginx is a real nginx serving one server block on 127.0.0.1, stopped at
// cleanup. Its error log is logged when the test fails.
type Nginx struct {
	port int
	dir  string
	p    *proc
}

// StartNginx runs nginx (installing Debian's package as root when missing)
// with a main configuration of its own around serverBlock, which may hold
// upstream, map and server blocks as in docs/deploy/nginx.conf. Every path
// nginx writes is in a temp folder. It returns once the port answers.
func StartNginx(t testing.TB, serverBlock string, port int) *Nginx {
	t.Helper()
	bin := toolPath(t, "nginx", "nginx", &nginxInstall)
	dir := t.TempDir()
	for _, d := range []string{"logs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;\n" // its workers read and write the temp folder
	}
	conf := fmt.Sprintf(`%sdaemon off;
master_process on;
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/logs/error.log info;
events { worker_connections 1024; }
http {
    access_log %[2]s/logs/access.log;
    client_body_temp_path %[2]s/tmp/body;
    proxy_temp_path %[2]s/tmp/proxy;
    fastcgi_temp_path %[2]s/tmp/fastcgi;
    uwsgi_temp_path %[2]s/tmp/uwsgi;
    scgi_temp_path %[2]s/tmp/scgi;
%[3]s
}
`, user, dir, serverBlock)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-t", "-p", dir, "-c", confPath).CombinedOutput(); err != nil {
		t.Fatalf("testenv: nginx -t refuses the configuration: %v\n%s\n--- configuration ---\n%s", err, out, conf)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", confPath)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p, err := startProc(cmd)
	if err != nil {
		t.Fatalf("testenv: start nginx: %v", err)
	}
	n := &Nginx{port: port, dir: dir, p: p}
	t.Cleanup(func() {
		p.stop(syscall.SIGQUIT, 3*time.Second) // graceful: lets open WebSockets go
		if t.Failed() {
			t.Logf("testenv: nginx error log (last 40 lines):\n%s", n.ErrorLog(40))
		}
	})
	deadline := time.Now().Add(nginxStartTimeout)
	for !portOpen(port) {
		if p.exited() || time.Now().After(deadline) {
			t.Fatalf("testenv: nginx did not listen on %d:\n%s", port, n.ErrorLog(40))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return n
}

// URL is the server's base URL.
func (n *Nginx) URL() string { return "http://127.0.0.1:" + strconv.Itoa(n.port) }

// ErrorLog returns the last lines of nginx's error log.
func (n *Nginx) ErrorLog(lines int) string {
	b, _ := os.ReadFile(filepath.Join(n.dir, "logs", "error.log"))
	return tailText(string(b), lines)
}

// AccessLog returns nginx's access log.
func (n *Nginx) AccessLog() string {
	b, _ := os.ReadFile(filepath.Join(n.dir, "logs", "access.log"))
	return strings.TrimSpace(string(b))
}

// portOpen reports whether something accepts connections on the port.
func portOpen(port int) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
