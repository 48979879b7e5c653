package engineio

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/engineio/parser"
	"github.com/expressbridge/expressbridge/internal/randid"
	"github.com/expressbridge/expressbridge/liveness"
	"github.com/expressbridge/expressbridge/wsconn"
)

// Handler is the layer above one session (Socket.IO; an echo in the
// Engine.IO protocol suite), made by Config.Handler. Message runs one at
// a time per session, in the order the client sent; the other methods may
// run on any goroutine, and none may block.
type Handler interface {
	// Opened runs once, when the client has been sent the handshake.
	Opened()
	// Message handles one MESSAGE packet from the client, text or binary
	// (p.Binary). p.Data is the handler's to keep: it is not reused.
	Message(p parser.Packet)
	// End is the server ending the session for a reason of the Tracker's:
	// its Express session ended (r.SessionEnded: logged-out,
	// session-expired, session-changed), the store is down
	// (store-unavailable), shutdown (shutting-down). It may tell the
	// client in its own terms (Session.Goodbye), and must then close the
	// session (Session.CloseWith, e.g. with wsconn.CloseFor(r)), now or
	// later. It runs at most once, and not after the session has closed.
	End(r liveness.Reason)
	// Closed runs once when the session has closed, however it did, with
	// the reason ("transport close", "ping timeout", the server's reason,
	// …). Nothing sent after it reaches the client.
	Closed(reason string)
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

// Session is one Engine.IO session. Its transport is long-polling until an
// upgrade completes, then a WebSocket connection. Its methods are safe for
// concurrent use.
type Session struct {
	s       *Server
	id      string
	auth    *auth.Session // what the gate accepted; nil when refused
	refusal *auth.Refusal // why the gate refused
	h       Handler
	hold    *liveness.Hold    // follows the Express session; nil without a Tracker
	cookie  [sha256.Size]byte // of the session cookie at the handshake (Server.cookieSum)
	release func()            // gives back its place in the session table (admit); idempotent
	req     Request           // the handshake's (Request)

	mu        sync.Mutex
	ws        conn // the WebSocket transport, once there is one
	probe     conn // an upgrade in progress
	upgrading bool // the probe was answered: polls are released soon
	probedAt  time.Time
	buf       []parser.Packet
	bufBytes  int           // of buf's payload, one separator per packet (Config.SendQueueBytes)
	pollWake  chan struct{} // a pending GET waits on it; nil when none
	posting   bool
	heartbeat *time.Timer
	nextPing  time.Time // when the next ping is due, or was sent
	waitPong  bool
	closed    bool
	draining  bool // closed by the server; a last GET takes buf
	closeNext bool // draining: after buf, a further GET gets CLOSE
	// goodbye: the Express session ended; buf holds only what tells the
	// client so (Goodbye), which any poll may take (the logout may have
	// cleared the cookie the session was bound to)
	goodbye  bool
	grace    *time.Timer
	ended    bool
	wsCode   int // close code and reason for the WebSocket on a graceful close
	wsReason string
	// uncount reports the session closed to the Observer (set by
	// register; nil until then); endReason, when set, is the reason it
	// hears instead of the close's own (the WebSocket's, from wsconn).
	uncount   func(reason string)
	endReason string
}

// upgradePollWait is how long a poll waits during an upgrade before it is
// released with NOOP (engine.io checks every 100 ms): a client that
// upgrades pauses polling first, and a poll that arrives just before the
// upgrade completes is refused like any later one.
const upgradePollWait = 100 * time.Millisecond

func (s *Server) newSession(r *http.Request, sess *auth.Session, ref *auth.Refusal, release func()) *Session {
	e := &Session{s: s, id: randid.New(), refusal: ref, release: release, req: s.newRequest(r)}
	if ref == nil {
		e.auth = sess
	}
	e.h = s.cfg.Handler(e)
	return e
}

// ID returns the session's sid (a bearer token for its polling requests:
// log a prefix of it, never all of it).
func (e *Session) ID() string { return e.id }

// Auth returns what the gate accepted at the handshake: the Express
// session's ID, its user and its record; nil when the gate refused. On an
// Insecure server it is a session without an ID, record or user. Treat it
// as read-only.
func (e *Session) Auth() *auth.Session { return e.auth }

// Hold returns the liveness.Hold that follows the session's Express
// session: its own when it was opened on long-polling, else its WebSocket
// connection's; nil without a Tracker or for a refused session.
// liveness.Hold.Session is the Express session as it is now, and
// liveness.Hold.Save changes it.
func (e *Session) Hold() *liveness.Hold {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.hold != nil {
		return e.hold
	}
	if e.ws != nil {
		return e.ws.Hold()
	}
	return nil
}

// Refusal returns why the gate refused the handshake, or nil. A refused
// session is still opened (socket.io-client cannot read an HTTP refusal):
// the Handler tells the client in its own terms.
func (e *Session) Refusal() *auth.Refusal { return e.refusal }

// register makes e reachable by its sid; after Shutdown it closes e instead.
func (s *Server) register(e *Session) {
	s.mu.Lock()
	closed := s.closed
	if !closed {
		s.sessions[e.id] = e
	}
	s.mu.Unlock()
	e.limitLife()
	if !closed {
		// One open connection per Engine.IO session, whatever its
		// transports (its WebSockets are Accepted uncounted).
		uncount := s.count()
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
		e.end(liveness.ShuttingDown)
	}
}

// beginHeartbeat starts the heartbeat, as the handshake is sent.
func (e *Session) beginHeartbeat() {
	e.mu.Lock()
	e.nextPing = time.Now().Add(e.s.cfg.PingInterval)
	e.heartbeat = time.AfterFunc(e.s.cfg.PingInterval, e.beat)
	e.mu.Unlock()
}

// pongOverdueLocked reports whether the last ping went unanswered for
// longer than the ping timeout, whether or not the timer has fired yet.
func (e *Session) pongOverdueLocked(now time.Time) bool {
	return e.waitPong && !now.Before(e.nextPing.Add(e.s.cfg.PingTimeout))
}

// beat sends a ping, or closes the session when the last one went unanswered.
func (e *Session) beat() {
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
	err := e.sendLocked(parser.Packet{Type: parser.Ping})
	e.mu.Unlock()
	if err != nil {
		e.close("transport error", closeHard)
	}
}

func (e *Session) pong() {
	e.mu.Lock()
	if e.waitPong && !e.closed {
		e.waitPong = false
		e.nextPing = time.Now().Add(e.s.cfg.PingInterval)
		e.heartbeat.Reset(e.s.cfg.PingInterval)
	}
	e.mu.Unlock()
}

// Send sends packets in order on the current transport, without
// blocking. It fails with ErrClosed when the session is closed or has
// said its goodbye (on WebSocket, also when the connection refuses them:
// it is closing), and with ErrSlowClient when a long-polling client
// lets more than Config.SendQueue packets, or Config.SendQueueBytes bytes,
// wait (the session is then closed, "slow client").
func (e *Session) Send(ps ...parser.Packet) error {
	e.mu.Lock()
	err := ErrClosed
	if !e.goodbye { // nothing may follow the goodbye (Goodbye)
		err = e.sendLocked(ps...)
	}
	e.mu.Unlock()
	if errors.Is(err, ErrSlowClient) {
		e.slow()
	}
	return err
}

// SendMessage sends msg, an encoded text MESSAGE packet ('4' then the
// text, as parser.AppendText writes it; it may be shared with other
// sessions and is never modified), then bins as binary MESSAGE packets,
// in order and together: on WebSocket msg goes out as it is, without a
// copy. It fails as Send does.
func (e *Session) SendMessage(msg []byte, bins [][]byte) error {
	return e.sendMessage(msg, nil, bins)
}

// SendPrepared is SendMessage for a message going to many sessions (a
// broadcast), m.Data() being the encoded MESSAGE: on WebSocket its frame,
// compressed or not, is built once for all of them (wsconn.Message), and
// with m's compress flag false neither it nor bins go compressed
// (socket.io's compress(false)). It fails as Send does.
func (e *Session) SendPrepared(m *wsconn.Message, bins [][]byte) error {
	return e.sendMessage(m.Data(), m, bins)
}

// sendMessage is SendMessage, with m (when not nil) the prepared msg.
func (e *Session) sendMessage(msg []byte, m *wsconn.Message, bins [][]byte) error {
	e.mu.Lock()
	var err error
	switch {
	case e.closed || e.goodbye: // nothing may follow the goodbye (Goodbye)
		err = ErrClosed
	case e.ws != nil:
		compress := true
		if m != nil {
			compress = m.Compress()
			err = e.ws.SendMessage(m)
		} else {
			err = e.ws.Send(msg)
		}
		for i := 0; err == nil && i < len(bins); i++ {
			err = e.ws.SendBinaryCompress(bins[i], compress)
		}
		err = connErr(err)
	default:
		ps := make([]parser.Packet, 0, 1+len(bins))
		ps = append(ps, parser.Packet{Type: parser.Message, Data: msg[1:]})
		for _, b := range bins {
			ps = append(ps, parser.Packet{Type: parser.Message, Data: b, Binary: true})
		}
		err = e.sendLocked(ps...)
	}
	e.mu.Unlock()
	if errors.Is(err, ErrSlowClient) {
		e.slow()
	}
	return err
}

// Writable reports whether a message sent now would go to the client at
// once, as engine.io's transport.writable: on WebSocket, nothing waiting
// to be written; on long-polling, a GET waiting and nothing buffered for
// it. Socket.IO's volatile packets are dropped otherwise.
func (e *Session) Writable() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.closed || e.goodbye:
		return false
	case e.ws != nil:
		return e.ws.Idle()
	default:
		return e.pollWake != nil && len(e.buf) == 0
	}
}

// connErr is a WebSocket connection's refusal to send, as Send reports
// it: the connection is closing, and its Close ends the session.
func connErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrClosed, err)
}

func (e *Session) sendLocked(ps ...parser.Packet) error {
	if e.closed {
		return ErrClosed
	}
	if e.ws != nil {
		for _, p := range ps {
			var err error
			if p.Binary {
				err = e.ws.SendBinary(p.Data)
			} else {
				err = e.ws.Send(parser.AppendText(nil, p))
			}
			if err != nil {
				return connErr(err)
			}
		}
		return nil
	}
	// Bounded in packets and in bytes; what comes when nothing waits
	// goes, however large.
	n := e.bufBytes + queuedBytes(ps)
	if len(e.buf)+len(ps) > e.s.cfg.SendQueue || (len(e.buf) > 0 && n > e.s.cfg.SendQueueBytes) {
		return ErrSlowClient
	}
	e.buf = append(e.buf, ps...)
	e.bufBytes = n
	e.wakeLocked()
	return nil
}

// queuedBytes is what packets add to a poll's queue: their payload, with
// a separator each.
func queuedBytes(ps []parser.Packet) int {
	n := 0
	for _, p := range ps {
		n += 1 + parser.EncodedLen(p)
	}
	return n
}

// Goodbye sends the last messages of a session the server is ending
// (Handler.End), each an encoded text MESSAGE as SendMessage takes, in
// one go, so that a polling client gets them in one response; close the
// session next (CloseWith). For a polling client they replace whatever
// was still waiting, and nothing is queued after them but CLOSE: a poll
// without the session's cookie may take them (a logout may have cleared
// it), so they must be all it can take. After Goodbye, Send and
// SendMessage fail with ErrClosed. It fails as Send does.
func (e *Session) Goodbye(msgs [][]byte) error {
	ps := make([]parser.Packet, len(msgs))
	for i, m := range msgs {
		ps[i] = parser.Packet{Type: parser.Message, Data: m[1:]}
	}
	e.mu.Lock()
	if e.ws == nil {
		e.buf, e.bufBytes = nil, 0
	}
	err := e.sendLocked(ps...)
	e.goodbye = true
	e.mu.Unlock()
	if errors.Is(err, ErrSlowClient) { // a SendQueue smaller than the goodbye
		e.slow()
	}
	return err
}

// saysGoodbye reports whether the session has sent its goodbye.
func (e *Session) saysGoodbye() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.goodbye
}

func (e *Session) wakeLocked() {
	if e.pollWake != nil {
		close(e.pollWake)
		e.pollWake = nil
	}
}

// packet handles one packet from the client, on either transport.
func (e *Session) packet(p parser.Packet) {
	switch p.Type {
	case parser.Pong:
		e.pong()
	case parser.Message:
		e.h.Message(p)
	case parser.Close:
		e.close("transport close", closeByClient)
	}
	// Other types mean nothing from a client here; engine.io ignores them.
}

// end is the Tracker (or Shutdown) ending the session.
func (e *Session) end(r liveness.Reason) {
	e.mu.Lock()
	was := e.ended || e.closed
	e.ended = true
	e.mu.Unlock()
	if !was {
		e.h.End(r)
	}
}

// CloseWith closes the session as the server does, gracefully: what is
// queued, then CLOSE, still reaches a polling client (for up to 10 s);
// a WebSocket closes with code and reason once what is queued is written.
// reason is also what Handler.Closed and the Observer hear.
func (e *Session) CloseWith(code int, reason string) {
	e.mu.Lock()
	e.wsCode, e.wsReason = code, reason
	e.mu.Unlock()
	e.close(reason, closeGraceful)
}

// slow closes the session of a client whose send queue is full.
func (e *Session) slow() {
	e.s.LimitHit(LimitSlowClient, "")
	e.close("slow client", closeHard)
}

// Close closes the session at once, as on an error: a pending poll gets
// CLOSE, a WebSocket closes (1000). reason is what Handler.Closed hears;
// the Observer hears "client-closed" for reasons of its own ("connect
// timeout", "parse error").
func (e *Session) Close(reason string) { e.close(reason, closeHard) }

// close ends the session once; see closeHow.
func (e *Session) close(reason string, how closeHow) {
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
				e.buf = []parser.Packet{{Type: parser.Close}}
			}
			e.draining = true
			e.grace = time.AfterFunc(closeGrace, e.drained)
		case e.pollWake != nil && how == closeHard:
			e.buf = []parser.Packet{{Type: parser.Close}}
		case e.pollWake != nil:
			e.buf = []parser.Packet{{Type: parser.Noop}}
		case how == closeByClient:
			// The client's POST of CLOSE may overtake its GET: that GET
			// still gets the NOOP that ends it, for upgradePollWait.
			e.buf = []parser.Packet{{Type: parser.Noop}}
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
		e.s.log.Debug(e.s.msgClosed, "eio", connectsid.Redact(e.id), "reason", reason)
	}
	e.h.Closed(reason)
}

// drained forgets a session closed by the server once its last packets
// were taken, or after closeGrace.
func (e *Session) drained() {
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
	// 2. The gate; a refusal is the Handler's to tell (Session.Refusal).
	sess, ref, since := s.authenticate(r)
	if ref != nil && ref.Code == auth.CodeBadOrigin {
		auth.WriteRefusal(w, ref)
		return
	}
	release, ref, full := s.admit(r, sess, ref)
	if full != nil {
		s.refusedLimit(r, full)
		auth.WriteRefusal(w, full)
		return
	}
	e := s.newSession(r, sess, ref, release)
	e.cookie = s.cookieSum(r)
	// 3. Follow the Express session, as a connection would be.
	if e.auth != nil {
		var h *liveness.Hold
		var err error
		if s.live != nil {
			h, err = s.live.Follow(e.auth.ID, e.auth.Record, since, e.end)
		}
		if err != nil {
			release()
			auth.WriteRefusal(w, auth.ShuttingDown())
			return
		}
		if h != nil {
			e.mu.Lock() // the Tracker may end the hold at once, on its goroutine
			e.hold = h
			closed := e.closed
			e.mu.Unlock()
			if closed { // ended before it was kept: close could not release it
				h.Release()
			}
		}
	}
	s.register(e)
	hs := s.handshake([]string{"websocket"})
	hs.SID = e.id
	e.beginHeartbeat()
	if !s.writePayload(w, r, []parser.Packet{parser.OpenPacket(hs)}) {
		e.close("transport error", closeHard)
		return
	}
	if s.log.Enabled(r.Context(), slog.LevelDebug) {
		s.log.LogAttrs(r.Context(), slog.LevelDebug, s.msgOpened, slog.String("transport", "polling"),
			slog.String("eio", connectsid.Redact(e.id)), slog.String("sid", redactAuth(e.auth)), slog.String("remote", auth.RemoteAddr(r, s.cfg.TrustedProxies)))
	}
	e.h.Opened()
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
func (e *Session) poll(w http.ResponseWriter, r *http.Request) {
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
		var timer *time.Timer
		if e.upgrading {
			left := upgradePollWait - time.Since(e.probedAt)
			if left <= 0 {
				break
			}
			timer = time.NewTimer(left)
			timeout = timer.C
		}
		wake := make(chan struct{})
		e.pollWake = wake
		e.mu.Unlock()
		select {
		case <-wake:
		case <-timeout:
		case <-r.Context().Done():
		}
		if timer != nil {
			timer.Stop() // not one per wake-up left for the function's end
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
	// 6. Take the packets, a payload of MaxHTTPBufferSize at most (one
	// packet at least); the rest waits for the next GET, in a queue of
	// its own so that what goes out now is not held. During an upgrade
	// an empty poll gets NOOP.
	n := parser.Fit(e.buf, int(e.s.cfg.MaxHTTPBufferSize))
	ps, rest := e.buf[:n:n], e.buf[n:]
	e.buf, e.bufBytes = nil, 0
	if len(rest) > 0 {
		e.buf = slices.Clone(rest)
		e.bufBytes = queuedBytes(e.buf)
	}
	if len(ps) == 0 {
		ps = []parser.Packet{{Type: parser.Noop}}
	}
	draining, hold := e.draining, e.hold
	switch {
	case len(e.buf) > 0:
		draining = false // closed by the server: the rest goes first, then as below
	case draining && e.closeNext:
		e.closeNext, draining = false, false
		e.buf = []parser.Packet{{Type: parser.Close}}
	}
	e.mu.Unlock()
	if hold != nil {
		hold.Active()
	}
	if !e.s.writePayload(w, r, ps) {
		e.close("transport error", closeHard) // its packets are lost
	}
	if draining {
		e.drained()
	}
}

// readLimit bounds one POST's body or WebSocket message: maxHttpBufferSize,
// or for a session the gate refused what it needs to tell its refusal
// (refusedMaxPayload).
func (e *Session) readLimit() int64 {
	if e.refusal != nil {
		return min(e.s.cfg.MaxHTTPBufferSize, refusedMaxPayload)
	}
	return e.s.cfg.MaxHTTPBufferSize
}

// post takes a payload of packets from the client.
func (e *Session) post(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	if e.draining { // closed by the server: the client's last words are moot
		e.mu.Unlock()
		if _, err := e.readPost(w, r); err != nil {
			if errors.Is(err, errPostBudget) {
				e.s.refusePost(e, w, r)
				return
			}
			refuseBody(w, err)
			return
		}
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
	// 1. The payload, within the limit and the read timeout; a body that
	// does not arrive whole ends the session, as in engine.io.
	body, err := e.readPost(w, r)
	if errors.Is(err, errPostBudget) {
		e.s.refusePost(e, w, r)
		e.close("transport error", closeHard)
		return
	}
	if err != nil {
		refuseBody(w, err)
		e.s.bodyRefused(e, r, err)
		e.close("transport error", closeHard)
		return
	}
	// 2. Its packets; a malformed payload ends the session.
	ps, err := parser.DecodePayload(body, 0)
	if err != nil {
		if errors.Is(err, parser.ErrTooManyPackets) {
			e.s.limitHitBy(LimitTooManyPackets, r)
		}
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
