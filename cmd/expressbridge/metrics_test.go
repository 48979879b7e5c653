package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/internal/testenv"
)

// TestMetricsAndReadiness runs serve with --metrics-listen and scrapes
// /metrics after accepted and refused handshakes and a logout; /readyz is
// 503 while Redis is down and 200 once it is back.
func TestMetricsAndReadiness(t *testing.T) {
	secret := "metrics test secret"
	r := testenv.StartRedis(t)
	app := testenv.StartNodeApp(t, testenv.NodeAppConfig{RedisURL: r.URL(), Secrets: []string{secret}})
	sv := startServe(t, []string{secret}, map[string]string{"REDIS_URL": r.URL()},
		"--metrics-listen", "127.0.0.1:0", "--allow-origin", app.URL())
	metricsAddr := sv.metrics
	ctx := context.Background()
	waitReady(t, sv.base, http.StatusOK)

	dial := func(cookie, origin string) (*websocket.Conn, error) {
		c, resp, err := websocket.DefaultDialer.Dial("ws://"+sv.base+"/ws", http.Header{"Cookie": {cookie}, "Origin": {origin}})
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		return c, err
	}
	ann := app.Login(ctx, t, "Ann")
	bo := app.Login(ctx, t, "Bo")
	ca, err := dial(ann, app.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	cb, err := dial(bo, app.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	for _, bad := range [][2]string{{"", app.URL()}, {"", app.URL()}, {ann, "https://evil.example"}} {
		if c, err := dial(bad[0], bad[1]); err == nil {
			c.Close()
			t.Fatal("a bad handshake was accepted")
		}
	}
	// A plain GET is no handshake: the door's own refusal counts too.
	if resp, err := http.Get("http://" + sv.base + "/ws"); err == nil {
		resp.Body.Close()
	}
	// A Socket.IO polling handshake, and one without a cookie.
	for _, cookie := range []string{ann, ""} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+sv.base+"/socket.io/?EIO=4&transport=polling", nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	// A say, broadcast to both (delivered before Bo's logout can close him).
	ca.WriteJSON(map[string]string{"type": "say", "text": "hi"})
	for _, c := range []*websocket.Conn{ca, cb} {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			var m struct{ Type string }
			if err := c.ReadJSON(&m); err != nil {
				t.Fatalf("waiting for the said: %v", err)
			}
			if m.Type == "said" {
				break
			}
		}
	}
	app.Logout(ctx, t, bo)
	cb.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err = cb.ReadMessage(); err != nil {
			break
		}
	}
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4401 {
		t.Fatalf("Bo's connection after logout: %v", err)
	}

	want := map[string]float64{
		`expressbridge_handshakes_total{door="ws",result="accepted"}`:           2,
		`expressbridge_handshakes_total{door="ws",result="no-cookie"}`:          2,
		`expressbridge_handshakes_total{door="ws",result="bad-origin"}`:         1,
		`expressbridge_handshakes_total{door="ws",result="bad-request"}`:        1,
		`expressbridge_connections_open{door="ws"}`:                             1,
		`expressbridge_connections_closed_total{door="ws",reason="logged-out"}`: 1,
		`expressbridge_broadcasts_total`:                                        1,
		`expressbridge_messages_delivered_total`:                                2,
	}
	body := waitMetrics(t, metricsAddr, want)
	for _, name := range []string{
		`expressbridge_store_request_duration_seconds_count{op="get",result="ok"}`,
		"go_goroutines", "process_resident_memory_bytes",
	} {
		if v, ok := metricValue(body, name); !ok || v <= 0 {
			t.Errorf("%s = %v, %v; want > 0", name, v, ok)
		}
	}
	for _, s := range []string{secret, "Ann", "Bo", strings.TrimPrefix(ann, "connect.sid=")} {
		if strings.Contains(body, s) {
			t.Errorf("/metrics holds %q: no label may carry a user or a session", s)
		}
	}
	// The public port has no /metrics.
	if resp, err := http.Get("http://" + sv.base + "/metrics"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("public /metrics: %v %v", resp, err)
	}

	// Readiness follows Redis.
	r.Kill(t)
	var ready struct{ Status, Reason string }
	if st := waitReady(t, sv.base, http.StatusServiceUnavailable); json.Unmarshal([]byte(st), &ready) != nil ||
		ready.Reason != "store-unavailable" {
		t.Errorf("/readyz with Redis down: %s", st)
	}
	r.Start(t)
	waitReady(t, sv.base, http.StatusOK)
	// The watch subscribed again: counted.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if v, _ := metricValue(get(t, "http://"+metricsAddr+"/metrics"), "expressbridge_pubsub_resubscriptions_total"); v >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no resubscription counted after the Redis restart")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitReady polls /readyz until it answers status, and returns its body.
func waitReady(t *testing.T, base string, status int) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + base + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == status {
				return string(body)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never answered %d (last: %v)", status, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// metricValue finds the sample "name{labels} value" in an exposition.
// waitMetrics scrapes addr until every sample of want has its value (5 s
// at most), and returns the last scrape.
func waitMetrics(t *testing.T, addr string, want map[string]float64) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		body := get(t, "http://"+addr+"/metrics")
		missing := ""
		for k, v := range want {
			if got, ok := metricValue(body, k); !ok || got != v {
				missing += k + " = " + strconv.FormatFloat(got, 'g', -1, 64) + ", want " + strconv.FormatFloat(v, 'g', -1, 64) + "\n"
			}
		}
		if missing == "" {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics:\n%s", missing)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSocketIOMetrics: a Socket.IO session is one open connection on
// whichever transports it lives (polling, upgraded, WebSocket only); its
// end is counted with the bridge's reason; the door's own refusals of a
// handshake are counted as the gate's are.
func TestSocketIOMetrics(t *testing.T) {
	const secret, sid = "socket.io metrics secret", "m-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR"
	s, cookie := zoe(t, secret, sid)
	sv := startServe(t, []string{secret}, map[string]string{envRedisURL: s.r.URL()}, "--no-pubsub", "--metrics-listen", "127.0.0.1:0")
	metricsAddr := sv.metrics
	waitReady(t, sv.base, http.StatusOK)
	base := "http://" + sv.base + "/socket.io/"

	// One on long-polling, then upgraded; one on WebSocket only.
	polled := sioSession(t, base, cookie)
	open := `expressbridge_connections_open{door="socket.io"}`
	waitMetrics(t, metricsAddr, map[string]float64{open: 1})
	wsURL := "ws" + strings.TrimPrefix(strings.Replace(polled, "transport=polling", "transport=websocket", 1), "http")
	up, _, err := websocket.DefaultDialer.Dial(wsURL, http.Header{"Cookie": {cookie}})
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	defer up.Close()
	up.WriteMessage(websocket.TextMessage, []byte("2probe"))
	up.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, msg, err := up.ReadMessage(); err != nil || string(msg) != "3probe" {
		t.Fatalf("probe: %q %v", msg, err)
	}
	up.WriteMessage(websocket.TextMessage, []byte("5"))
	// Once upgraded, polling requests are refused, and the session goes
	// on (a late POST is no reason to end it).
	testenv.WaitFor(t, 5*time.Second, "the upgrade", func() bool { st, _ := do(t, "GET", polled, cookie, ""); return st == 400 })
	if st, body := do(t, "POST", polled, cookie, `42["say","late"]`); st != 400 {
		t.Fatalf("a POST after the upgrade: %d %s", st, body)
	}
	direct, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"?EIO=4&transport=websocket",
		http.Header{"Cookie": {cookie}})
	if err != nil {
		t.Fatalf("websocket only: %v", err)
	}
	defer direct.Close()
	direct.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, msg, err := direct.ReadMessage(); err != nil || !strings.HasPrefix(string(msg), `0{"sid":"`) {
		t.Fatalf("websocket only: %q %v", msg, err)
	}
	for _, bad := range []string{"?EIO=3&transport=polling", "?EIO=4&transport=flash"} {
		if status, _ := do(t, "GET", base+bad, cookie, ""); status != http.StatusBadRequest {
			t.Fatalf("%s: %d", bad, status)
		}
	}
	waitMetrics(t, metricsAddr, map[string]float64{
		open: 2,
		`expressbridge_handshakes_total{door="socket.io",result="bad-request"}`: 2,
	})

	// The logout ends both, counted once each, with the bridge's reason.
	if err := s.c.Del(context.Background(), "sess:"+sid).Err(); err != nil {
		t.Fatal(err)
	}
	waitMetrics(t, metricsAddr, map[string]float64{
		open: 0,
		`expressbridge_connections_closed_total{door="socket.io",reason="logged-out"}`: 2,
	})
}

func metricValue(body, sample string) (float64, bool) {
	for line := range strings.SplitSeq(body, "\n") {
		if rest, ok := strings.CutPrefix(line, sample+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	}
	return 0, false
}
