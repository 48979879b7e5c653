package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/liveness"
	"github.com/expressbridge/expressbridge/socketio/parser"
)

// Errors of emitting.
var (
	// ErrDisconnected means the socket has disconnected.
	ErrDisconnected = errors.New("socketio: socket disconnected")
	// ErrAckTimeout means the client did not acknowledge in time.
	ErrAckTimeout = errors.New("socketio: acknowledgement timed out")
	// ErrAckTwice means an acknowledgement was already sent.
	ErrAckTwice = errors.New("socketio: already acknowledged")
)

// Disconnect reasons, as socket.io names them.
const (
	ReasonServerDisconnect = "server namespace disconnect"
	ReasonClientDisconnect = "client namespace disconnect"
	ReasonTransportClose   = "transport close"
	ReasonPingTimeout      = "ping timeout"
)

// Handler handles an event from a client: its arguments, and ack to
// acknowledge it when the client asked for that (nil otherwise). Handlers
// of one socket run one at a time, in the order the client sent; a handler
// that blocks holds back that socket's next events, its acknowledgements
// included: a handler that waits for this socket's ack (EmitWithAck, or a
// BroadcastWithAck that reaches it) must do so on a goroutine of its own.
type Handler func(so *Socket, args Args, ack AckFunc)

// AckFunc sends an acknowledgement with args (see Socket.Emit for how
// they are encoded). Only the first call sends; later ones return ErrAckTwice.
type AckFunc func(args ...any) error

// Args are the arguments of an event or acknowledgement as the client sent
// them: JSON values, a binary attachment standing where its placeholder is.
type Args struct {
	raw []json.RawMessage
	bin [][]byte
}

// Len returns the number of arguments.
func (a Args) Len() int { return len(a.raw) }

// Raw returns argument i as JSON (a binary one as its placeholder), or nil.
func (a Args) Raw(i int) json.RawMessage {
	if i < 0 || i >= len(a.raw) {
		return nil
	}
	return a.raw[i]
}

// Decode decodes argument i into v with encoding/json.
func (a Args) Decode(i int, v any) error {
	raw := a.Raw(i)
	if raw == nil {
		return errors.New("socketio: no argument " + strconv.Itoa(i))
	}
	return json.Unmarshal(raw, v)
}

// Bytes returns argument i when it is binary (an ArrayBuffer, Buffer or
// typed array on the client).
func (a Args) Bytes(i int) ([]byte, bool) {
	n, ok := parser.PlaceholderNum(a.Raw(i))
	if !ok || n >= len(a.bin) {
		return nil, false
	}
	return a.bin[n], true
}

// Values returns the arguments ready to emit again: each a json.RawMessage,
// or a []byte for a binary one.
func (a Args) Values() []any {
	out := make([]any, len(a.raw))
	for i := range a.raw {
		if b, ok := a.Bytes(i); ok {
			out[i] = b
		} else {
			out[i] = a.raw[i]
		}
	}
	return out
}

// Namespace is a Socket.IO namespace ("/" by default): its handlers, its
// sockets and its rooms. Register handlers before clients connect.
type Namespace struct {
	s       *Server
	name    string
	adapter Adapter

	mu              sync.RWMutex
	handlers        map[string]Handler
	onConnect       []func(*Socket)
	middleware      []Middleware
	onDisconnecting []func(*Socket, string)
	onDisconnect    []func(*Socket, string)
	sockets         map[SocketID]*Socket

	cluster clusterState // server-side event handlers (cluster.go)

	// Dynamic namespaces (dynamic.go): a parent has match and children, a
	// child its parent.
	match    func(name string, auth json.RawMessage) bool
	children []*Namespace
	parent   *Namespace

	// ackIDs gives out the ack ids of the namespace's packets, as
	// socket.io's nsp._ids: unique across its sockets, so that one packet
	// of a broadcast with acks carries the same id to each of them.
	ackIDs atomic.Uint64
}

// Of returns the namespace of that name ("/" or "/chat"), registering it
// on first use: clients may connect only to registered namespaces (and to
// those a parent accepts, OfMatch).
func (s *Server) Of(name string) *Namespace {
	if name == "" || name[0] != '/' {
		name = "/" + name
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.nsps[name]; n != nil {
		return n
	}
	n := s.newNamespaceLocked(name)
	s.nsps[name] = n
	return n
}

func (s *Server) newNamespace(name string) *Namespace {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newNamespaceLocked(name)
}

// newNamespaceLocked makes a namespace with its adapter; s.mu is held (the
// adapter's Bind must not call back into s).
func (s *Server) newNamespaceLocked(name string) *Namespace {
	n := &Namespace{s: s, name: name, handlers: make(map[string]Handler), sockets: make(map[SocketID]*Socket)}
	n.adapter = s.cfg.NewAdapter(n.deliver)
	if b, ok := n.adapter.(NamespaceBinder); ok {
		b.Bind(Local{n})
	}
	return n
}

// Name returns the namespace's name.
func (n *Namespace) Name() string { return n.name }

// OnConnection registers f to run for each socket that connects, after
// the client has been told it is connected.
func (n *Namespace) OnConnection(f func(so *Socket)) {
	n.mu.Lock()
	n.onConnect = append(n.onConnect, f)
	n.mu.Unlock()
}

// OnDisconnect registers f to run once for each socket that disconnects,
// with the reason (ReasonClientDisconnect, ReasonTransportClose, …).
func (n *Namespace) OnDisconnect(f func(so *Socket, reason string)) {
	n.mu.Lock()
	n.onDisconnect = append(n.onDisconnect, f)
	n.mu.Unlock()
}

// OnDisconnecting registers f to run once for each socket that is about
// to disconnect, with the reason, before OnDisconnect's: the socket is
// still in its rooms (Rooms), as socket.io's "disconnecting" event. It can
// no longer emit.
func (n *Namespace) OnDisconnecting(f func(so *Socket, reason string)) {
	n.mu.Lock()
	n.onDisconnecting = append(n.onDisconnecting, f)
	n.mu.Unlock()
}

// On registers the handler of an event, replacing any earlier one.
// Events without a handler are dropped.
func (n *Namespace) On(event string, h Handler) {
	n.mu.Lock()
	n.handlers[event] = h
	n.mu.Unlock()
}

// Emit sends an event to every socket of the namespace.
func (n *Namespace) Emit(event string, args ...any) error {
	return n.Broadcast(BroadcastOptions{}, event, args...)
}

// Broadcast sends an event to the sockets opts chooses.
func (n *Namespace) Broadcast(opts BroadcastOptions, event string, args ...any) error {
	if n.match != nil { // a parent: to every child
		for _, c := range n.childNamespaces() {
			if err := c.Broadcast(opts, event, args...); err != nil {
				return err
			}
		}
		return nil
	}
	// With recovery on, a packet that is not volatile carries its offset
	// and is kept for the sockets of its rooms that lost their transport
	// (socket.io-adapter's SessionAwareAdapter).
	keep := n.s.recovery != nil && !opts.Volatile
	if keep {
		args = n.s.withOffset(args)
	}
	enc, err := encodeEvent(n.name, event, args, nil)
	if err != nil {
		return err
	}
	enc.Volatile, enc.NoCompress = opts.Volatile, opts.NoCompress
	n.adapter.Broadcast(enc, opts)
	if keep {
		n.s.recovery.store.Record(n.name, opts, enc)
	}
	return nil
}

// Len returns the number of sockets connected to the namespace here.
func (n *Namespace) Len() int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return len(n.sockets)
}

func (n *Namespace) deliver(id SocketID, p *Encoded) {
	n.mu.RLock()
	so := n.sockets[id]
	n.mu.RUnlock()
	if so != nil {
		so.writeEvent(p)
	}
}

// Socket is one client connected to one namespace.
type Socket struct {
	id   SocketID
	ns   *Namespace
	c    *client
	auth json.RawMessage
	made time.Time // Handshake's Time

	// pid is the socket's private ID for recovery ("" when off);
	// recovered tells that it was recovered (recovery.go).
	pid       string
	recovered bool

	mu   sync.Mutex
	acks map[uint64]func(Args) // the client's acks expected, by ack id
	done chan struct{}         // closed on disconnect
	gone bool
	data any // SetData's

	fns     []EventMiddleware // Use's
	onError []func(error)
	anyIn   []*anyListener // OnAny's, replaced (not changed) on each change
	anyOut  []*anyListener // OnAnyOutgoing's, likewise

	// The rate limits (ratelimit.go): limit and the drops are touched
	// only on the session's Message goroutine; user is set before the
	// socket is reachable.
	limit      *bucket    // nil: no limit per socket
	user       *userLimit // nil: no user, or no limit per user
	drops      int        // dropped since dropsSince
	dropsSince time.Time
}

// ID returns the socket's ID (socket.id on the client).
func (so *Socket) ID() SocketID { return so.id }

// Namespace returns the socket's namespace.
func (so *Socket) Namespace() *Namespace { return so.ns }

// Auth returns the client's auth option as JSON ({} when it sent none).
func (so *Socket) Auth() json.RawMessage { return so.auth }

// Session returns the socket's Express session as it is now: its ID, its
// user and its record, first as the gate accepted them at the handshake,
// then as each revalidation loaded them (after every change the store
// reports, and after SaveSession), as long as the session is still the
// socket's user's (liveness.Hold.Session). Treat it as read-only. Nil on
// an Insecure server.
func (so *Socket) Session() *auth.Session {
	if h := so.c.e.Hold(); h != nil {
		if cur := h.Session(); cur != nil {
			return cur
		}
	}
	if a := so.c.e.Auth(); a != nil && a.Record != nil {
		return a
	}
	return nil
}

// SaveSession changes the socket's Express session as an Express route
// would and writes it to the store (liveness.Hold.Save: reloaded, judged,
// changed, written unless someone wrote meanwhile, never recreated; a
// session destroyed meanwhile fails with connectsid.ErrNoSession and the
// socket ends logged-out). On an Insecure server it fails with
// liveness.ErrNotHeld.
func (so *Socket) SaveSession(ctx context.Context, change func(*connectsid.Session) error) error {
	h := so.c.e.Hold()
	if h == nil {
		return liveness.ErrNotHeld
	}
	return h.Save(ctx, change)
}

// User returns the session's user, or "".
func (so *Socket) User() string {
	if a := so.c.e.Auth(); a != nil {
		return a.User
	}
	return ""
}

// Connected reports whether the socket is still connected.
func (so *Socket) Connected() bool {
	so.mu.Lock()
	defer so.mu.Unlock()
	return !so.gone
}

// Emit sends an event to the client without waiting. Each argument is
// encoded with encoding/json, except a []byte, which travels as a binary
// attachment (an ArrayBuffer on the browser, a Buffer on Node), and a
// json.RawMessage, sent as it is.
//
// With recovery on (Config.Recovery) the event carries its offset as a
// last argument, as socket.io 4.8's socket.emit does.
func (so *Socket) Emit(event string, args ...any) error {
	return Emitter{so: so}.Emit(event, args...)
}

// Compress returns an Emitter whose Emit sends with socket.io's compress
// flag: socket.compress(false).emit(…) is so.Compress(false).Emit(…).
// With false the event goes uncompressed even where permessage-deflate
// was negotiated (Config.PerMessageDeflate); Emit is Compress(true).Emit.
func (so *Socket) Compress(compress bool) Emitter {
	return Emitter{so: so, noCompress: !compress}
}

// Emitter is a socket with the flags of its next emit (Socket.Compress).
type Emitter struct {
	so         *Socket
	noCompress bool
}

// Emit sends an event as Socket.Emit does, with the Emitter's flags.
func (em Emitter) Emit(event string, args ...any) error {
	enc, err := encodeEvent(em.so.ns.name, event, em.so.ns.s.withOffset(args), nil)
	if err != nil {
		return err
	}
	enc.NoCompress = em.noCompress
	if !em.so.writeEvent(enc) {
		return ErrDisconnected
	}
	return nil
}

// EmitVolatile is Emit for an event that may be lost
// (socket.volatile.emit): when the socket's transport cannot take it at
// once (a long-polling client without a GET waiting, a WebSocket with
// messages still queued) it is dropped, without an error.
func (so *Socket) EmitVolatile(event string, args ...any) error {
	enc, err := encodeEvent(so.ns.name, event, args, nil)
	if err != nil {
		return err
	}
	enc.Volatile = true
	if !so.writeEvent(enc) {
		return ErrDisconnected
	}
	return nil
}

// EmitWithAck sends an event and waits for the client's acknowledgement,
// until ctx ends (DefaultAckTimeout when ctx has no deadline).
func (so *Socket) EmitWithAck(ctx context.Context, event string, args ...any) (Args, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultAckTimeout)
		defer cancel()
	}
	ch := make(chan Args, 1)
	id := so.ns.ackIDs.Add(1) - 1
	if !so.expectAck(id, func(a Args) { ch <- a }) {
		return Args{}, ErrDisconnected
	}
	defer so.forgetAck(id)
	enc, err := encodeEvent(so.ns.name, event, args, &id)
	if err != nil {
		return Args{}, err
	}
	if !so.writeEvent(enc) {
		return Args{}, ErrDisconnected
	}
	select {
	case a := <-ch:
		return a, nil
	case <-so.done:
		return Args{}, ErrDisconnected
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return Args{}, ErrAckTimeout
		}
		return Args{}, ctx.Err()
	}
}

// expectAck registers f for the client's ack of packet id, unless the
// socket is gone. f runs at most once, on the socket's reading goroutine.
func (so *Socket) expectAck(id uint64, f func(Args)) bool {
	so.mu.Lock()
	defer so.mu.Unlock()
	if so.gone {
		return false
	}
	if so.acks == nil {
		so.acks = make(map[uint64]func(Args))
	}
	so.acks[id] = f
	return true
}

// forgetAck drops the registration of ack id: a late ack is ignored.
func (so *Socket) forgetAck(id uint64) {
	so.mu.Lock()
	delete(so.acks, id)
	so.mu.Unlock()
}

// Join puts the socket in rooms.
func (so *Socket) Join(rooms ...Room) { so.ns.adapter.AddAll(so.id, rooms) }

// Leave takes the socket out of room.
func (so *Socket) Leave(room Room) { so.ns.adapter.Del(so.id, room) }

// Rooms returns the rooms the socket is in, its own ID's included.
func (so *Socket) Rooms() []Room { return so.ns.adapter.SocketRooms(so.id) }

// Broadcast sends an event to the sockets opts chooses, except this one
// (socket.broadcast).
func (so *Socket) Broadcast(opts BroadcastOptions, event string, args ...any) error {
	opts.Except = append(opts.Except[:len(opts.Except):len(opts.Except)], Room(so.id))
	return so.ns.Broadcast(opts, event, args...)
}

// Disconnect disconnects the socket from its namespace: the client sees
// "io server disconnect" and does not reconnect.
func (so *Socket) Disconnect() {
	if so.c.send(disconnectPacket(so.ns.name)) {
		so.c.remove(so, ReasonServerDisconnect)
	}
}

// disconnectPacket is the server's DISCONNECT of namespace nsp.
func disconnectPacket(nsp string) *Encoded {
	return &Encoded{Text: parser.Append(nil, parser.Packet{Type: parser.Disconnect, Namespace: nsp})}
}

// write sends p, and reports false when the socket is gone or its
// session refused it; a volatile p the transport cannot take now is
// dropped, and reported sent.
func (so *Socket) write(p *Encoded) bool {
	so.mu.Lock()
	gone := so.gone
	so.mu.Unlock()
	if gone {
		return false
	}
	return so.deliver(p)
}

// deliver sends p to the socket's client; a volatile packet is dropped
// when the transport cannot take it at once.
func (so *Socket) deliver(p *Encoded) bool {
	if p.Volatile && !so.c.e.Writable() {
		return true
	}
	return so.c.send(p)
}

// event runs the handler of an event from the client.
func (so *Socket) event(p parser.Packet, bins [][]byte) {
	var name string
	if json.Unmarshal(p.Args[0], &name) != nil {
		return // a number as the event name: no handler can have it
	}
	args := Args{raw: p.Args[1:], bin: bins}
	so.notifyAny(&so.anyIn, name, args)
	if !so.runEventMiddleware(name, args) {
		return
	}
	h := so.ns.handler(name)
	if h == nil {
		return
	}
	var ack AckFunc
	if p.HasID {
		id := p.ID
		var once sync.Once
		ack = func(args ...any) error {
			err := ErrAckTwice
			once.Do(func() {
				var enc *Encoded
				if enc, err = encodeAck(so.ns.name, id, args); err == nil && !so.write(enc) {
					err = ErrDisconnected
				}
			})
			return err
		}
	}
	h(so, args, ack)
}

// acked delivers the client's acknowledgement of an EmitWithAck or a
// broadcast with acks.
func (so *Socket) acked(p parser.Packet, bins [][]byte) {
	if !p.HasID {
		return
	}
	so.mu.Lock()
	f := so.acks[p.ID]
	delete(so.acks, p.ID)
	so.mu.Unlock()
	if f != nil {
		f(Args{raw: p.Args, bin: bins})
	}
}

// Encoding ---------------------------------------------------------------------

func encodeEvent(nsp, event string, args []any, id *uint64) (*Encoded, error) {
	name, _ := json.Marshal(event)
	return encode(nsp, parser.Event, append([]any{json.RawMessage(name)}, args...), id)
}

func encodeAck(nsp string, id uint64, args []any) (*Encoded, error) {
	return encode(nsp, parser.Ack, args, &id)
}

// encode builds the packet of args: []byte ones become attachments.
func encode(nsp string, t parser.Type, args []any, id *uint64) (*Encoded, error) {
	elems := make([]json.RawMessage, len(args))
	var bins [][]byte
	for i, a := range args {
		switch v := a.(type) {
		case []byte:
			elems[i] = parser.Placeholder(len(bins))
			bins = append(bins, v)
		case json.RawMessage:
			if v == nil {
				v = json.RawMessage("null")
			}
			elems[i] = v
		default:
			b, err := json.Marshal(v)
			if err != nil {
				return nil, err
			}
			elems[i] = b
		}
	}
	p := parser.Packet{Type: t, Namespace: nsp, Data: parser.EncodeArray(nil, elems), Attachments: len(bins)}
	if len(bins) > 0 {
		p.Type += parser.BinaryEvent - parser.Event // EVENT → BINARY_EVENT, ACK → BINARY_ACK
	}
	if id != nil {
		p.ID, p.HasID = *id, true
	}
	return &Encoded{Text: parser.Append(nil, p), Attachments: bins}, nil
}
