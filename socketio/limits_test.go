package socketio_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/engineio"
	"github.com/expressbridge/expressbridge/internal/testenv"
	"github.com/expressbridge/expressbridge/metrics"
	"github.com/expressbridge/expressbridge/socketio"
	"github.com/expressbridge/expressbridge/wsconn"
)

// limitCount reads expressbridge_limits_hit_total{door, limit}.
func limitCount(t *testing.T, m *metrics.Metrics, door, limit string) float64 {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "expressbridge_limits_hit_total" {
			continue
		}
		for _, mt := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range mt.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["door"] == door && labels["limit"] == limit {
				return mt.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// TestLimitsAreLoggedAndCounted hits each limit of the Socket.IO door
// once (but write-timeout, which needs a server socket of small buffers:
// engineio's TestUnreadPollIsCut cuts it) and checks that it is logged ("a client hit a limit", door and
// limit, at warn: once per 10 s per limit, with the count) and counted
// (expressbridge_limits_hit_total{door="socket.io",limit}).
func TestLimitsAreLoggedAndCounted(t *testing.T) {
	e := newEnv(t)
	e.serve(t)
	base := strings.Replace(e.url, "http://", "", 1)
	poll := func(path, query string) string { return e.url + path + "?EIO=4&transport=polling" + query }
	wsURL := func(path string) string { return "ws://" + base + path + "?EIO=4&transport=websocket" }
	handshake := func(t *testing.T, path, cookie string) (int, string) {
		req, _ := http.NewRequest("GET", poll(path, ""), nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		sid := ""
		if s := string(b); strings.HasPrefix(s, `0{"sid":"`) {
			sid = s[len(`0{"sid":"`):strings.Index(s, `","`)]
		}
		return resp.StatusCode, sid
	}
	post := func(t *testing.T, path, sid, cookie, body string) int {
		req, _ := http.NewRequest("POST", poll(path, "&sid="+sid), strings.NewReader(body))
		req.Header.Set("Cookie", cookie)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	for i, tc := range []struct {
		limit string
		cfg   socketio.Config
		setup func(*socketio.Server)
		hit   func(t *testing.T, path, cookie string)
	}{
		{engineio.CodeServerFull, socketio.Config{MaxSessions: 1}, nil, func(t *testing.T, path, cookie string) {
			handshake(t, path, cookie)
			if st, _ := handshake(t, path, cookie); st != http.StatusServiceUnavailable {
				t.Errorf("second session: %d, want 503", st)
			}
		}},
		{engineio.CodeTooManyRefused, socketio.Config{MaxRefusedPerAddress: 1}, nil, func(t *testing.T, path, _ string) {
			handshake(t, path, "")
			if st, _ := handshake(t, path, ""); st != http.StatusTooManyRequests {
				t.Errorf("second refused session: %d, want 429", st)
			}
		}},
		{engineio.CodeTooManySessions, socketio.Config{MaxSessionsPerLogin: 1}, nil, func(t *testing.T, path, cookie string) {
			handshake(t, path, cookie)
			handshake(t, path, cookie)
		}},
		{engineio.LimitReadTimeout, socketio.Config{ReadTimeout: 300 * time.Millisecond}, nil, func(t *testing.T, path, cookie string) {
			_, sid := handshake(t, path, cookie)
			c, err := net.Dial("tcp", base)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			fmt.Fprintf(c, "POST %s?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\nContent-Length: 10\r\n\r\n4", path, sid, base, cookie)
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			io.Copy(io.Discard, c) // until the 408 and the close
		}},
		{engineio.LimitBodyTooLarge, socketio.Config{MaxHTTPBufferSize: 1000}, nil, func(t *testing.T, path, cookie string) {
			_, sid := handshake(t, path, cookie)
			if st := post(t, path, sid, cookie, "4"+strings.Repeat("x", 2000)); st != http.StatusRequestEntityTooLarge {
				t.Errorf("POST: %d, want 413", st)
			}
		}},
		{engineio.LimitTooManyPackets, socketio.Config{}, nil, func(t *testing.T, path, cookie string) {
			_, sid := handshake(t, path, cookie)
			if st := post(t, path, sid, cookie, strings.Repeat("6\x1e", 10_001)+"6"); st != http.StatusBadRequest {
				t.Errorf("POST: %d, want 400", st)
			}
		}},
		{engineio.LimitSlowClient, socketio.Config{SendQueue: 2}, func(s *socketio.Server) {
			s.Of("/").OnConnection(func(so *socketio.Socket) {
				for range 5 {
					so.Emit("m", "x")
				}
			})
		}, func(t *testing.T, path, cookie string) {
			_, sid := handshake(t, path, cookie)
			post(t, path, sid, cookie, "40") // then never polls
		}},
		{wsconn.LimitMessageTooLarge, socketio.Config{MaxHTTPBufferSize: 1000}, nil, func(t *testing.T, path, cookie string) {
			c, _ := dialAs(t, wsURL(path), cookie)
			c.WriteMessage(websocket.TextMessage, []byte("4"+strings.Repeat("x", 2000)))
			nextPacket(c)
		}},
		{socketio.LimitTooManyArgs, socketio.Config{}, nil, func(t *testing.T, path, cookie string) {
			c, _ := dialAs(t, wsURL(path), cookie)
			c.WriteMessage(websocket.TextMessage, []byte(`42["x"`+strings.Repeat(",0", 1000)+`]`))
			nextPacket(c)
		}},
		{socketio.LimitAuthTooLarge, socketio.Config{}, nil, func(t *testing.T, path, cookie string) {
			c, _, err := websocket.DefaultDialer.Dial(wsURL(path), http.Header{"Cookie": {cookie}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			nextPacket(c) // OPEN
			c.WriteMessage(websocket.TextMessage, []byte("40"+authOf(9000)))
			if m := nextPacket(c); !strings.HasPrefix(m, "44") {
				t.Errorf("CONNECT with 9,000 bytes of auth: %q, want connect_error", m)
			}
		}},
		{socketio.LimitEventDropped, socketio.Config{MaxEventsPerSecond: 0.001, EventBurst: 1}, nil, func(t *testing.T, path, cookie string) {
			c, _ := dialAs(t, wsURL(path), cookie)
			for range 3 {
				c.WriteMessage(websocket.TextMessage, []byte(`42["x"]`))
			}
			time.Sleep(200 * time.Millisecond)
		}},
		{socketio.LimitRateLimited, socketio.Config{MaxEventsPerSecond: 0.001, EventBurst: 1, MaxDroppedEvents: 2}, nil,
			func(t *testing.T, path, cookie string) {
				c, _ := dialAs(t, wsURL(path), cookie)
				for range 5 {
					c.WriteMessage(websocket.TextMessage, []byte(`42["x"]`))
				}
				nextPacket(c)
			}},
	} {
		t.Run(tc.limit, func(t *testing.T) {
			m := metrics.New()
			cfg := tc.cfg
			cfg.Live, cfg.Logger, cfg.Observer = e.live, e.logger(), m
			srv, err := socketio.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if tc.setup != nil {
				tc.setup(srv)
			}
			path := fmt.Sprintf("/limit%d/", i)
			e.mux.Handle(path, srv)
			logs0 := len(e.logs.String())
			tc.hit(t, path, loginCookie(t, e, fmt.Sprintf("limit%d", i)))
			line := `msg="a client hit a limit" door=socket.io limit=` + tc.limit + " count=1"
			testenv.WaitFor(t, 5*time.Second, "the log line and the count", func() bool {
				return strings.Contains(e.logs.String()[logs0:], line) && limitCount(t, m, "socket.io", tc.limit) >= 1
			})
		})
	}
}
