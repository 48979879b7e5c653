package socketio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/engineio"
	eioparser "github.com/expressbridge/expressbridge/engineio/parser"
	"github.com/expressbridge/expressbridge/internal/randid"
	"github.com/expressbridge/expressbridge/liveness"
	"github.com/expressbridge/expressbridge/socketio/parser"
	"github.com/expressbridge/expressbridge/wsconn"
)

// client is the Socket.IO layer of one Engine.IO session: its sockets, one
// per namespace, and a binary packet waiting for its attachments.
type client struct {
	s *Server
	e *engineio.Session

	mu        sync.Mutex
	sockets   map[string]*Socket // by namespace
	partial   *parser.Packet     // a binary packet still missing attachments
	bins      [][]byte
	binBytes  int64 // of bins, bounded by MaxHTTPBufferSize
	connectTo *time.Timer
	over      bool // the session has closed
}

// newClient is the Socket.IO layer of a new Engine.IO session
// (engineio.Config.Handler).
func (s *Server) newClient(e *engineio.Session) engineio.Handler {
	return &client{s: s, e: e, sockets: make(map[string]*Socket)}
}

func (c *client) send(p *Encoded) bool {
	return c.e.SendPrepared(p.engineMessage(), p.Attachments) == nil
}

// Opened starts the connect timeout: a session must join a namespace.
func (c *client) Opened() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.sockets) == 0 && !c.over {
		c.connectTo = time.AfterFunc(c.s.cfg.ConnectTimeout, func() {
			c.mu.Lock()
			idle := len(c.sockets) == 0
			c.mu.Unlock()
			if idle {
				c.e.Close("connect timeout")
			}
		})
	}
}

// Message takes one Engine.IO MESSAGE: a packet, or an attachment of one.
func (c *client) Message(m eioparser.Packet) {
	e := c.e
	c.mu.Lock()
	if c.over { // closed, or closing for its rate (ratelimit.go): dropped
		c.mu.Unlock()
		return
	}
	// 1. An attachment completes the waiting packet.
	if m.Binary {
		if c.partial == nil {
			c.mu.Unlock()
			e.Close("parse error")
			return
		}
		// The attachments of one packet share one message's budget: a
		// packet cannot make the server hold more than MaxHTTPBufferSize.
		if c.binBytes += int64(len(m.Data)); c.binBytes > c.s.cfg.MaxHTTPBufferSize {
			c.partial, c.bins, c.binBytes = nil, nil, 0
			c.mu.Unlock()
			e.Close("parse error")
			return
		}
		c.bins = append(c.bins, m.Data)
		if len(c.bins) < c.partial.Attachments {
			c.mu.Unlock()
			return
		}
		p, bins := *c.partial, c.bins
		c.partial, c.bins, c.binBytes = nil, nil, 0
		c.mu.Unlock()
		c.dispatch(p, bins)
		return
	}
	// 2. A packet; a binary one waits for its attachments.
	if c.partial != nil {
		c.mu.Unlock()
		e.Close("parse error")
		return
	}
	p, err := parser.Decode(m.Data)
	if err != nil {
		c.mu.Unlock()
		if errors.Is(err, parser.ErrTooManyArgs) {
			c.s.eio.LimitHit(LimitTooManyArgs, "")
		}
		e.Close("parse error")
		return
	}
	if p.Attachments > 0 {
		// Attachments are held only for a namespace this session has
		// joined: a session that was refused (or never connected) has
		// no business sending binary packets, and is closed.
		if c.sockets[p.Namespace] == nil {
			c.mu.Unlock()
			e.Close("parse error")
			return
		}
		// The packet is kept: its Data and Args alias m.Data, which is
		// the client's and not reused.
		c.partial = &p
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.dispatch(p, nil)
}

func (c *client) dispatch(p parser.Packet, bins [][]byte) {
	if p.Type == parser.Connect {
		c.connect(p)
		return
	}
	c.mu.Lock()
	so := c.sockets[p.Namespace]
	c.mu.Unlock()
	if so == nil {
		return // not connected to that namespace: socket.io drops it
	}
	switch p.Type {
	case parser.Disconnect:
		c.remove(so, ReasonClientDisconnect)
	case parser.Event, parser.BinaryEvent:
		// Before any handler: over the socket's or its user's rate, the
		// event is dropped (ratelimit.go).
		if now := time.Now(); !so.allowEvent(now) {
			c.dropped(so, now)
			return
		}
		so.event(p, bins)
	case parser.Ack, parser.BinaryAck:
		so.acked(p, bins)
	}
}

type connectError struct {
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"` // *connectErrorData, or a middleware's json.RawMessage
}

// connectErrorData says why, for a refusal of the door's (the gate's, or
// an auth too large): its step and message.
type connectErrorData struct {
	Step    string `json:"step"`
	Message string `json:"message"`
}

// connect joins a namespace, or says why not.
func (c *client) connect(p parser.Packet) {
	// 1. A registered namespace, or one a parent accepts (OfMatch).
	ns, parent := c.s.lookup(p.Namespace, p.Data)
	if ns == nil && parent == nil {
		c.connectError(p.Namespace, connectError{Message: "Invalid namespace"})
		return
	}
	// 2. A session the gate accepted; its refusal otherwise.
	if ref := c.e.Refusal(); ref != nil {
		c.connectError(p.Namespace, connectError{Message: ref.Code, Data: &connectErrorData{ref.Step, ref.Message}})
		return
	}
	// 3. An auth within its bound, kept as a copy of its own: p.Data
	// aliases the whole payload it came in.
	if len(p.Data) > c.s.cfg.MaxAuthBytes {
		c.s.eio.LimitHit(LimitAuthTooLarge, "")
		c.connectError(p.Namespace, connectError{Message: auth.CodeBadRequest, Data: &connectErrorData{auth.StepRequest,
			"the CONNECT's auth is over " + strconv.Itoa(c.s.cfg.MaxAuthBytes) + " bytes"}})
		return
	}
	authData := json.RawMessage(bytes.Clone(p.Data))
	if authData == nil {
		authData = json.RawMessage("{}")
	}
	if ns == nil {
		ns = c.s.child(parent, p.Namespace)
	}
	// 4. With recovery on, a reconnect's {pid, offset}: the socket kept
	// for that pid, if it is this Express session's and user's (the gate
	// has checked the session again at this Engine.IO handshake, step 2).
	kept, refused := c.claim(ns.name, authData)
	if refused {
		c.connectError(p.Namespace, connectError{Message: CodeRecoveryOtherSession,
			Data: &connectErrorData{"recovery", "the socket of that pid was kept for another session"}})
		return
	}
	// 6. The socket, in the room of its ID; then the namespace's handlers.
	so := &Socket{id: SocketID(randid.New()), ns: ns, c: c, auth: authData, made: time.Now(), done: make(chan struct{})}
	if kept != nil {
		so.id, so.pid, so.data, so.recovered = kept.ID, kept.PID, kept.Data, true
	} else if c.s.recovery != nil {
		so.pid = randid.New()
	}
	// 5. The namespace's middleware, in order; a refusal leaves no trace
	// of the socket (the rooms a middleware joined included). A recovered
	// socket skips it, as Node's skipMiddlewares (its default) does.
	if kept == nil {
		if ce := ns.runMiddleware(so); ce != nil {
			ns.adapter.DelAll(so.id)
			c.connectError(p.Namespace, *ce)
			return
		}
	}
	c.mu.Lock()
	if c.over || c.sockets[ns.name] != nil {
		c.mu.Unlock()
		return
	}
	c.sockets[ns.name] = so
	c.s.limit(so)
	if c.connectTo != nil {
		c.connectTo.Stop()
		c.connectTo = nil
	}
	c.mu.Unlock()
	_, handlers, _, _ := ns.hooks()
	ns.mu.Lock()
	ns.sockets[so.id] = so
	ns.mu.Unlock()
	data, _ := json.Marshal(struct {
		SID SocketID `json:"sid"`
		PID string   `json:"pid,omitempty"`
	}{so.id, so.pid})
	connected := &Encoded{Text: parser.Append(nil, parser.Packet{Type: parser.Connect, Namespace: ns.name, Data: data})}
	if kept != nil {
		// The missed packets, then the CONNECT, before the rooms: a
		// broadcast cannot come between them. Node sends them in that
		// order too (from the Socket's constructor): the client holds
		// them until the CONNECT and hands them out before "connect".
		for _, m := range kept.Missed {
			so.deliver(m)
		}
		c.send(connected)
		ns.adapter.AddAll(so.id, kept.Rooms)
	} else {
		ns.adapter.AddAll(so.id, []Room{Room(so.id)})
	}
	// The session may have closed meanwhile (a heartbeat timeout, the
	// Express session's end): remove ran before the socket was in the
	// namespace, so take it out again rather than leave a ghost.
	so.mu.Lock()
	gone := so.gone
	so.mu.Unlock()
	if gone {
		ns.mu.Lock()
		delete(ns.sockets, so.id)
		ns.mu.Unlock()
		ns.adapter.DelAll(so.id)
		return
	}
	if kept == nil {
		c.send(connected)
	}
	for _, f := range handlers {
		f(so)
	}
}

// claim returns the socket kept for the pid of a CONNECT's auth, if
// recovery is on and one is kept for this session; refused when one is
// kept for another session or user (ErrOtherSession).
func (c *client) claim(nsp string, authData []byte) (kept *KeptSocket, refused bool) {
	r := c.s.recovery
	if r == nil {
		return nil, false
	}
	pid, _, ok := DecodeRecoveryAuth(authData)
	if !ok {
		return nil, false
	}
	var session, user string
	if a := c.e.Auth(); a != nil {
		session, user = a.ID, a.User
	}
	k, err := r.store.Claim(context.Background(), nsp, pid, session, user)
	switch {
	case err == nil:
		return k, false
	case errors.Is(err, ErrOtherSession):
		return nil, true
	case !errors.Is(err, ErrNotKept):
		c.s.log.Warn("socket.io: claiming a kept socket", "err", err)
	}
	return nil, false
}

func (c *client) connectError(nsp string, ce connectError) {
	data, _ := json.Marshal(ce)
	c.send(&Encoded{Text: parser.Append(nil, parser.Packet{Type: parser.ConnectError, Namespace: nsp, Data: data})})
}

// remove disconnects a socket once, with reason.
func (c *client) remove(so *Socket, reason string) {
	c.mu.Lock()
	if c.sockets[so.ns.name] == so {
		delete(c.sockets, so.ns.name)
	}
	c.mu.Unlock()
	so.mu.Lock()
	was := !so.gone
	so.gone = true
	var kept *KeptSocket
	if was {
		kept = so.keptLocked(reason) // for recovery, while still in its rooms
	}
	so.mu.Unlock()
	if !was {
		return
	}
	if kept != nil {
		so.keep(kept)
	}
	close(so.done)
	if so.user != nil {
		c.s.users.leave(so.User(), so.user)
	}
	ns := so.ns
	_, _, leaving, handlers := ns.hooks()
	for _, f := range leaving {
		f(so, reason)
	}
	ns.mu.Lock()
	delete(ns.sockets, so.id)
	ns.mu.Unlock()
	ns.adapter.DelAll(so.id)
	for _, f := range handlers {
		f(so, reason)
	}
}

// SessionEnded is the event a socket gets when its Express session ends,
// before the server disconnects it: {"reason":…}.
const SessionEnded = "session-ended"

// End is the server ending the Engine.IO session: each socket is told why
// (session-ended, then DISCONNECT) when the Express session itself ended;
// then the Engine.IO session closes.
func (c *client) End(r liveness.Reason) {
	e := c.e
	if r.SessionEnded() {
		c.mu.Lock()
		sockets := make([]*Socket, 0, len(c.sockets))
		for _, so := range c.sockets {
			sockets = append(sockets, so)
		}
		c.mu.Unlock()
		// One goodbye for every socket, sent in one go (Session.Goodbye).
		msgs := make([][]byte, 0, 2*len(sockets))
		for _, so := range sockets {
			if enc, err := encodeEvent(so.ns.name, SessionEnded, []any{struct {
				Reason string `json:"reason"`
			}{string(r)}}, nil); err == nil {
				msgs = append(msgs, enc.engineMessage().Data())
			}
			msgs = append(msgs, disconnectPacket(so.ns.name).engineMessage().Data())
		}
		_ = e.Goodbye(msgs) // fails only when the session is closing already; CloseWith is then moot
		for _, so := range sockets {
			c.remove(so, ReasonServerDisconnect)
		}
	}
	e.CloseWith(wsconn.CloseFor(r))
}

// Closed disconnects every socket with the session's reason.
func (c *client) Closed(reason string) {
	c.mu.Lock()
	c.over = true
	if c.connectTo != nil {
		c.connectTo.Stop()
		c.connectTo = nil
	}
	sockets := make([]*Socket, 0, len(c.sockets))
	for _, so := range c.sockets {
		sockets = append(sockets, so)
	}
	c.mu.Unlock()
	for _, so := range sockets {
		c.remove(so, reason)
	}
}
