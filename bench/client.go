package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Protocol is how the load generator talks to a server.
type Protocol int

const (
	// PlainWS: the server's first text frame is {"type":"hello","user":NAME}.
	PlainWS Protocol = iota
	// SocketIO: Socket.IO v4 over an Engine.IO v4 WebSocket-only connection
	// (/socket.io/?EIO=4&transport=websocket); the hello is the event
	// 42["hello",{"user":NAME}].
	SocketIO
	// Bare: plain WebSocket to the fan-out floor (ebload floor), whose
	// hello names no user.
	Bare
)

func (p Protocol) String() string {
	switch p {
	case SocketIO:
		return "socket.io"
	case Bare:
		return "websocket, no auth"
	case SocketIOPolling:
		return "socket.io, polling then websocket"
	}
	return "websocket"
}

// Kinds of failure, as counted by the runs.
const (
	FailDial    = "dial"    // TCP connect or WebSocket upgrade failed
	FailRefused = "refused" // refused: an HTTP status, or Socket.IO CONNECT_ERROR
	FailHello   = "hello"   // connected but no valid hello for this session's user
	FailClose   = "close"   // the closing handshake was not clean
)

// Error is a failed handshake or close, with its kind.
type Error struct {
	Kind string
	Err  error
}

func (e *Error) Error() string { return e.Kind + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Timeouts of one handshake and of one close.
const (
	handshakeTimeout = 10 * time.Second
	closeTimeout     = 5 * time.Second
)

// Client dials one server. One Client is shared by all workers of a run:
// the dialer is reused and nothing is built per handshake but the
// connection itself.
type Client struct {
	url    string
	proto  Protocol
	dialer websocket.Dialer
	poll   *poller // SocketIOPolling's HTTP side; nil otherwise
}

// NewClient returns a client for a server at base ("ws://127.0.0.1:PORT").
// Plain WebSocket servers are dialled at path; Socket.IO at
// /socket.io/?EIO=4&transport=websocket. No Origin header is sent (the
// load generator is not a browser), the same for every server.
func NewClient(base, path string, proto Protocol) *Client {
	url := base + path
	var poll *poller
	switch proto {
	case SocketIO:
		url = base + "/socket.io/?EIO=4&transport=websocket"
	case SocketIOPolling:
		poll = newPoller(base)
		url = poll.url
	}
	return &Client{
		poll:  poll,
		url:   url,
		proto: proto,
		dialer: websocket.Dialer{
			HandshakeTimeout: handshakeTimeout,
			ReadBufferSize:   1024,
			WriteBufferSize:  1024,
			WriteBufferPool:  &sync.Pool{},
		},
	}
}

// URL is the WebSocket URL the client dials (the long-polling URL for
// SocketIOPolling).
func (c *Client) URL() string { return c.url }

// Conn is an open, authenticated connection.
type Conn struct {
	ws    *websocket.Conn
	proto Protocol
	wmu   sync.Mutex    // data-frame writes (Socket.IO pongs vs the close)
	done  chan struct{} // Idle's reader ended
	end   error         // why Idle's reader ended; read after done
}

var (
	normalClose = websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	sioConnect  = []byte("40")
	sioLeave    = []byte("41")
	eioPing     = []byte("2")
	eioPong     = []byte("3")
)

// ignoreClose replaces gorilla's default close handler, which would answer
// the server's close frame with a second one of ours: we sent ours first.
func ignoreClose(int, string) error { return nil }

// Open dials, authenticates with the session's cookie and waits for the
// hello, which must name the session's user.
func (c *Client) Open(s *Session) (*Conn, error) {
	if c.poll != nil {
		return c.openPolling(s)
	}
	ws, resp, err := c.dialer.Dial(c.url, s.header)
	if err != nil {
		if resp != nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
			return nil, &Error{FailRefused, fmt.Errorf("HTTP %d %s", resp.StatusCode, bytes.TrimSpace(body))}
		}
		return nil, &Error{FailDial, err}
	}
	ws.SetCloseHandler(ignoreClose)
	conn := &Conn{ws: ws, proto: c.proto}
	_ = ws.SetReadDeadline(time.Now().Add(handshakeTimeout))
	if c.proto == SocketIO {
		err = conn.socketIOHello(s.User)
	} else {
		err = conn.plainHello(s.User)
	}
	if err != nil {
		ws.Close()
		return nil, err
	}
	_ = ws.SetReadDeadline(time.Time{})
	return conn, nil
}

type helloFrame struct {
	Type string  `json:"type"`
	User *string `json:"user"`
}

func (c *Conn) plainHello(user string) error {
	typ, msg, err := c.ws.ReadMessage()
	if err != nil {
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return &Error{FailRefused, fmt.Errorf("closed before the hello: %d %s", ce.Code, ce.Text)}
		}
		return &Error{FailHello, fmt.Errorf("reading the hello: %v", err)}
	}
	var h helloFrame
	if typ != websocket.TextMessage || json.Unmarshal(msg, &h) != nil || h.Type != "hello" || h.User == nil {
		return &Error{FailHello, fmt.Errorf("first frame %.100q is not a hello", msg)}
	}
	if *h.User != user {
		return &Error{FailHello, fmt.Errorf("hello for %q, want %q", *h.User, user)}
	}
	return nil
}

// socketIOHello is the minimal Socket.IO v4 client handshake over an
// Engine.IO v4 WebSocket: read the open packet 0{"sid":…}, send CONNECT
// "40" for the main namespace, read "40{…}" (or CONNECT_ERROR "44{…}": a
// refusal), then read the event 42["hello",{"user":…}]. Engine.IO pings
// ("2") are answered ("3") meanwhile.
func (c *Conn) socketIOHello(user string) error {
	_, msg, err := c.ws.ReadMessage()
	if err != nil {
		return &Error{FailHello, fmt.Errorf("engine.io: reading the open packet: %v", err)}
	}
	var open struct {
		SID string `json:"sid"`
	}
	if len(msg) < 2 || msg[0] != '0' || json.Unmarshal(msg[1:], &open) != nil || open.SID == "" {
		return &Error{FailHello, fmt.Errorf("engine.io: first packet %.100q is not an open packet 0{\"sid\":…}", msg)}
	}
	if err := c.writeText(sioConnect); err != nil {
		return &Error{FailHello, fmt.Errorf("socket.io: sending CONNECT: %v", err)}
	}
	msg, err = c.readSocketIO()
	if err != nil {
		return &Error{FailHello, fmt.Errorf("socket.io: reading the CONNECT answer: %v", err)}
	}
	switch {
	case bytes.HasPrefix(msg, []byte("44")):
		return &Error{FailRefused, fmt.Errorf("socket.io CONNECT_ERROR %s", msg[2:])}
	case !bytes.HasPrefix(msg, []byte("40")):
		return &Error{FailHello, fmt.Errorf("socket.io: %.100q is not a CONNECT answer", msg)}
	}
	msg, err = c.readSocketIO()
	if err != nil {
		return &Error{FailHello, fmt.Errorf("socket.io: reading the hello event: %v", err)}
	}
	return checkHello(msg, user)
}

// readSocketIO returns the next text packet that is not an Engine.IO ping,
// answering pings.
func (c *Conn) readSocketIO() ([]byte, error) {
	for {
		typ, msg, err := c.ws.ReadMessage()
		if err != nil {
			return nil, err
		}
		if typ != websocket.TextMessage {
			return nil, fmt.Errorf("unexpected binary frame of %d bytes", len(msg))
		}
		if bytes.Equal(msg, eioPing) {
			if err := c.writeText(eioPong); err != nil {
				return nil, err
			}
			continue
		}
		return msg, nil
	}
}

func (c *Conn) writeText(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(closeTimeout))
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// Idle starts the connection's reader, which answers pings (WebSocket
// pings by gorilla's default handler, Engine.IO "2" with "3") until the
// connection closes. Call it once on a held connection; Close then waits
// for the reader.
func (c *Conn) Idle() {
	c.done = make(chan struct{})
	go func() {
		defer close(c.done)
		for {
			typ, msg, err := c.ws.ReadMessage()
			if err != nil {
				c.end = err
				return
			}
			if c.proto == SocketIO && typ == websocket.TextMessage && bytes.Equal(msg, eioPing) {
				if err := c.writeText(eioPong); err != nil {
					c.end = err
					return
				}
			}
		}
	}()
}

// Close closes cleanly, the way the real clients do: Socket.IO sends its
// DISCONNECT "41" first; then a close frame 1000, waiting for the server's
// close frame and for the server to end the TCP connection (so that the
// server, not the load generator's ephemeral ports, keeps the TIME_WAIT).
func (c *Conn) Close() error {
	defer c.ws.Close()
	deadline := time.Now().Add(closeTimeout)
	if c.proto == SocketIO {
		if err := c.writeText(sioLeave); err != nil {
			return &Error{FailClose, fmt.Errorf("sending DISCONNECT: %v", err)}
		}
	}
	if err := c.ws.WriteControl(websocket.CloseMessage, normalClose, deadline); err != nil {
		return &Error{FailClose, fmt.Errorf("sending the close frame: %v", err)}
	}
	if c.done != nil { // Idle's reader reads the server's close frame
		timer := time.NewTimer(time.Until(deadline))
		defer timer.Stop()
		select {
		case <-c.done:
		case <-timer.C:
			return &Error{FailClose, errors.New("no close frame from the server")}
		}
		var ce *websocket.CloseError
		if !errors.As(c.end, &ce) {
			return &Error{FailClose, fmt.Errorf("no close frame from the server: %v", c.end)}
		}
	} else {
		_ = c.ws.SetReadDeadline(deadline)
		for {
			_, _, err := c.ws.NextReader()
			if err == nil {
				continue // a data frame that crossed our close: skip it
			}
			var ce *websocket.CloseError
			if !errors.As(err, &ce) {
				return &Error{FailClose, fmt.Errorf("no close frame from the server: %v", err)}
			}
			break
		}
	}
	nc := c.ws.NetConn()
	_ = nc.SetReadDeadline(deadline)
	var b [64]byte
	for {
		if _, err := nc.Read(b[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return &Error{FailClose, fmt.Errorf("the server did not end the TCP connection after the close handshake: %v", err)}
		}
	}
}
