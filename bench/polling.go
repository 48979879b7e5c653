package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// SocketIOPolling is Socket.IO v4 the way socket.io-client connects by
// default: Engine.IO long-polling first, then the upgrade to WebSocket.
// The handshake is: GET ?EIO=4&transport=polling (the open packet and its
// sid), POST "40" (CONNECT to the main namespace), GETs until the CONNECT
// answer 40{"sid":…} and the event 42["hello",{"user":…}] have arrived,
// then a WebSocket to ?EIO=4&transport=websocket&sid=SID: "2probe" →
// "3probe", then "5" (UPGRADE). The session's cookie goes with every
// request. A handshake counts once the hello has arrived and the upgrade
// has completed; the connection then behaves as a SocketIO one.
//
// It differs from socket.io-client in one way: the client probes the
// WebSocket while a GET is still pending (the server answers it with a
// NOOP); this one probes after its last GET has returned, so each
// handshake makes exactly three polling requests and one WebSocket.
const SocketIOPolling Protocol = 100

// maxPolls bounds the GETs of one polling handshake before the hello.
const maxPolls = 8

// poller is the HTTP side of a SocketIOPolling client, shared by all
// workers: one keep-alive pool, as a browser reuses its connections.
type poller struct {
	url  string // http://HOST:PORT/socket.io/?EIO=4&transport=polling
	ws   string // ws://HOST:PORT/socket.io/?EIO=4&transport=websocket
	http *http.Client
}

// newPoller returns the polling side of a client for base
// ("ws://127.0.0.1:PORT").
func newPoller(base string) *poller {
	httpBase := "http" + strings.TrimPrefix(base, "ws")
	return &poller{
		url: httpBase + "/socket.io/?EIO=4&transport=polling",
		ws:  base + "/socket.io/?EIO=4&transport=websocket",
		http: &http.Client{
			Timeout: handshakeTimeout,
			Transport: &http.Transport{
				MaxIdleConns:        1024,
				MaxIdleConnsPerHost: 1024,
				IdleConnTimeout:     4 * time.Second, // under Node's 5 s keep-alive timeout
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// do sends one polling request with the session's cookie and returns the
// body of a 200 answer.
func (p *poller) do(ctx context.Context, method, url string, s *Session, body string) ([]byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, &Error{FailDial, err}
	}
	for k, v := range s.header {
		req.Header[k] = v
	}
	if body != "" {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return nil, &Error{FailDial, fmt.Errorf("%s %s: %v", method, url, err)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return nil, &Error{FailRefused, fmt.Errorf("%s %s: HTTP %d %.200s", method, url, resp.StatusCode, bytes.TrimSpace(b))}
	}
	if err != nil {
		return nil, &Error{FailHello, fmt.Errorf("%s %s: reading the body: %v", method, url, err)}
	}
	return b, nil
}

// openPolling runs the polling-then-upgrade handshake; see SocketIOPolling.
func (c *Client) openPolling(s *Session) (*Conn, error) {
	p := c.poll
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	defer cancel()

	// 1. The Engine.IO handshake.
	body, err := p.do(ctx, http.MethodGet, p.url, s, "")
	if err != nil {
		return nil, err
	}
	first, _, _ := bytes.Cut(body, []byte{0x1e})
	var open struct {
		SID string `json:"sid"`
	}
	if len(first) < 2 || first[0] != '0' || json.Unmarshal(first[1:], &open) != nil || open.SID == "" {
		return nil, &Error{FailHello, fmt.Errorf("engine.io: polling handshake answered %.100q, not an open packet 0{\"sid\":…}", body)}
	}
	sessURL := p.url + "&sid=" + open.SID

	// 2. CONNECT to the main namespace.
	if _, err := p.do(ctx, http.MethodPost, sessURL, s, "40"); err != nil {
		return nil, err
	}

	// 3. Poll until the CONNECT answer and the hello have arrived.
	connected, hello := false, false
	for polls := 0; !hello; polls++ {
		if polls == maxPolls {
			return nil, &Error{FailHello, fmt.Errorf("socket.io: no hello after %d polls", maxPolls)}
		}
		body, err := p.do(ctx, http.MethodGet, sessURL, s, "")
		if err != nil {
			return nil, err
		}
		for pkt := range bytes.SplitSeq(body, []byte{0x1e}) {
			switch {
			case bytes.Equal(pkt, eioPing):
				if _, err := p.do(ctx, http.MethodPost, sessURL, s, string(eioPong)); err != nil {
					return nil, err
				}
			case bytes.Equal(pkt, []byte("6")): // NOOP
			case bytes.HasPrefix(pkt, []byte("44")):
				return nil, &Error{FailRefused, fmt.Errorf("socket.io CONNECT_ERROR %s", pkt[2:])}
			case bytes.HasPrefix(pkt, []byte("40")) && !connected:
				connected = true
			case bytes.HasPrefix(pkt, []byte("42")) && connected && !hello:
				if err := checkHello(pkt, s.User); err != nil {
					return nil, err
				}
				hello = true
			case bytes.HasPrefix(pkt, []byte("1")):
				return nil, &Error{FailHello, fmt.Errorf("engine.io: the server closed the session (%.100q)", body)}
			default:
				return nil, &Error{FailHello, fmt.Errorf("socket.io: unexpected packet %.100q while waiting for the hello", pkt)}
			}
		}
	}

	// 4. The upgrade: probe, then UPGRADE.
	ws, resp, err := c.dialer.DialContext(ctx, p.ws+"&sid="+open.SID, s.header)
	if err != nil {
		if resp != nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
			return nil, &Error{FailRefused, fmt.Errorf("upgrade: HTTP %d %s", resp.StatusCode, bytes.TrimSpace(b))}
		}
		return nil, &Error{FailDial, fmt.Errorf("upgrade: %v", err)}
	}
	ws.SetCloseHandler(ignoreClose)
	conn := &Conn{ws: ws, proto: SocketIO}
	deadline, _ := ctx.Deadline()
	_ = ws.SetReadDeadline(deadline)
	if err := conn.upgrade(); err != nil {
		ws.Close()
		return nil, err
	}
	_ = ws.SetReadDeadline(time.Time{})
	return conn, nil
}

// upgrade sends "2probe", waits for "3probe" and sends "5".
func (c *Conn) upgrade() error {
	if err := c.writeText([]byte("2probe")); err != nil {
		return &Error{FailHello, fmt.Errorf("upgrade: sending 2probe: %v", err)}
	}
	msg, err := c.readSocketIO()
	if err != nil {
		return &Error{FailHello, fmt.Errorf("upgrade: reading 3probe: %v", err)}
	}
	if string(msg) != "3probe" {
		return &Error{FailHello, fmt.Errorf("upgrade: %.100q is not 3probe", msg)}
	}
	if err := c.writeText([]byte("5")); err != nil {
		return &Error{FailHello, fmt.Errorf("upgrade: sending 5: %v", err)}
	}
	return nil
}

// checkHello checks that msg is the event 42["hello",{"user":USER}].
func checkHello(msg []byte, user string) error {
	var ev []json.RawMessage
	var name string
	var data struct {
		User *string `json:"user"`
	}
	if !bytes.HasPrefix(msg, []byte("42")) || json.Unmarshal(msg[2:], &ev) != nil || len(ev) != 2 ||
		json.Unmarshal(ev[0], &name) != nil || name != "hello" || json.Unmarshal(ev[1], &data) != nil || data.User == nil {
		return &Error{FailHello, fmt.Errorf("socket.io: %.100q is not the event 42[\"hello\",{\"user\":…}]", msg)}
	}
	if *data.User != user {
		return &Error{FailHello, fmt.Errorf("hello for %q, want %q", *data.User, user)}
	}
	return nil
}
