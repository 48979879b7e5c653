package engineio

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/engineio/parser"
	"github.com/expressbridge/expressbridge/liveness"
	"github.com/expressbridge/expressbridge/wsconn"
)

// The WebSocket transport: a session born on a WebSocket, or upgraded to
// one from long-polling.

// conn is one WebSocket connection of a session.
type conn = *wsconn.Conn

// wsTransport is what handles one WebSocket connection of a session: its
// transport, or a probe while it upgrades. Its methods run as the
// connection's events: Open once, Message and BinaryMessage in order,
// Close once after it ends, End when the Tracker ends its session.
type wsTransport struct {
	e        *Session
	fresh    bool        // the session was born on this connection: send the handshake
	probe    atomic.Bool // an upgrade's connection, until "5"
	rejected atomic.Bool // an upgrade refused at Open: the connection only closes
}

func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request, sid string) {
	// 1. A WebSocket handshake at all.
	if r.Method != http.MethodGet || !websocket.IsWebSocketUpgrade(r) {
		s.badRequest(w, r, sid == "", "not a WebSocket handshake")
		return
	}
	var e *Session
	if sid != "" {
		if e = s.session(sid); e == nil {
			badRequest(w, "unknown or closed Engine.IO session")
			return
		}
	}
	// 2. The gate.
	sess, ref, since := s.authenticate(r)
	switch {
	case ref != nil && ref.Code == auth.CodeBadOrigin:
		auth.WriteRefusal(w, ref)
		return
	case e != nil && ref != nil:
		auth.WriteRefusal(w, ref) // the client stays on long-polling
		return
	case e != nil && (e.auth == nil || e.auth.ID != sess.ID):
		auth.WriteRefusal(w, &auth.Refusal{Status: http.StatusForbidden, Code: auth.CodeBadRequest, Step: auth.StepRequest,
			Message: "the upgrade does not carry the session the handshake did"})
		return
	}
	t := &wsTransport{e: e}
	t.probe.Store(e != nil)
	bsess, limit := sess, s.cfg.MaxHTTPBufferSize
	if e == nil {
		var release func()
		var full *auth.Refusal
		release, ref, full = s.admit(r, sess, ref)
		if full != nil {
			s.refusedLimit(r, full)
			auth.WriteRefusal(w, full)
			return
		}
		e = s.newSession(r, sess, ref, release)
		t.e, t.fresh = e, true
		if ref != nil {
			bsess = &auth.Session{SecretIndex: -1} // refused: nothing to follow
			limit = e.readLimit()                  // and nothing to read but its CONNECTs
		}
	}
	// 3. A connection; Open takes it from here. Uncounted: the session
	// counts itself once, on whichever transports it lives (register).
	if _, err := s.hub.Accept(w, r, bsess, wsconn.Options{Handler: t, ReadLimit: limit, Door: s.cfg.Door, Deflate: s.cfg.PerMessageDeflate,
		Since: since, Uncounted: true}); err != nil && t.fresh {
		// The upgrade failed (the client has its answer): Open never runs,
		// and no session came of it.
		e.release()
	}
}

// Open sends the handshake of a session born on this connection, or takes
// the connection as an upgrade's probe.
func (t *wsTransport) Open(c conn) {
	e := t.e
	if t.fresh {
		e.mu.Lock()
		if e.closed {
			// The session ended between the upgrade and now (a logout
			// racing the handshake): its connection goes with it.
			code, reason := e.wsCode, e.wsReason
			e.mu.Unlock()
			if code == 0 {
				code = websocket.CloseNormalClosure
			}
			c.Close(code, reason)
			return
		}
		e.ws = c
		e.mu.Unlock()
		e.s.register(e)
		hs := e.s.handshake(nil)
		hs.SID = e.id
		e.beginHeartbeat()
		c.Send(parser.AppendText(nil, parser.OpenPacket(hs)))
		e.h.Opened()
		return
	}
	e.mu.Lock()
	ok := !e.closed && e.ws == nil && e.probe == nil
	if ok {
		e.probe = c
	}
	e.mu.Unlock()
	if !ok { // upgraded already, or upgrading on another connection
		t.rejected.Store(true)
		c.Close(websocket.CloseNormalClosure, "")
	}
}

// Message handles a text frame: one packet.
func (t *wsTransport) Message(c conn, msg []byte) {
	if t.rejected.Load() {
		return
	}
	p, err := parser.DecodeText(msg)
	if err != nil {
		t.e.close("parse error", closeHard)
		c.Close(websocket.CloseNormalClosure, "")
		return
	}
	if t.probe.Load() {
		t.probeMessage(c, p)
		return
	}
	t.e.packet(p)
}

// BinaryMessage handles a binary frame: a binary MESSAGE.
func (t *wsTransport) BinaryMessage(c conn, msg []byte) {
	if t.rejected.Load() || t.probe.Load() {
		return
	}
	t.e.packet(parser.DecodeBinary(msg))
}

// probeMessage walks the upgrade: "2probe" → "3probe", then "5" makes the
// connection the session's transport.
func (t *wsTransport) probeMessage(c conn, p parser.Packet) {
	e := t.e
	switch {
	case p.Type == parser.Ping && string(p.Data) == "probe":
		c.Send([]byte("3probe"))
		e.mu.Lock()
		e.upgrading, e.probedAt = true, time.Now()
		e.wakeLocked() // a pending poll returns soon (NOOP), so the client can pause polling
		e.mu.Unlock()
	case p.Type == parser.Upgrade:
		e.mu.Lock()
		if e.closed || e.probe != c || !e.upgrading {
			e.mu.Unlock()
			return
		}
		e.probe, e.ws, e.upgrading = nil, c, false
		t.probe.Store(false)
		// What waited for a poll goes on the WebSocket, in order.
		buf := e.buf
		e.buf = nil
		err := e.sendLocked(buf...)
		e.wakeLocked()
		e.mu.Unlock()
		if err != nil {
			e.close("transport error", closeHard)
		}
	}
}

// Close ends the session when its transport ends, or cancels an upgrade
// when the probe does.
func (t *wsTransport) Close(c conn) {
	e := t.e
	if t.rejected.Load() {
		return
	}
	e.mu.Lock()
	if e.probe == c {
		e.probe, e.upgrading = nil, false
		e.mu.Unlock()
		return
	}
	mine := e.ws == c
	if mine && e.endReason == "" {
		e.endReason = c.EndReason() // slow-client, ping-timeout, … as the connection saw it
	}
	e.mu.Unlock()
	if mine {
		e.close("transport close", closeByClient)
	}
}

// End is the Tracker ending the connection's session.
func (t *wsTransport) End(c conn, r liveness.Reason) {
	if t.rejected.Load() || t.probe.Load() {
		c.Close(wsconn.CloseFor(r))
		return
	}
	t.e.end(r)
}

var (
	_ wsconn.Ender         = (*wsTransport)(nil)
	_ wsconn.BinaryHandler = (*wsTransport)(nil)
)
