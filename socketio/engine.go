package socketio

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/bridge"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/engineio"
	"github.com/expressbridge/expressbridge/liveness"
)

// The Engine.IO layer: sessions, their two transports, the upgrade and the
// heartbeat. What travels inside MESSAGE packets is the handler's.

// engineHandler is the layer above an Engine.IO session (Socket.IO; an echo
// in the Engine.IO protocol suite). Its methods run one at a time per
// session for messages, in order.
type engineHandler interface {
	// opened runs once the client has the handshake.
	opened(e *engineSession)
	// message handles one MESSAGE packet.
	message(e *engineSession, p engineio.Packet)
	// end is the bridge ending the session (its Express session ended,
	// the store is down, shutdown); it must call e.close.
	end(e *engineSession, code int, reason string)
	// closed runs once when the session has closed.
	closed(e *engineSession, reason string)
}

// How a session closes.
type closeHow int

const (
	// closeHard: an error or a timeout; a pending poll gets CLOSE.
	closeHard closeHow = iota
	// closeByClient: the client sent CLOSE or left; a pending poll gets NOOP.
	closeByClient
	// closeGraceful: the server ends the session; what is queued, then
	// CLOSE, still reaches the client.
	closeGraceful
)

// engineSession is one Engine.IO session. Its transport is long-polling
// until an upgrade completes, then a bridge connection.
type engineSession struct {
	s       *Server
	id      string
	auth    *auth.Session // what the gate accepted; nil when refused
	refusal *auth.Refusal // why the gate refused: told at CONNECT
	h       engineHandler
	hold    *bridge.Hold      // follows the Express session on long-polling
	cookie  [sha256.Size]byte // of the session cookie at the handshake (Server.cookieSum)

	mu        sync.Mutex
	ws        *bridge.Conn // the WebSocket transport, once there is one
	probe     *bridge.Conn // an upgrade in progress
	upgrading bool         // the probe was answered: polls are released soon
	probedAt  time.Time
	buf       []engineio.Packet
	pollWake  chan struct{} // a pending GET waits on it; nil when none
	posting   bool
	heartbeat *time.Timer
	nextPing  time.Time // when the next ping is due, or was sent
	waitPong  bool
	closed    bool
	draining  bool // closed by the server; a last GET takes buf
	closeNext bool // draining: after buf, a further GET gets CLOSE
	// goodbye: the Express session ended; buf holds only what tells the
	// client so (sendGoodbye), which any poll may take (the logout may
	// have cleared the cookie the session was bound to)
	goodbye  bool
	grace    *time.Timer
	ended    bool
	wsCode   int // close code and reason for the WebSocket on a graceful close
	wsReason string
	// uncount reports the session closed to the bridge's Observer (set
	// by register; nil until then); endReason, when set, is the reason
	// it hears instead of the close's own (the WebSocket's, from the bridge).
	uncount   func(reason string)
	endReason string
}

var errSlowClient = errors.New("socketio: client cannot keep up")

// upgradePollWait is how long a poll waits during an upgrade before it is
// released with NOOP (engine.io checks every 100 ms): a client that
// upgrades pauses polling first, and a poll that arrives just before the
// upgrade completes is refused like any later one.
const upgradePollWait = 100 * time.Millisecond

func (s *Server) newSession(sess *auth.Session, ref *auth.Refusal) *engineSession {
	e := &engineSession{s: s, id: newID(), refusal: ref}
	if ref == nil {
		e.auth = sess
	}
	e.h = s.handler(e)
	return e
}

// register makes e reachable by its sid; after Shutdown it closes e instead.
func (s *Server) register(e *engineSession) {
	s.mu.Lock()
	closed := s.closed
	if !closed {
		s.sessions[e.id] = e
	}
	s.mu.Unlock()
	if !closed {
		// One open connection per Engine.IO session, whatever its
		// transports (its WebSockets are Accepted uncounted).
		uncount := s.bridge.Count(auth.DoorSocketIO)
		e.mu.Lock()
		if e.closed { // closed meanwhile: close found nothing to report
			reason := e.endReason
			e.mu.Unlock()
			uncount(observerReason(reason))
			return
		}
		e.uncount = uncount
		e.mu.Unlock()
	}
	if closed {
		e.end(websocket.CloseGoingAway, auth.CodeShuttingDown)
	}
}

// beginHeartbeat starts the heartbeat, as the handshake is sent.
func (e *engineSession) beginHeartbeat() {
	e.mu.Lock()
	e.nextPing = time.Now().Add(e.s.cfg.PingInterval)
	e.heartbeat = time.AfterFunc(e.s.cfg.PingInterval, e.beat)
	e.mu.Unlock()
}

// pongOverdueLocked reports whether the last ping went unanswered for
// longer than the ping timeout, whether or not the timer has fired yet.
func (e *engineSession) pongOverdueLocked(now time.Time) bool {
	return e.waitPong && !now.Before(e.nextPing.Add(e.s.cfg.PingTimeout))
}

// beat sends a ping, or closes the session when the last one went unanswered.
func (e *engineSession) beat() {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	if e.waitPong {
		e.mu.Unlock()
		e.close("ping timeout", closeHard)
		return
	}
	e.waitPong = true
	// The timeout runs from when the ping was due, not from when the
	// timer fired.
	e.heartbeat.Reset(time.Until(e.nextPing.Add(e.s.cfg.PingTimeout)))
	err := e.sendLocked(engineio.Packet{Type: engineio.Ping})
	e.mu.Unlock()
	if err != nil {
		e.close("transport error", closeHard)
	}
}

func (e *engineSession) pong() {
	e.mu.Lock()
	if e.waitPong && !e.closed {
		e.waitPong = false
		e.nextPing = time.Now().Add(e.s.cfg.PingInterval)
		e.heartbeat.Reset(e.s.cfg.PingInterval)
	}
	e.mu.Unlock()
}

// send sends packets in order on the current transport, without blocking.
// It reports false when the session is closed; a client that cannot keep
// up is closed.
func (e *engineSession) send(ps ...engineio.Packet) bool {
	e.mu.Lock()
	err := e.sendLocked(ps...)
	e.mu.Unlock()
	if errors.Is(err, errSlowClient) {
		e.close("slow client", closeHard)
	}
	return err == nil
}

// sendMessage sends a Socket.IO packet: msg, an encoded Engine.IO MESSAGE
// ('4' then the packet's text, shared with other sessions, never
// modified), then its binary attachments, in order and together.
func (e *engineSession) sendMessage(msg []byte, bins [][]byte) bool {
	e.mu.Lock()
	var err error
	switch {
	case e.closed || e.goodbye: // nothing may follow the goodbye (sendGoodbye)
		err = bridge.ErrClosed
	case e.ws != nil:
		err = e.ws.Send(msg)
		for i := 0; err == nil && i < len(bins); i++ {
			err = e.ws.SendBinary(bins[i])
		}
	default:
		ps := make([]engineio.Packet, 0, 1+len(bins))
		ps = append(ps, engineio.Packet{Type: engineio.Message, Data: msg[1:]})
		for _, b := range bins {
			ps = append(ps, engineio.Packet{Type: engineio.Message, Data: b, Binary: true})
		}
		err = e.sendLocked(ps...)
	}
	e.mu.Unlock()
	if errors.Is(err, errSlowClient) {
		e.close("slow client", closeHard)
	}
	return err == nil
}

func (e *engineSession) sendLocked(ps ...engineio.Packet) error {
	if e.closed {
		return bridge.ErrClosed
	}
	if e.ws != nil {
		for _, p := range ps {
			var err error
			if p.Binary {
				err = e.ws.SendBinary(p.Data)
			} else {
				err = e.ws.Send(engineio.AppendText(nil, p))
			}
			if err != nil {
				return err // the bridge closes the connection; Close ends the session
			}
		}
		return nil
	}
	if len(e.buf)+len(ps) > e.s.cfg.SendQueue {
		return errSlowClient
	}
	e.buf = append(e.buf, ps...)
	e.wakeLocked()
	return nil
}

// sendGoodbye sends the last messages of a session whose Express session
// ended (session-ended, DISCONNECT) in one go, so that a polling client
// gets them in one response. For a polling client they replace whatever
// was still waiting, and nothing is queued after them but CLOSE: a poll
// without the session's cookie may take them (the logout may have cleared
// it), so they must be all it can take.
func (e *engineSession) sendGoodbye(msgs [][]byte) {
	ps := make([]engineio.Packet, len(msgs))
	for i, m := range msgs {
		ps[i] = engineio.Packet{Type: engineio.Message, Data: m[1:]}
	}
	e.mu.Lock()
	if e.ws == nil {
		e.buf = nil
	}
	err := e.sendLocked(ps...)
	e.goodbye = true
	e.mu.Unlock()
	if errors.Is(err, errSlowClient) { // a SendQueue smaller than the goodbye
		e.close("slow client", closeHard)
	}
}

// saysGoodbye reports whether the session has sent its goodbye.
func (e *engineSession) saysGoodbye() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.goodbye
}

func (e *engineSession) wakeLocked() {
	if e.pollWake != nil {
		close(e.pollWake)
		e.pollWake = nil
	}
}

// packet handles one packet from the client, on either transport.
func (e *engineSession) packet(p engineio.Packet) {
	switch p.Type {
	case engineio.Pong:
		e.pong()
	case engineio.Message:
		e.h.message(e, p)
	case engineio.Close:
		e.close("transport close", closeByClient)
	}
	// Other types mean nothing from a client here; engine.io ignores them.
}

// end is the bridge ending the session (bridge.Hold and bridge.Ender).
func (e *engineSession) end(code int, reason string) {
	e.mu.Lock()
	was := e.ended || e.closed
	e.ended = true
	e.mu.Unlock()
	if !was {
		e.h.end(e, code, reason)
	}
}

// closeWith closes the session gracefully, the WebSocket with code and reason.
func (e *engineSession) closeWith(code int, reason string) {
	e.mu.Lock()
	e.wsCode, e.wsReason = code, reason
	e.mu.Unlock()
	e.close(reason, closeGraceful)
}

// close ends the session once; see closeHow.
func (e *engineSession) close(reason string, how closeHow) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.closed = true
	if e.endReason == "" {
		e.endReason = reason
	}
	if e.heartbeat != nil {
		e.heartbeat.Stop()
	}
	ws, probe := e.ws, e.probe
	e.probe = nil
	if ws == nil {
		switch {
		case how == closeGraceful:
			// CLOSE goes alone, after what is queued: socket.io-client
			// hands packets to its sockets a tick later, and a CLOSE in
			// the same payload would end them first.
			e.closeNext = len(e.buf) > 0
			if !e.closeNext {
				e.buf = []engineio.Packet{{Type: engineio.Close}}
			}
			e.draining = true
			e.grace = time.AfterFunc(closeGrace, e.drained)
		case e.pollWake != nil && how == closeHard:
			e.buf = []engineio.Packet{{Type: engineio.Close}}
		case e.pollWake != nil:
			e.buf = []engineio.Packet{{Type: engineio.Noop}}
		case how == closeByClient:
			// The client's POST of CLOSE may overtake its GET: that GET
			// still gets the NOOP that ends it, for upgradePollWait.
			e.buf = []engineio.Packet{{Type: engineio.Noop}}
			e.draining = true
			e.grace = time.AfterFunc(upgradePollWait, e.drained)
		default:
			e.buf = nil
		}
		e.wakeLocked()
	}
	draining, code, wsReason, hold, uncount, endReason := e.draining, e.wsCode, e.wsReason, e.hold, e.uncount, e.endReason
	e.mu.Unlock()
	if uncount != nil {
		uncount(observerReason(endReason))
	}
	if ws != nil {
		if how == closeGraceful {
			ws.CloseWhenSent(code, wsReason)
		} else {
			ws.Close(websocket.CloseNormalClosure, "")
		}
	}
	if probe != nil {
		probe.Close(websocket.CloseNormalClosure, "")
	}
	if !draining {
		e.s.forget(e)
	}
	if hold != nil {
		hold.Release()
	}
	if e.s.log.Enabled(context.Background(), slog.LevelDebug) {
		e.s.log.Debug("socket.io session closed", "eio", redactSID(e.id), "reason", reason)
	}
	e.h.closed(e, reason)
}

// drained forgets a session closed by the server once its last packets
// were taken, or after closeGrace.
func (e *engineSession) drained() {
	e.mu.Lock()
	was := e.draining
	e.draining = false
	e.buf = nil
	if e.grace != nil {
		e.grace.Stop()
	}
	e.mu.Unlock()
	if was {
		e.s.forget(e)
	}
}

// Long-polling ---------------------------------------------------------------

func (s *Server) handshakePolling(w http.ResponseWriter, r *http.Request) {
	// 1. A GET opens a session.
	if r.Method != http.MethodGet {
		s.badRequest(w, r, true, "a long-polling handshake is a GET")
		return
	}
	// 2. The gate; a refusal is told at CONNECT.
	sess, ref, since := s.authenticate(r)
	if ref != nil && ref.Code == auth.CodeBadOrigin {
		auth.WriteRefusal(w, ref)
		return
	}
	e := s.newSession(sess, ref)
	e.cookie = s.cookieSum(r)
	// 3. Follow the Express session, as a connection would be.
	if e.auth != nil {
		h, err := s.bridge.Hold(e.auth.ID, e.auth.Record, since, e.end)
		if err != nil {
			auth.WriteRefusal(w, auth.ShuttingDown())
			return
		}
		e.mu.Lock() // the bridge may end the hold at once, on its goroutine
		e.hold = h
		closed := e.closed
		e.mu.Unlock()
		if closed { // ended before it was kept: close could not release it
			h.Release()
		}
	}
	s.register(e)
	hs := s.handshake([]string{"websocket"})
	hs.SID = e.id
	e.beginHeartbeat()
	writePayload(w, []engineio.Packet{engineio.OpenPacket(hs)})
	if s.log.Enabled(r.Context(), slog.LevelDebug) {
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "socket.io session opened", slog.String("transport", "polling"),
			slog.String("eio", redactSID(e.id)), slog.String("sid", redactAuth(e.auth)), slog.String("remote", s.bridge.RemoteAddr(r)))
	}
	e.h.opened(e)
}

func redactAuth(a *auth.Session) string {
	if a == nil || a.ID == "" {
		return ""
	}
	return connectsid.Redact(a.ID)
}

func writePayload(w http.ResponseWriter, ps []engineio.Packet) {
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(engineio.AppendPayload(nil, ps))
}

func (s *Server) servePolling(w http.ResponseWriter, r *http.Request, sid string) {
	e := s.session(sid)
	if e == nil {
		badRequest(w, "unknown or closed Engine.IO session")
		return
	}
	if !s.sameCookie(e, r) && !(r.Method == http.MethodGet && e.saysGoodbye()) {
		auth.WriteRefusal(w, &auth.Refusal{Status: http.StatusForbidden, Code: auth.CodeBadRequest, Step: auth.StepRequest,
			Message: "the request does not carry the session cookie the Engine.IO session was opened with"})
		return
	}
	switch r.Method {
	case http.MethodGet:
		e.poll(w, r)
	case http.MethodPost:
		e.post(w, r)
	default:
		badRequest(w, "a long-polling request is a GET or a POST")
	}
}

// poll answers a GET with what is queued, waiting for something when
// nothing is.
func (e *engineSession) poll(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	// 1. A session that can still be polled.
	if (e.closed && !e.draining) || e.ws != nil {
		e.mu.Unlock()
		badRequest(w, "unknown or closed Engine.IO session")
		return
	}
	// 2. A session whose client has not answered a ping in time is over,
	// even if its timer is late.
	if e.pongOverdueLocked(time.Now()) {
		e.mu.Unlock()
		badRequest(w, "unknown or closed Engine.IO session")
		e.close("ping timeout", closeHard)
		return
	}
	// 3. One GET at a time: a second one ends the session.
	if e.pollWake != nil {
		e.mu.Unlock()
		badRequest(w, "overlapping GET requests")
		e.close("transport error", closeHard)
		return
	}
	// 4. Wait for packets; during an upgrade, until upgradePollWait after
	// the probe at most.
	for len(e.buf) == 0 && !e.closed && e.ws == nil {
		var timeout <-chan time.Time
		if e.upgrading {
			left := upgradePollWait - time.Since(e.probedAt)
			if left <= 0 {
				break
			}
			t := time.NewTimer(left)
			defer t.Stop()
			timeout = t.C
		}
		wake := make(chan struct{})
		e.pollWake = wake
		e.mu.Unlock()
		select {
		case <-wake:
		case <-timeout:
		case <-r.Context().Done():
		}
		e.mu.Lock()
		if e.pollWake == wake {
			e.pollWake = nil
		}
		if r.Context().Err() != nil {
			e.mu.Unlock()
			return
		}
	}
	// 5. The upgrade may have completed meanwhile: polling is over.
	if ws := e.ws; ws != nil {
		e.mu.Unlock()
		// What the upgrade wrote (3probe) reaches the client first, as
		// it would from a single-threaded server.
		ctx, cancel := context.WithTimeout(r.Context(), upgradePollWait)
		ws.WaitSent(ctx)
		cancel()
		badRequest(w, "the session has upgraded to WebSocket")
		return
	}
	// 6. Take the packets; during an upgrade an empty poll gets NOOP.
	ps := e.buf
	e.buf = nil
	if len(ps) == 0 {
		ps = []engineio.Packet{{Type: engineio.Noop}}
	}
	draining, hold := e.draining, e.hold
	if draining && e.closeNext {
		e.closeNext, draining = false, false
		e.buf = []engineio.Packet{{Type: engineio.Close}}
	}
	e.mu.Unlock()
	if hold != nil {
		hold.Active()
	}
	writePayload(w, ps)
	if draining {
		e.drained()
	}
}

// post takes a payload of packets from the client.
func (e *engineSession) post(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	if e.draining { // closed by the server: the client's last words are moot
		e.mu.Unlock()
		io.Copy(io.Discard, io.LimitReader(r.Body, e.s.cfg.MaxHTTPBufferSize))
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("ok"))
		return
	}
	if e.closed || e.ws != nil {
		e.mu.Unlock()
		badRequest(w, "unknown or closed Engine.IO session") // an upgraded session goes on
		return
	}
	if e.pongOverdueLocked(time.Now()) {
		e.mu.Unlock()
		badRequest(w, "unknown or closed Engine.IO session")
		e.close("ping timeout", closeHard)
		return
	}
	if e.posting {
		e.mu.Unlock()
		badRequest(w, "overlapping POST requests")
		e.close("transport error", closeHard)
		return
	}
	e.posting = true
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.posting = false
		e.mu.Unlock()
	}()
	// 1. The payload, within the limit.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, e.s.cfg.MaxHTTPBufferSize))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			auth.WriteRefusal(w, &auth.Refusal{Status: http.StatusRequestEntityTooLarge, Code: auth.CodeBadRequest,
				Step: auth.StepRequest, Message: "payload over maxHttpBufferSize"})
			e.close("transport error", closeHard)
		}
		return
	}
	// 2. Its packets; a malformed payload ends the session.
	ps, err := engineio.DecodePayload(body, 0)
	if err != nil {
		badRequest(w, "malformed payload: "+err.Error())
		e.close("parse error", closeHard)
		return
	}
	e.mu.Lock()
	hold := e.hold
	e.mu.Unlock()
	if hold != nil {
		hold.Active()
	}
	for _, p := range ps {
		e.packet(p)
	}
	w.Header().Set("Content-Type", "text/html")
	w.Write([]byte("ok"))
}

// WebSocket --------------------------------------------------------------------

// wsTransport is the bridge protocol of one Socket.IO WebSocket
// connection: the session's transport, or a probe while it upgrades.
type wsTransport struct {
	e        *engineSession
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
	var e *engineSession
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
	bsess := sess
	if e == nil {
		e = s.newSession(sess, ref)
		t.e, t.fresh = e, true
		if ref != nil {
			bsess = &auth.Session{SecretIndex: -1} // refused: nothing to follow
		}
	}
	// 3. A bridge connection; Open takes it from here.
	s.bridge.Accept(w, r, bsess, bridge.AcceptOptions{Protocol: t, ReadLimit: s.cfg.MaxHTTPBufferSize, Door: auth.DoorSocketIO,
		Since: since, Uncounted: true})
}

// Open sends the handshake of a session born on this connection, or takes
// the connection as an upgrade's probe.
func (t *wsTransport) Open(c *bridge.Conn) {
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
		c.Send(engineio.AppendText(nil, engineio.OpenPacket(hs)))
		e.h.opened(e)
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
func (t *wsTransport) Message(c *bridge.Conn, msg []byte) {
	if t.rejected.Load() {
		return
	}
	p, err := engineio.DecodeText(msg)
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
func (t *wsTransport) BinaryMessage(c *bridge.Conn, msg []byte) {
	if t.rejected.Load() || t.probe.Load() {
		return
	}
	t.e.packet(engineio.DecodeBinary(msg))
}

// probeMessage walks the upgrade: "2probe" → "3probe", then "5" makes the
// connection the session's transport.
func (t *wsTransport) probeMessage(c *bridge.Conn, p engineio.Packet) {
	e := t.e
	switch {
	case p.Type == engineio.Ping && string(p.Data) == "probe":
		c.Send([]byte("3probe"))
		e.mu.Lock()
		e.upgrading, e.probedAt = true, time.Now()
		e.wakeLocked() // a pending poll returns soon (NOOP), so the client can pause polling
		e.mu.Unlock()
	case p.Type == engineio.Upgrade:
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
func (t *wsTransport) Close(c *bridge.Conn) {
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
		e.endReason = c.EndReason() // slow-client, ping-timeout, … as the bridge saw it
	}
	e.mu.Unlock()
	if mine {
		e.close("transport close", closeByClient)
	}
}

// observerReason is the bridge.Observer's reason for an Engine.IO close
// reason, so that both doors count alike: the bridge's reasons pass as
// they are (logged-out, …, shutting-down, server-disconnect).
func observerReason(reason string) string {
	switch reason {
	case "ping timeout":
		return bridge.ReasonPingTimeout
	case "slow client":
		return bridge.ReasonSlowClient
	case "transport close", "transport error", "parse error", "connect timeout", "":
		return bridge.ReasonClientClosed
	}
	return reason
}

// End is the Tracker ending the connection's session.
func (t *wsTransport) End(c *bridge.Conn, r liveness.Reason) {
	code, reason := bridge.CloseFor(r)
	if t.rejected.Load() || t.probe.Load() {
		c.Close(code, reason)
		return
	}
	t.e.end(code, reason)
}

var _ bridge.Ender = (*wsTransport)(nil)
