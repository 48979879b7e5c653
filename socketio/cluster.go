package socketio

import (
	"context"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Operations across instances ---------------------------------------------
//
// socket.io's io.in(room).socketsJoin(…), socketsLeave, disconnectSockets,
// fetchSockets and serverSideEmit: each acts on the sockets of this
// instance, and through a ClusterAdapter on those of every other instance
// (Node servers on @socket.io/redis-adapter included).

// ClusterAdapter is an Adapter that spans instances (Redis). Its Broadcast
// delivers locally and publishes to the other instances; the Remote…
// methods ask the other instances to do what the Namespace method of the
// same name has just done locally. Delivery to other instances is at most
// once (Redis Pub/Sub: an instance that is disconnected from Redis when a
// message is published never sees it).
type ClusterAdapter interface {
	Adapter
	// Sockets returns the local sockets opts chooses now.
	Sockets(opts BroadcastOptions) []SocketID
	// RemoteSocketsJoin asks every other instance to put its sockets
	// chosen by opts in rooms. It does not wait for them.
	RemoteSocketsJoin(ctx context.Context, opts BroadcastOptions, rooms []Room) error
	// RemoteSocketsLeave asks every other instance to take its sockets
	// chosen by opts out of rooms. It does not wait for them.
	RemoteSocketsLeave(ctx context.Context, opts BroadcastOptions, rooms []Room) error
	// RemoteDisconnectSockets asks every other instance to disconnect its
	// sockets chosen by opts (closing their connections when close). It
	// does not wait for them.
	RemoteDisconnectSockets(ctx context.Context, opts BroadcastOptions, close bool) error
	// RemoteFetchSockets returns the sockets opts chooses on every other
	// instance. It waits for as many answers as there are other instances,
	// until ctx ends; then it returns what it has and the context's error.
	RemoteFetchSockets(ctx context.Context, opts BroadcastOptions) ([]SocketInfo, error)
	// RemoteServerSideEmit hands event and args to the OnServerSideEmit
	// handlers of every other instance's namespace. It does not wait.
	RemoteServerSideEmit(ctx context.Context, event string, args []any) error
	// RemoteServerSideEmitWithAck hands event and args to the
	// OnServerSideEmit handlers of every other instance's namespace with an
	// ack, and returns the one value each answered with. It waits for as
	// many answers as there are other instances, until ctx ends; then it
	// returns what it has and an error wrapping the context's.
	RemoteServerSideEmitWithAck(ctx context.Context, event string, args []any) ([]any, error)
	// RemoteBroadcastWithAck asks every other instance to deliver p (an
	// EVENT without an ack id) to its sockets opts chooses, each with an
	// ack id, waiting for their acks for timeout. It returns how many
	// other instances will answer. Each then calls count once with the
	// number of its sockets reached, and ack once per acknowledgement
	// (carrying its first argument only), until timeout has passed.
	RemoteBroadcastWithAck(ctx context.Context, p *Encoded, opts BroadcastOptions, timeout time.Duration,
		count func(int), ack func(Args)) (int, error)
}

// NamespaceBinder is an Adapter that needs its namespace's local
// operations (to disconnect sockets, describe them, hand it server-side
// events when another instance asks): Of calls Bind once, right after
// NewAdapter, before any socket connects.
type NamespaceBinder interface {
	Bind(l Local)
}

// Local is what a ClusterAdapter runs on this instance when another one
// asks: the namespace's operations on its local sockets only. A Namespace's
// own methods reach the whole fleet; these are for the adapter beneath, and
// only it gets them (NamespaceBinder.Bind).
type Local struct{ n *Namespace }

// Name returns the namespace's name.
func (l Local) Name() string { return l.n.name }

// Socket returns the local socket id, or nil.
func (l Local) Socket(id SocketID) *Socket { return l.n.Socket(id) }

// SocketInfo describes a socket, as fetchSockets returns it: ID and rooms,
// and what socket.io calls its handshake and data. A Go socket's Data is
// the JSON form of what Socket.SetData set, as generic values
// (map[string]any, []any, float64, string, bool, nil), or {"user": USER}
// when nothing was set. Its Handshake is socket.io's but for the headers,
// left out (the cookie stays out of Redis).
type SocketInfo struct {
	ID        SocketID
	Rooms     []Room
	Handshake map[string]any
	Data      any
}

// ServerSideHandler handles an event another instance emitted with
// ServerSideEmit or ServerSideEmitWithAck (or io.serverSideEmit on a Node
// server): its arguments as the cluster adapter decoded them (see
// adapter/redisadapter for the types), and ack when the sender waits for
// an answer (nil otherwise). ack sends the sender one value (as Socket.Emit
// encodes an argument; with classic Pub/Sub as the Node adapter writes its
// answer, in JSON: a []byte as a Buffer's {"type":"Buffer","data":[…]});
// only its first call sends. It may be called from
// any goroutine, after the handler has returned; a sender that has stopped
// waiting ignores it. A handler that never calls ack leaves the sender
// waiting until its timeout, as with Node.
type ServerSideHandler func(args []any, ack func(any))

// clusterState is what a namespace keeps for operations across instances.
type clusterState struct {
	mu       sync.RWMutex
	handlers map[string]ServerSideHandler
}

// Socket returns the socket of that ID connected to this namespace here,
// or nil.
func (n *Namespace) Socket(id SocketID) *Socket {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.sockets[id]
}

// localSockets returns the local sockets opts chooses.
func (n *Namespace) localSockets(opts BroadcastOptions) []*Socket {
	var ids []SocketID
	switch a := n.adapter.(type) {
	case interface {
		Sockets(BroadcastOptions) []SocketID
	}:
		ids = a.Sockets(opts)
	default:
		return nil
	}
	out := make([]*Socket, 0, len(ids))
	for _, id := range ids {
		if so := n.Socket(id); so != nil {
			out = append(out, so)
		}
	}
	return out
}

func (n *Namespace) clusterAdapter() ClusterAdapter {
	ca, _ := n.adapter.(ClusterAdapter)
	return ca
}

// clusterFor is the ClusterAdapter an operation with opts asks the other
// instances through: none when opts is Local.
func (n *Namespace) clusterFor(opts BroadcastOptions) ClusterAdapter {
	if opts.Local {
		return nil
	}
	return n.clusterAdapter()
}

// SocketsJoin puts the sockets opts chooses in rooms, here and, with a
// ClusterAdapter, on every other instance (io.in(…).socketsJoin).
func (n *Namespace) SocketsJoin(ctx context.Context, opts BroadcastOptions, rooms ...Room) error {
	Local{n}.SocketsJoin(opts, rooms)
	if ca := n.clusterFor(opts); ca != nil {
		return ca.RemoteSocketsJoin(ctx, opts, rooms)
	}
	return nil
}

// SocketsLeave takes the sockets opts chooses out of rooms, here and on
// every other instance (io.in(…).socketsLeave).
func (n *Namespace) SocketsLeave(ctx context.Context, opts BroadcastOptions, rooms ...Room) error {
	Local{n}.SocketsLeave(opts, rooms)
	if ca := n.clusterFor(opts); ca != nil {
		return ca.RemoteSocketsLeave(ctx, opts, rooms)
	}
	return nil
}

// DisconnectSockets disconnects the sockets opts chooses, here and on
// every other instance (io.in(…).disconnectSockets(close)); with close
// their whole connection is closed, otherwise only the namespace.
func (n *Namespace) DisconnectSockets(ctx context.Context, opts BroadcastOptions, close bool) error {
	Local{n}.DisconnectSockets(opts, close)
	if ca := n.clusterFor(opts); ca != nil {
		return ca.RemoteDisconnectSockets(ctx, opts, close)
	}
	return nil
}

// FetchSockets returns the sockets opts chooses, here and on every other
// instance (io.in(…).fetchSockets()). Across instances it waits for every
// instance's answer until ctx ends (DefaultAckTimeout when ctx has no
// deadline), then returns what it has and the error.
func (n *Namespace) FetchSockets(ctx context.Context, opts BroadcastOptions) ([]SocketInfo, error) {
	out := Local{n}.FetchSockets(opts)
	ca := n.clusterFor(opts)
	if ca == nil {
		return out, nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultAckTimeout)
		defer cancel()
	}
	remote, err := ca.RemoteFetchSockets(ctx, opts)
	return append(out, remote...), err
}

// ServerSideEmit hands event and args to the OnServerSideEmit handlers of
// the other instances (not this one), as io.serverSideEmit does. Arguments
// are encoded as JSON values (a []byte as binary). Without a
// ClusterAdapter it does nothing.
func (n *Namespace) ServerSideEmit(ctx context.Context, event string, args ...any) error {
	if ca := n.clusterAdapter(); ca != nil {
		return ca.RemoteServerSideEmit(ctx, event, args)
	}
	return nil
}

// ServerSideEmitWithAck is ServerSideEmit with an ack, as
// io.serverSideEmitWithAck: it returns the one value each other instance's
// handler acknowledged with, once every other instance has answered. When
// ctx ends first (DefaultAckTimeout when ctx has no deadline) it returns
// the answers received and an error wrapping the context's
// (context.DeadlineExceeded on a timeout). Without a ClusterAdapter, or
// with no other instance, it returns no answers and no error.
func (n *Namespace) ServerSideEmitWithAck(ctx context.Context, event string, args ...any) ([]any, error) {
	ca := n.clusterAdapter()
	if ca == nil {
		return nil, nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultAckTimeout)
		defer cancel()
	}
	return ca.RemoteServerSideEmitWithAck(ctx, event, args)
}

// OnServerSideEmit registers the handler of a server-side event from
// another instance, replacing any earlier one. Handlers run on the
// adapter's goroutine: one that blocks holds back the next messages
// (answers to requests come on another, so a handler may ask the fleet,
// with ServerSideEmitWithAck or FetchSockets, and get them).
func (n *Namespace) OnServerSideEmit(event string, h ServerSideHandler) {
	cs := &n.cluster
	cs.mu.Lock()
	if cs.handlers == nil {
		cs.handlers = make(map[string]ServerSideHandler)
	}
	cs.handlers[event] = h
	cs.mu.Unlock()
}

// SocketsJoin puts the local sockets opts chooses in rooms.
func (l Local) SocketsJoin(opts BroadcastOptions, rooms []Room) {
	for _, so := range l.n.localSockets(opts) {
		so.Join(rooms...)
	}
}

// SocketsLeave takes the local sockets opts chooses out of rooms.
func (l Local) SocketsLeave(opts BroadcastOptions, rooms []Room) {
	for _, so := range l.n.localSockets(opts) {
		for _, r := range rooms {
			so.Leave(r)
		}
	}
}

// DisconnectSockets disconnects the local sockets opts chooses; with
// close, their connections too.
func (l Local) DisconnectSockets(opts BroadcastOptions, close bool) {
	for _, so := range l.n.localSockets(opts) {
		so.Disconnect()
		if close {
			so.c.e.CloseWith(websocket.CloseNormalClosure, "server-disconnect") // disconnectSockets(true); a metrics reason too
		}
	}
}

// BroadcastWithAck sends the local sockets opts chooses one packet
// with an ack id, as socket.io-adapter's broadcastWithAck does for a
// broadcast with acks of another instance: build gets the id (the
// namespace's next, the same for every socket) and returns the packet,
// an EVENT carrying it. It returns how many sockets the packet was
// written to; ack then runs once for each of them that acknowledges
// within timeout (DefaultAckTimeout when not positive), with the
// acknowledgement's arguments, on that socket's reading goroutine. A socket
// that disconnects or answers later is forgotten: ack never runs for it.
func (l Local) BroadcastWithAck(opts BroadcastOptions, timeout time.Duration,
	build func(id uint64) (*Encoded, error), ack func(Args)) (int, error) {
	n := l.n
	if timeout <= 0 {
		timeout = DefaultAckTimeout
	}
	id := n.ackIDs.Add(1) - 1
	p, err := build(id)
	if err != nil {
		return 0, err
	}
	p.NoCompress = opts.NoCompress
	var reached []*Socket
	for _, so := range n.localSockets(opts) {
		if !so.expectAck(id, ack) {
			continue
		}
		if !so.writeEvent(p) {
			so.forgetAck(id)
			continue
		}
		reached = append(reached, so)
	}
	if len(reached) > 0 {
		time.AfterFunc(timeout, func() {
			for _, so := range reached {
				so.forgetAck(id)
			}
		})
	}
	return len(reached), nil
}

// FetchSockets describes the local sockets opts chooses.
func (l Local) FetchSockets(opts BroadcastOptions) []SocketInfo {
	sockets := l.n.localSockets(opts)
	out := make([]SocketInfo, 0, len(sockets))
	for _, so := range sockets {
		out = append(out, SocketInfo{
			ID:        so.id,
			Rooms:     so.Rooms(),
			Handshake: so.fleetHandshake(),
			Data:      so.fleetData(),
		})
	}
	return out
}

// DispatchServerSideEmit runs the OnServerSideEmit handler of event with
// args and ack (nil when the sender wants no answer; the ClusterAdapter
// makes it send once): a ClusterAdapter calls it for each server-side
// event of another instance. Events without a handler are dropped, and
// their ack is never called.
func (l Local) DispatchServerSideEmit(event string, args []any, ack func(any)) {
	cs := &l.n.cluster
	cs.mu.RLock()
	h := cs.handlers[event]
	cs.mu.RUnlock()
	if h != nil {
		h(args, ack)
	}
}

// Rooms returns every room that has a socket here (sockets' own-ID rooms
// included), as allRooms answers another instance.
func (a *MemoryAdapter) Rooms() []Room {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := make([]Room, 0, len(a.rooms))
	for r := range a.rooms {
		out = append(out, r)
	}
	return out
}
