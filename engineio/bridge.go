package engineio

import (
	"net/http"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/bridge"
)

// Everything the engine takes from package bridge, for now, is in this
// file: the gate's default (Bridge.Gate), following each session's Express
// session (Mark, Hold), counting the sessions to the Observer (Count),
// the client's address (RemoteAddr), shutdown (Closed), and the WebSocket
// connection model (Accept and the Protocol it calls). Without a Bridge
// (Insecure only) nothing is followed or counted, and WebSocket
// connections are the engine's own (ownconn.go).

// mark is the bridge's count of session events before a gate check: a
// logout racing the handshake ends the session (bridge.EventMark).
type mark = bridge.EventMark

// holder follows the Express session of a session on long-polling.
type holder interface {
	// Active says the client was active: the session's TTL is renewed.
	Active()
	// Release stops following; only the first call counts.
	Release()
}

// live is what follows, counts and connects sessions: a bridge, or
// nothing but the engine's own WebSocket connections.
type live struct {
	b         *bridge.Server // nil: none
	readLimit int64          // of one WebSocket message (Config.MaxHTTPBufferSize)
	queue     int            // of an own connection's writes (Config.SendQueue)
}

func newLive(b *bridge.Server, readLimit int64, queue int) live {
	return live{b: b, readLimit: readLimit, queue: queue}
}

// gate is the bridge's gate, the default of Config.Gate.
func (l live) gate() *auth.Gate {
	if l.b == nil {
		return nil
	}
	return l.b.Gate()
}

func (l live) mark() mark {
	if l.b == nil {
		return mark{}
	}
	return l.b.Mark()
}

// hold follows a's Express session until Release; end is called once when
// the bridge ends it. Without a bridge it follows nothing: nil, nil.
func (l live) hold(a *auth.Session, since mark, end func(code int, reason string)) (holder, error) {
	if l.b == nil {
		return nil, nil
	}
	h, err := l.b.Hold(a.ID, a.Record, since, end)
	if err != nil {
		return nil, err
	}
	return h, nil
}

// count reports a session opened to the bridge's Observer, and returns
// what reports it closed.
func (l live) count() (closed func(reason string)) {
	if l.b == nil {
		return func(string) {}
	}
	return l.b.Count(auth.DoorSocketIO)
}

func (l live) remoteAddr(r *http.Request) string {
	if l.b == nil {
		return r.RemoteAddr
	}
	return l.b.RemoteAddr(r)
}

func (l live) closed() bool { return l.b != nil && l.b.Closed() }

// accept upgrades r to a WebSocket connection handled by t; sess is what
// the connection follows. A refused upgrade has been answered.
func (l live) accept(w http.ResponseWriter, r *http.Request, sess *auth.Session, t *wsTransport, since mark) {
	if l.b == nil {
		acceptOwn(w, r, t, l.readLimit, l.queue)
		return
	}
	// Uncounted: the session counts itself once, on whichever transports
	// it lives (register).
	l.b.Accept(w, r, sess, bridge.AcceptOptions{Protocol: bridgeProtocol{t}, ReadLimit: l.readLimit,
		Door: auth.DoorSocketIO, Since: since, Uncounted: true})
}

// bridgeProtocol is t as the bridge calls it (bridge.Protocol,
// bridge.BinaryProtocol, bridge.Ender).
type bridgeProtocol struct{ t *wsTransport }

func (p bridgeProtocol) Open(c *bridge.Conn)                         { p.t.Open(c) }
func (p bridgeProtocol) Message(c *bridge.Conn, msg []byte)          { p.t.Message(c, msg) }
func (p bridgeProtocol) BinaryMessage(c *bridge.Conn, msg []byte)    { p.t.BinaryMessage(c, msg) }
func (p bridgeProtocol) Close(c *bridge.Conn)                        { p.t.Close(c) }
func (p bridgeProtocol) End(c *bridge.Conn, code int, reason string) { p.t.End(c, code, reason) }

// The Observer's reasons the engine gives itself.
const (
	reasonPingTimeout  = bridge.ReasonPingTimeout
	reasonSlowClient   = bridge.ReasonSlowClient
	reasonClientClosed = bridge.ReasonClientClosed
)

// observerReason is the bridge.Observer's reason for an Engine.IO close
// reason, so that both doors count alike: the bridge's reasons pass as
// they are (logged-out, …, shutting-down, server-disconnect).
func observerReason(reason string) string {
	switch reason {
	case "ping timeout":
		return reasonPingTimeout
	case "slow client":
		return reasonSlowClient
	case "transport close", "transport error", "parse error", "connect timeout", "":
		return reasonClientClosed
	}
	return reason
}
