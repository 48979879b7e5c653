//go:build linux

package e2e

import (
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/internal/testenv"
)

// TestBrowserSocketIO runs the Socket.IO demo page (/socketio.html: the
// unmodified socket.io-client, served from node_modules by the Express
// app) in headless Chromium against the Go bridge configured as `serve`
// configures it: refused before login (connect_error no-cookie), then
// long-polling and the upgrade to WebSocket on one page and long-polling
// only on another, a chat between them, and each logout ending its socket
// with session-ended and "io server disconnect".
// node-app/scripts/socketio-browser-test.js drives the pages.
func TestBrowserSocketIO(t *testing.T) {
	start := time.Now()
	logs := newTestLog(t)
	node := testenv.Node(t)
	chromium := testenv.Chromium(t)
	root := testenv.RepoRoot(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen for the bridge: %v", err)
	}
	rig := startRig(t, "ws://"+ln.Addr().String()+"/ws")
	app := rig.App
	startBridge(t, ln, bridgeSetup{origins: []string{app.URL()}}, rig, logs)
	runBrowserScript(t, logs, node, filepath.Join(root, "node-app"), "scripts/socketio-browser-test.js", []string{
		"APP_URL=" + app.URL(),
		"CHROMIUM=" + chromium,
		"OUT_DIR=" + filepath.Join(root, "build", "e2e"),
	})
	t.Logf("Socket.IO browser test passed in %v", time.Since(start).Round(time.Millisecond))
}
