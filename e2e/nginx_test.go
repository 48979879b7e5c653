//go:build linux

package e2e

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/expressbridge/expressbridge/internal/testenv"
)

// TestBrowserBehindNginx runs both browser tests through a real nginx with
// docs/deploy/nginx.conf: the Express app at / and the bridge at /ws and
// /socket.io/ on one origin, so the pages connect to a path and need no
// --allow-origin; Socket.IO long-polls through nginx, then upgrades.
func TestBrowserBehindNginx(t *testing.T) {
	logs := newTestLog(t)
	node := testenv.Node(t)
	chromium := testenv.Chromium(t)
	root := testenv.RepoRoot(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen for the bridge: %v", err)
	}
	rig := startRig(t, "/ws") // the page's own origin: nginx's
	app := rig.App
	// As docs/deploy/nginx.conf says: no --allow-origin, --trust-proxy 127.0.0.1.
	startBridge(t, ln, bridgeSetup{proxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}, rig, logs)

	conf, err := os.ReadFile(filepath.Join(root, "docs", "deploy", "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	port := testenv.FreePort(t)
	block := string(conf)
	for old, new := range map[string]string{
		"server 127.0.0.1:3000;": "server " + strings.TrimPrefix(app.URL(), "http://") + ";",
		"server 127.0.0.1:8081;": "server " + ln.Addr().String() + ";",
		"listen 80;":             "listen 127.0.0.1:" + strconv.Itoa(port) + ";",
	} {
		if !strings.Contains(block, old) {
			t.Fatalf("docs/deploy/nginx.conf no longer holds %q: update this test with it", old)
		}
		block = strings.Replace(block, old, new, 1)
	}
	ngx := testenv.StartNginx(t, block, port)

	runBrowserScript(t, logs, node, filepath.Join(root, "node-app"), "scripts/browser-test.js", []string{
		"APP_URL=" + ngx.URL(),
		"CHROMIUM=" + chromium,
		"OUT_DIR=" + filepath.Join(root, "build", "e2e-nginx"),
	})
	// Socket.IO through the same origin: long-polling first, then the upgrade.
	runBrowserScript(t, logs, node, filepath.Join(root, "node-app"), "scripts/socketio-browser-test.js", []string{
		"APP_URL=" + ngx.URL(),
		"CHROMIUM=" + chromium,
		"OUT_DIR=" + filepath.Join(root, "build", "e2e-nginx"),
	})
	access := ngx.AccessLog()
	for _, want := range []string{`"GET /ws?explain=1 HTTP/1.1" 101`, `"POST /login HTTP/1.1" 200`, `"POST /logout HTTP/1.1" 200`,
		`"GET /socket.io/?EIO=4&transport=polling&t=`, `"POST /socket.io/?EIO=4&transport=polling&t=`,
		`"GET /socket.io/?EIO=4&transport=websocket&sid=`} {
		if !strings.Contains(access, want) {
			t.Errorf("nginx's access log lacks %s:\n%s", want, access)
		}
	}
}
