package redisadapter

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/expressbridge/expressbridge/adapter/redisadapter/wire"
	"github.com/expressbridge/expressbridge/socketio"
)

// Adapter is a namespace's rooms on this instance (a socketio.MemoryAdapter)
// with Redis layered on top, as @socket.io/redis-adapter's RedisAdapter
// subclasses socket.io-adapter's Adapter: Broadcast delivers locally, then
// publishes [uid, packet, opts] on wire.BroadcastChannel
// (wire.RoomChannel for exactly one room); broadcasts of other servers (another uid: Go
// instances, Node servers on createAdapter, the emitter) are delivered
// locally, each once; its own are ignored. It answers the requests of
// other servers (socketsJoin, socketsLeave, disconnectSockets,
// fetchSockets, allRooms, serverSideEmit, broadcasts with acks) and makes
// them for socketio.Namespace's methods of those names.
//
// Delivery to other instances is at most once (Redis Pub/Sub). With
// BusConfig.Sharded it speaks createShardedAdapter's messages instead, on
// wire.ShardedChannel and wire.ShardedResponseChannel; Go publishes every
// broadcast on wire.ShardedChannel (Node's subscriptionMode "static"), so
// Node servers in the default "dynamic" mode must not be relied on to
// reach Go sockets with broadcasts to exactly one room (they publish those
// on a room channel Go does not subscribe to).
//
// Acknowledgements: a serverSideEmit of another server that wants an ack
// (io.serverSideEmit with a callback, serverSideEmitWithAck) hands the Go
// handler an ack whose first call publishes SERVER_SIDE_EMIT's response,
// as the adapter's callback does; socketio.Namespace.ServerSideEmitWithAck
// asks the other servers for theirs, as serverSideEmitWithAck. A
// broadcast with acks of another server (io.timeout(…).emit(…, callback))
// reaches the local sockets with an ack id (socketio.Namespace's
// LocalBroadcastWithAck); Go answers BROADCAST_CLIENT_COUNT with the number
// of sockets reached, then one BROADCAST_ACK per socket that acknowledges
// within the broadcast's timeout, as the adapter does; and
// socketio.Namespace.BroadcastWithAck publishes Go's own (BROADCAST with a
// requestId and the timeout flag) and gathers the other servers' counts
// and acks until its timeout. An ack that crosses instances carries one
// value (the client's first ack argument), as with Node; answers lost in
// Redis leave the asker waiting until its timeout (at most once, as every
// message here).
type Adapter struct {
	bus   *Bus
	uid   string
	local *socketio.MemoryAdapter

	// Set by Bind.
	ns                                          socketio.Local
	nsp                                         string
	channel, reqChannel, resChannel, myResponse string

	mu      sync.Mutex
	pending map[string]*pending    // requests waiting for answers, by requestId
	acking  map[string]*ackRequest // broadcasts with acks waiting for them, by requestId
}

// ackRequest is a broadcast with acks of this adapter, as the adapter's
// ackRequests: the callbacks its answers go to until its timeout.
type ackRequest struct {
	count func(int)
	ack   func(socketio.Args)
}

// pending is a request of this adapter waiting for answers.
type pending struct {
	kind    wire.RequestType // wire.RequestRemoteFetch or wire.RequestServerSideEmit
	want    int64            // answers expected
	got     int64
	sockets []socketio.SocketInfo // fetchSockets' answers
	answers []any                 // serverSideEmit's answers
	done    chan struct{}
}

// NewAdapter returns the function socketio.Config.NewAdapter takes: each
// namespace gets an Adapter on the bus, subscribed once the server binds
// it to its namespace (socketio.Server.Of).
func (b *Bus) NewAdapter(deliver func(socketio.SocketID, *socketio.Encoded)) socketio.Adapter {
	return &Adapter{bus: b, uid: newUID(), local: socketio.NewMemoryAdapter(deliver),
		pending: make(map[string]*pending), acking: make(map[string]*ackRequest)}
}

// Bind implements socketio.NamespaceBinder: it subscribes to the
// namespace's channels and waits (at most RequestsTimeout) for Redis to
// confirm them. When Redis does not answer, subscribing goes on in the
// background and broadcasts stay local until it does.
func (a *Adapter) Bind(l socketio.Local) {
	a.ns, a.nsp = l, l.Name()
	key := a.bus.cfg.Key
	ctx, cancel := context.WithTimeout(context.Background(), a.bus.cfg.RequestsTimeout)
	defer cancel()
	var err error
	if a.bus.cfg.Sharded {
		a.channel = wire.ShardedChannel(key, a.nsp)
		a.myResponse = wire.ShardedResponseChannel(key, a.nsp, a.uid)
		// One subscription per channel: in a Cluster each lives on the
		// master of its slot.
		for _, ch := range []string{a.channel, a.myResponse} {
			if e := a.bus.subscribe(ctx, &subscription{channels: []string{ch}, handle: a.onSharded}); e != nil {
				err = e
			}
		}
	} else {
		a.channel = wire.BroadcastChannel(key, a.nsp)
		a.reqChannel = wire.RequestChannel(key, a.nsp)
		a.resChannel = wire.ResponseChannel(key, a.nsp)
		a.myResponse = wire.SpecificResponseChannel(key, a.nsp, a.uid)
		// Answers on a connection of their own, as the sharded adapter
		// has them: a handler of a request (a server-side event) may
		// itself wait for answers, which the requests' reader could not
		// read while it waits. Servers are counted on the request channel
		// only, so the count is unchanged.
		err = errors.Join(
			a.bus.subscribe(ctx, &subscription{
				patterns: []string{a.channel + "*"},
				channels: []string{a.reqChannel},
				handle:   a.onClassic,
			}),
			a.bus.subscribe(ctx, &subscription{channels: []string{a.resChannel, a.myResponse}, handle: a.onClassic}))
	}
	if err != nil {
		a.bus.log.Warn("redis adapter: Redis has not confirmed the subscriptions yet; broadcasts stay local until it does",
			"nsp", a.nsp, "err", err)
	}
}

// AddAll implements socketio.Adapter.
func (a *Adapter) AddAll(id socketio.SocketID, rooms []socketio.Room) { a.local.AddAll(id, rooms) }

// Del implements socketio.Adapter.
func (a *Adapter) Del(id socketio.SocketID, room socketio.Room) { a.local.Del(id, room) }

// DelAll implements socketio.Adapter.
func (a *Adapter) DelAll(id socketio.SocketID) { a.local.DelAll(id) }

// SocketRooms implements socketio.Adapter.
func (a *Adapter) SocketRooms(id socketio.SocketID) []socketio.Room { return a.local.SocketRooms(id) }

// Sockets implements socketio.ClusterAdapter: the local sockets only.
func (a *Adapter) Sockets(opts socketio.BroadcastOptions) []socketio.SocketID {
	return a.local.Sockets(opts)
}

// Broadcast implements socketio.Adapter: p goes to the local sockets opts
// chooses, then is published for every other instance (at most once,
// bounded by PublishTimeout; a failure is logged).
func (a *Adapter) Broadcast(p *socketio.Encoded, opts socketio.BroadcastOptions) {
	a.local.Broadcast(p, opts)
	if opts.Local || a.bus.closed() || a.nsp == "" {
		return
	}
	pkt, err := packetOf(p, a.nsp)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), a.bus.cfg.PublishTimeout)
		defer cancel()
		err = a.publishBroadcast(ctx, pkt, optionsOf(opts))
	}
	if err != nil {
		a.bus.log.Warn("redis adapter: broadcast not published to the other instances", "nsp", a.nsp, "err", err)
	}
}

func (a *Adapter) publishBroadcast(ctx context.Context, pkt wire.Packet, o wire.Options) error {
	if a.bus.cfg.Sharded {
		return a.publishCluster(ctx, wire.ClusterBroadcast, map[string]any{"packet": pkt.Map(), "opts": o.Map()})
	}
	b := &wire.Broadcast{UID: a.uid, Packet: pkt, Opts: o}
	payload, err := b.Encode()
	if err != nil {
		return err
	}
	return a.bus.publish(ctx, b.Channel(a.bus.cfg.Key), payload)
}

// Requests made by this instance ----------------------------------------

// RemoteSocketsJoin implements socketio.ClusterAdapter (REMOTE_JOIN).
func (a *Adapter) RemoteSocketsJoin(ctx context.Context, opts socketio.BroadcastOptions, rooms []socketio.Room) error {
	return a.request(ctx, wire.RequestRemoteJoin, wire.ClusterSocketsJoin, opts, func(r *wire.Request, d map[string]any) {
		r.Rooms = roomStrings(rooms)
		d["rooms"] = wire.StringValues(r.Rooms)
	})
}

// RemoteSocketsLeave implements socketio.ClusterAdapter (REMOTE_LEAVE).
func (a *Adapter) RemoteSocketsLeave(ctx context.Context, opts socketio.BroadcastOptions, rooms []socketio.Room) error {
	return a.request(ctx, wire.RequestRemoteLeave, wire.ClusterSocketsLeave, opts, func(r *wire.Request, d map[string]any) {
		r.Rooms = roomStrings(rooms)
		d["rooms"] = wire.StringValues(r.Rooms)
	})
}

// RemoteDisconnectSockets implements socketio.ClusterAdapter (REMOTE_DISCONNECT).
func (a *Adapter) RemoteDisconnectSockets(ctx context.Context, opts socketio.BroadcastOptions, close bool) error {
	return a.request(ctx, wire.RequestRemoteDisconnect, wire.ClusterDisconnectSockets, opts, func(r *wire.Request, d map[string]any) {
		r.Close = close
		d["close"] = close
	})
}

// RemoteServerSideEmit implements socketio.ClusterAdapter (SERVER_SIDE_EMIT,
// without an ack).
func (a *Adapter) RemoteServerSideEmit(ctx context.Context, event string, args []any) error {
	data := append([]any{event}, args...)
	if a.bus.cfg.Sharded {
		return a.publishCluster(ctx, wire.ClusterServerSideEmit, map[string]any{"packet": data})
	}
	payload, err := (&wire.Request{UID: a.uid, Type: wire.RequestServerSideEmit, Data: jsonValues(data)}).Encode()
	if err != nil {
		return err
	}
	return a.bus.publish(ctx, a.reqChannel, payload)
}

// request publishes a request that nobody answers.
func (a *Adapter) request(ctx context.Context, t wire.RequestType, ct wire.ClusterMessageType, opts socketio.BroadcastOptions,
	fill func(*wire.Request, map[string]any)) error {
	o := optionsOf(opts)
	if a.bus.cfg.Sharded {
		d := map[string]any{"opts": o.Map()}
		fill(&wire.Request{}, d)
		return a.publishCluster(ctx, ct, d)
	}
	r := &wire.Request{UID: a.uid, Type: t, Opts: &o}
	fill(r, map[string]any{})
	payload, err := r.Encode()
	if err != nil {
		return err
	}
	return a.bus.publish(ctx, a.reqChannel, payload)
}

// RemoteFetchSockets implements socketio.ClusterAdapter (REMOTE_FETCH):
// it waits for one answer from each other server until ctx ends (see ask).
func (a *Adapter) RemoteFetchSockets(ctx context.Context, opts socketio.BroadcastOptions) ([]socketio.SocketInfo, error) {
	o := optionsOf(opts)
	p, err := a.ask(ctx, wire.RequestRemoteFetch, func(ctx context.Context, id string) error {
		if a.bus.cfg.Sharded {
			return a.publishCluster(ctx, wire.ClusterFetchSockets, map[string]any{"opts": o.Map(), "requestId": id})
		}
		payload, err := (&wire.Request{UID: a.uid, RequestID: id, Type: wire.RequestRemoteFetch, Opts: &o}).Encode()
		if err != nil {
			return err
		}
		return a.bus.publish(ctx, a.reqChannel, payload)
	})
	if p == nil {
		return nil, err
	}
	return p.sockets, err
}

// RemoteServerSideEmitWithAck implements socketio.ClusterAdapter
// (SERVER_SIDE_EMIT with a requestId, as serverSideEmitWithAck): it waits
// for one answer from each other server until ctx ends (see ask), and
// returns the values they acknowledged with, in the order they came.
func (a *Adapter) RemoteServerSideEmitWithAck(ctx context.Context, event string, args []any) ([]any, error) {
	data := jsonValues(append([]any{event}, args...))
	p, err := a.ask(ctx, wire.RequestServerSideEmit, func(ctx context.Context, id string) error {
		if a.bus.cfg.Sharded {
			return a.publishCluster(ctx, wire.ClusterServerSideEmit, map[string]any{"requestId": id, "packet": data})
		}
		payload, err := (&wire.Request{UID: a.uid, RequestID: id, Type: wire.RequestServerSideEmit, Data: data}).Encode()
		if err != nil {
			return err
		}
		return a.bus.publish(ctx, a.reqChannel, payload)
	})
	if p == nil {
		return nil, err
	}
	return p.answers, err
}

// RemoteBroadcastWithAck implements socketio.ClusterAdapter (BROADCAST
// with a requestId, as the adapter's broadcastWithAck): it counts the
// other servers as ask does, publishes the request with the timeout flag
// (ms), and hands each BROADCAST_CLIENT_COUNT to count and each
// BROADCAST_ACK to ack (its value as the one argument) until timeout has
// passed, on the Pub/Sub goroutine.
func (a *Adapter) RemoteBroadcastWithAck(ctx context.Context, enc *socketio.Encoded, opts socketio.BroadcastOptions,
	timeout time.Duration, count func(int), ack func(socketio.Args)) (int, error) {
	pkt, err := packetOf(enc, a.nsp)
	if err != nil {
		return 0, err
	}
	n, err := a.bus.serverCount(ctx, a.countChannel())
	if err != nil {
		return 0, fmt.Errorf("redisadapter: counting servers: %w", err)
	}
	if n <= 1 {
		return 0, nil
	}
	id := newUID()
	forget := func() {
		a.mu.Lock()
		delete(a.acking, id)
		a.mu.Unlock()
	}
	a.mu.Lock()
	a.acking[id] = &ackRequest{count: count, ack: ack}
	a.mu.Unlock()
	stop := time.AfterFunc(timeout, forget)
	o := optionsOf(opts)
	ms := timeout.Milliseconds()
	o.Flags.Timeout = &ms
	if a.bus.cfg.Sharded {
		err = a.publishCluster(ctx, wire.ClusterBroadcast, map[string]any{"packet": pkt.Map(), "requestId": id, "opts": o.Map()})
	} else {
		var payload []byte
		if payload, err = (&wire.Request{UID: a.uid, RequestID: id, Type: wire.RequestBroadcast, Packet: &pkt, Opts: &o}).Encode(); err == nil {
			err = a.bus.publish(ctx, a.reqChannel, payload)
		}
	}
	if err != nil {
		// Counted as no other server: answers that come anyway (the
		// publish may have reached Redis) must not hold the caller.
		stop.Stop()
		forget()
		return 0, err
	}
	return int(n - 1), nil
}

// broadcastAnswered hands an answer to a broadcast with acks of this
// adapter to its callback: a client count, or (isAck) one client's ack
// value. Answers to no such broadcast, or after its timeout, are dropped.
func (a *Adapter) broadcastAnswered(id string, isAck bool, clientCount int64, v any) {
	a.mu.Lock()
	r := a.acking[id]
	a.mu.Unlock()
	switch {
	case r == nil:
	case !isAck:
		r.count(int(clientCount))
	default:
		r.ack(argsOf(v))
	}
}

// countChannel is the channel whose subscribers are the servers: the
// request channel (PUBSUB NUMSUB), or the sharded namespace's channel
// (SHARDNUMSUB), as the adapters count them.
func (a *Adapter) countChannel() string {
	if a.bus.cfg.Sharded {
		return a.channel
	}
	return a.reqChannel
}

// ask makes a request that every other server answers once: it counts the
// servers as the adapter does (PUBSUB NUMSUB of the request channel, or
// SHARDNUMSUB of the namespace's channel, this one included), registers a
// request of kind under a new requestId, publishes it with publish, and
// waits until each other server has answered or ctx ends
// (RequestsTimeout when ctx has no deadline). It returns the request,
// whose answers are no longer written once ask returns (nil when there is
// no other server or nothing was published), and, when ctx ended first,
// an error wrapping ctx's.
func (a *Adapter) ask(ctx context.Context, kind wire.RequestType, publish func(context.Context, string) error) (*pending, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.bus.cfg.RequestsTimeout)
		defer cancel()
	}
	n, err := a.bus.serverCount(ctx, a.countChannel())
	if err != nil {
		return nil, fmt.Errorf("redisadapter: counting servers: %w", err)
	}
	if n <= 1 {
		return nil, nil
	}
	id := newUID()
	p := &pending{kind: kind, want: n - 1, done: make(chan struct{})}
	a.mu.Lock()
	a.pending[id] = p
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		delete(a.pending, id)
		a.mu.Unlock()
	}()
	if err := publish(ctx, id); err != nil {
		return nil, err
	}
	select {
	case <-p.done:
		return p, nil
	case <-ctx.Done():
		a.mu.Lock()
		defer a.mu.Unlock()
		return p, fmt.Errorf("redisadapter: %s: %d of %d servers answered: %w", kindName(kind), p.got, p.want, ctx.Err())
	}
}

// kindName names a request in errors as socket.io names the operation.
func kindName(kind wire.RequestType) string {
	if kind == wire.RequestServerSideEmit {
		return "serverSideEmit"
	}
	return "fetchSockets"
}

// answered records one server's answer to a pending request of kind: add
// adds it, under a.mu. Answers to no request, to one of another kind or
// beyond the count expected are dropped.
func (a *Adapter) answered(id string, kind wire.RequestType, add func(*pending)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.pending[id]
	if p == nil || p.kind != kind || p.got >= p.want {
		return
	}
	add(p)
	if p.got++; p.got == p.want {
		close(p.done)
	}
}

// publishCluster publishes a sharded adapter's message on the namespace's channel.
func (a *Adapter) publishCluster(ctx context.Context, t wire.ClusterMessageType, data map[string]any) error {
	payload, err := (&wire.ClusterMessage{Type: t, Data: data, UID: a.uid, Nsp: a.nsp}).Encode()
	if err != nil {
		return err
	}
	return a.bus.publish(ctx, a.channel, payload)
}

// Messages from other servers: classic -----------------------------------

func (a *Adapter) onClassic(channel string, payload []byte) {
	switch {
	case strings.HasPrefix(channel, a.resChannel):
		a.onResponse(payload)
	case channel == a.reqChannel:
		a.onRequest(payload)
	case strings.HasPrefix(channel, a.channel):
		b, err := wire.DecodeBroadcast(payload)
		if err != nil {
			a.bus.log.Debug("redis adapter: ignoring a malformed broadcast", "nsp", a.nsp, "err", err)
			return
		}
		if b.UID == a.uid || b.Packet.Nsp != a.nsp {
			return
		}
		a.deliver(&b.Packet, broadcastOptionsOf(&b.Opts))
	}
}

// deliver hands a broadcast of another server to the local sockets.
func (a *Adapter) deliver(p *wire.Packet, opts socketio.BroadcastOptions) {
	enc, err := encodedOf(p)
	if err != nil {
		a.bus.log.Debug("redis adapter: ignoring a broadcast Go cannot encode", "nsp", a.nsp, "err", err)
		return
	}
	enc.Volatile, enc.NoCompress = opts.Volatile, opts.NoCompress
	a.local.Broadcast(enc, opts)
}

// deliverWithAck hands a broadcast with acks of another server to the
// local sockets, each with an ack id, and answers as the adapter's
// broadcastWithAck callbacks do: count once with the number of sockets
// reached (0 when Go cannot encode the packet), then ack with the value of
// each socket's acknowledgement (ackValue), never before count has
// returned. Acknowledgements later than timeout are dropped.
func (a *Adapter) deliverWithAck(p *wire.Packet, opts socketio.BroadcastOptions, timeout time.Duration,
	count func(int64), ack func(any)) {
	counted := make(chan struct{})
	defer close(counted)
	n, err := a.ns.BroadcastWithAck(opts, timeout,
		func(id uint64) (*socketio.Encoded, error) { return encodedWithID(p, &id) },
		func(args socketio.Args) {
			<-counted // bounded: count publishes within PublishTimeout
			ack(ackValue(args))
		})
	if err != nil {
		a.bus.log.Debug("redis adapter: a broadcast with acks Go cannot encode reaches no Go socket", "nsp", a.nsp, "err", err)
	}
	count(int64(n))
}

// MaxRemoteAckTimeout bounds how long Go keeps waiting for its sockets'
// acks to a broadcast with acks of another server, whatever its timeout
// flag says: another server must not make Go hold a broadcast's sockets
// for hours.
const MaxRemoteAckTimeout = 5 * time.Minute

// ackTimeout is how long a broadcast with acks waits for them: its timeout
// flag (ms) up to MaxRemoteAckTimeout, or 0 for socketio's default when it
// has none.
func ackTimeout(o *wire.Options) time.Duration {
	if o == nil || o.Flags.Timeout == nil || *o.Flags.Timeout <= 0 {
		return 0
	}
	if ms := *o.Flags.Timeout; ms < MaxRemoteAckTimeout.Milliseconds() {
		return time.Duration(ms) * time.Millisecond
	}
	return MaxRemoteAckTimeout
}

// publishAnswer publishes what encode returns on channel, bounded by
// PublishTimeout, on the caller's goroutine (a socket's, for an ack); a
// failure is logged (the requester then times out, as when an answer is
// lost).
func (a *Adapter) publishAnswer(channel string, encode func() ([]byte, error)) {
	ctx, cancel := context.WithTimeout(a.bus.ctx, a.bus.cfg.PublishTimeout)
	defer cancel()
	b, err := encode()
	if err == nil {
		err = a.bus.publish(ctx, channel, b)
	}
	if err != nil && !a.bus.closed() {
		a.bus.log.Warn("redis adapter: ack not published", "nsp", a.nsp, "err", err)
	}
}

func (a *Adapter) onRequest(payload []byte) {
	r, err := wire.DecodeRequest(payload)
	if err != nil {
		a.bus.log.Debug("redis adapter: ignoring a malformed request", "nsp", a.nsp, "err", err)
		return
	}
	if r.UID == a.uid {
		return // its own: done locally already
	}
	opts := socketio.BroadcastOptions{}
	if r.Opts != nil {
		opts = broadcastOptionsOf(r.Opts)
	}
	ctx, cancel := context.WithTimeout(a.bus.ctx, a.bus.cfg.PublishTimeout)
	defer cancel()
	respond := func(kind wire.RequestType, resp *wire.Response) {
		resp.RequestID = r.RequestID
		b, err := resp.Encode(kind)
		if err == nil {
			err = a.bus.publish(ctx, a.resChannel, b)
		}
		if err != nil {
			a.bus.log.Warn("redis adapter: answer not published", "nsp", a.nsp, "err", err)
		}
	}
	switch r.Type {
	case wire.RequestSockets:
		var ids []string
		for _, id := range a.local.Sockets(socketio.BroadcastOptions{Rooms: toRooms(r.Rooms)}) {
			ids = append(ids, string(id))
		}
		respond(wire.RequestSockets, &wire.Response{SocketIDs: ids})
	case wire.RequestAllRooms:
		respond(wire.RequestAllRooms, &wire.Response{Rooms: roomStrings(a.local.Rooms())})
	case wire.RequestRemoteJoin, wire.RequestRemoteLeave, wire.RequestRemoteDisconnect:
		if r.Opts == nil { // an older adapter's one-socket form
			so := a.ns.Socket(socketio.SocketID(r.SID))
			if so == nil {
				return
			}
			opts = socketio.BroadcastOptions{Rooms: []socketio.Room{socketio.Room(r.SID)}}
			r.Rooms = []string{r.Room}
			defer respond(r.Type, &wire.Response{})
		}
		switch r.Type {
		case wire.RequestRemoteJoin:
			a.ns.SocketsJoin(opts, toRooms(r.Rooms))
		case wire.RequestRemoteLeave:
			a.ns.SocketsLeave(opts, toRooms(r.Rooms))
		default:
			a.ns.DisconnectSockets(opts, r.Close)
		}
	case wire.RequestRemoteFetch:
		respond(wire.RequestRemoteFetch, &wire.Response{Sockets: socketInfos(a.ns.FetchSockets(opts))})
	case wire.RequestServerSideEmit:
		if len(r.Data) > 0 {
			if ev, ok := r.Data[0].(string); ok {
				a.ns.DispatchServerSideEmit(ev, r.Data[1:], a.classicServerSideAck(r.RequestID))
			}
		}
	case wire.RequestBroadcast:
		if r.Packet == nil || r.Packet.Nsp != a.nsp {
			return
		}
		if r.RequestID == "" { // not the adapter's: nowhere to answer
			a.deliver(r.Packet, opts)
			return
		}
		a.deliverWithAck(r.Packet, opts, ackTimeout(r.Opts),
			func(n int64) { respond(wire.RequestBroadcastClientCount, &wire.Response{ClientCount: n}) },
			func(v any) {
				a.publishAnswer(a.resChannel, func() ([]byte, error) {
					return (&wire.Response{RequestID: r.RequestID, Packet: v}).Encode(wire.RequestBroadcastAck)
				})
			})
	}
}

func (a *Adapter) onResponse(payload []byte) {
	r, err := wire.DecodeResponse(payload)
	switch {
	case err != nil:
	case !r.HasType: // fetchSockets' answers carry no type
		a.answered(r.RequestID, wire.RequestRemoteFetch, func(p *pending) { p.sockets = appendSockets(p.sockets, r.Sockets) })
	case r.Type == wire.RequestServerSideEmit:
		a.answered(r.RequestID, wire.RequestServerSideEmit, func(p *pending) { p.answers = append(p.answers, r.Data) })
	case r.Type == wire.RequestBroadcastClientCount:
		a.broadcastAnswered(r.RequestID, false, r.ClientCount, nil)
	case r.Type == wire.RequestBroadcastAck:
		a.broadcastAnswered(r.RequestID, true, 0, r.Packet)
	}
}

func appendSockets(to []socketio.SocketInfo, sockets []wire.SocketInfo) []socketio.SocketInfo {
	for _, s := range sockets {
		to = append(to, socketInfoOf(s))
	}
	return to
}

// Messages from other servers: sharded -----------------------------------

func (a *Adapter) onSharded(channel string, payload []byte) {
	m, err := wire.DecodeClusterMessage(payload)
	if err != nil {
		a.bus.log.Debug("redis adapter: ignoring a malformed message", "nsp", a.nsp, "err", err)
		return
	}
	if m.UID == a.uid || m.Nsp != a.nsp {
		return
	}
	var opts socketio.BroadcastOptions
	oo, err := m.Opts()
	if err != nil {
		return
	}
	if oo != nil {
		opts = broadcastOptionsOf(oo)
	}
	reqID := m.RequestID()
	ctx, cancel := context.WithTimeout(a.bus.ctx, a.bus.cfg.PublishTimeout)
	defer cancel()
	respond := func(t wire.ClusterMessageType, data map[string]any) {
		data["requestId"] = reqID
		b, err := (&wire.ClusterMessage{Type: t, Data: data, UID: a.uid, Nsp: a.nsp}).Encode()
		if err == nil {
			err = a.bus.publish(ctx, wire.ShardedResponseChannel(a.bus.cfg.Key, a.nsp, m.UID), b)
		}
		if err != nil {
			a.bus.log.Warn("redis adapter: answer not published", "nsp", a.nsp, "err", err)
		}
	}
	rooms, _ := m.Rooms()
	switch m.Type {
	case wire.ClusterBroadcast:
		p, err := m.Packet()
		if err != nil || p.Nsp != a.nsp {
			return
		}
		if reqID == "" {
			a.deliver(p, opts)
			return
		}
		to := wire.ShardedResponseChannel(a.bus.cfg.Key, a.nsp, m.UID)
		a.deliverWithAck(p, opts, ackTimeout(oo),
			func(n int64) { respond(wire.ClusterBroadcastClientCount, map[string]any{"clientCount": n}) },
			func(v any) {
				a.publishAnswer(to, func() ([]byte, error) {
					return (&wire.ClusterMessage{Type: wire.ClusterBroadcastAck, UID: a.uid, Nsp: a.nsp,
						Data: map[string]any{"requestId": reqID, "packet": v}}).Encode()
				})
			})
	case wire.ClusterSocketsJoin:
		a.ns.SocketsJoin(opts, toRooms(rooms))
	case wire.ClusterSocketsLeave:
		a.ns.SocketsLeave(opts, toRooms(rooms))
	case wire.ClusterDisconnectSockets:
		closeConn, _ := m.Data["close"].(bool)
		a.ns.DisconnectSockets(opts, closeConn)
	case wire.ClusterFetchSockets:
		list := []any{}
		for _, s := range socketInfos(a.ns.FetchSockets(opts)) {
			list = append(list, s.Map())
		}
		respond(wire.ClusterFetchSocketsResponse, map[string]any{"sockets": list})
	case wire.ClusterServerSideEmit:
		if d, ok := m.Data["packet"].([]any); ok && len(d) > 0 {
			if ev, ok := d[0].(string); ok {
				a.ns.DispatchServerSideEmit(ev, d[1:], a.shardedServerSideAck(m.UID, reqID))
			}
		}
	case wire.ClusterFetchSocketsResponse:
		infos := m.Sockets()
		a.answered(reqID, wire.RequestRemoteFetch, func(p *pending) { p.sockets = appendSockets(p.sockets, infos) })
	case wire.ClusterBroadcastClientCount:
		a.broadcastAnswered(reqID, false, m.ClientCount(), nil)
	case wire.ClusterBroadcastAck:
		a.broadcastAnswered(reqID, true, 0, m.Data["packet"])
	case wire.ClusterServerSideEmitResponse:
		a.answered(reqID, wire.RequestServerSideEmit, func(p *pending) { p.answers = append(p.answers, m.Data["packet"]) })
	}
}

// Answers to a serverSideEmit with an ack ---------------------------------

// classicServerSideAck returns the ack of a classic SERVER_SIDE_EMIT
// request, nil when it has no requestId (no answer wanted). Its first call
// publishes {type: SERVER_SIDE_EMIT, requestId, data} as JSON on the
// response channel, as the adapter does (never the specific one).
func (a *Adapter) classicServerSideAck(requestID string) func(any) {
	if requestID == "" {
		return nil
	}
	return a.serverSideAck(func(ctx context.Context, v any) error {
		b, err := (&wire.Response{RequestID: requestID, Data: stringified(v)}).Encode(wire.RequestServerSideEmit)
		if err != nil {
			return err
		}
		return a.bus.publish(ctx, a.resChannel, b)
	})
}

// shardedServerSideAck returns the ack of a sharded SERVER_SIDE_EMIT
// message, nil when it has no requestId. Its first call publishes
// SERVER_SIDE_EMIT_RESPONSE {requestId, packet} to the sender's response
// channel, as cluster-adapter does (MessagePack when the value holds binary).
func (a *Adapter) shardedServerSideAck(senderUID, requestID string) func(any) {
	if requestID == "" {
		return nil
	}
	return a.serverSideAck(func(ctx context.Context, v any) error {
		b, err := (&wire.ClusterMessage{Type: wire.ClusterServerSideEmitResponse, UID: a.uid, Nsp: a.nsp,
			Data: map[string]any{"requestId": requestID, "packet": jsonValues([]any{v})[0]}}).Encode()
		if err != nil {
			return err
		}
		return a.bus.publish(ctx, wire.ShardedResponseChannel(a.bus.cfg.Key, a.nsp, senderUID), b)
	})
}

// serverSideAck makes send an ack: only the first call sends, bounded by
// PublishTimeout, on the caller's goroutine; a failure is logged (the
// sender then times out, as when an answer is lost).
func (a *Adapter) serverSideAck(send func(context.Context, any) error) func(any) {
	var once sync.Once
	return func(v any) {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(a.bus.ctx, a.bus.cfg.PublishTimeout)
			defer cancel()
			if err := send(ctx, v); err != nil && !a.bus.closed() {
				a.bus.log.Warn("redis adapter: serverSideEmit answer not published", "nsp", a.nsp, "err", err)
			}
		})
	}
}
