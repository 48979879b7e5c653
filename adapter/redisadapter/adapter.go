package redisadapter

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/expressbridge/expressbridge/socketio"
)

// Adapter is a namespace's rooms on this instance (a socketio.MemoryAdapter)
// with Redis layered on top, as @socket.io/redis-adapter's RedisAdapter
// subclasses socket.io-adapter's Adapter: Broadcast delivers locally, then
// publishes [uid, packet, opts] on BroadcastChannel (RoomChannel for
// exactly one room); broadcasts of other servers (another uid: Go
// instances, Node servers on createAdapter, the emitter) are delivered
// locally, each once; its own are ignored. It answers the requests of
// other servers (socketsJoin, socketsLeave, disconnectSockets,
// fetchSockets, allRooms, serverSideEmit, broadcasts with acks) and makes
// them for socketio.Namespace's methods of those names.
//
// Delivery to other instances is at most once (Redis Pub/Sub). With
// BusConfig.Sharded it speaks createShardedAdapter's messages instead, on
// ShardedChannel and ShardedResponseChannel; Go publishes every broadcast
// on ShardedChannel (Node's subscriptionMode "static"), so Node servers in
// the default "dynamic" mode must not be relied on to reach Go sockets with
// broadcasts to exactly one room (they publish those on a room channel Go
// does not subscribe to).
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
	ns                                          *socketio.Namespace
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
	kind    RequestType // RequestRemoteFetch or RequestServerSideEmit
	want    int64       // answers expected
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
func (a *Adapter) Bind(ns *socketio.Namespace) {
	a.ns, a.nsp = ns, ns.Name()
	key := a.bus.cfg.Key
	ctx, cancel := context.WithTimeout(context.Background(), a.bus.cfg.RequestsTimeout)
	defer cancel()
	var err error
	if a.bus.cfg.Sharded {
		a.channel = ShardedChannel(key, a.nsp)
		a.myResponse = ShardedResponseChannel(key, a.nsp, a.uid)
		// One subscription per channel: in a Cluster each lives on the
		// master of its slot.
		for _, ch := range []string{a.channel, a.myResponse} {
			if e := a.bus.subscribe(ctx, &subscription{channels: []string{ch}, handle: a.onSharded}); e != nil {
				err = e
			}
		}
	} else {
		a.channel = BroadcastChannel(key, a.nsp)
		a.reqChannel = RequestChannel(key, a.nsp)
		a.resChannel = ResponseChannel(key, a.nsp)
		a.myResponse = SpecificResponseChannel(key, a.nsp, a.uid)
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
	if a.bus.closed() || a.nsp == "" {
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

func (a *Adapter) publishBroadcast(ctx context.Context, pkt Packet, o Options) error {
	if a.bus.cfg.Sharded {
		return a.publishCluster(ctx, ClusterBroadcast, map[string]any{"packet": packetMap(&pkt), "opts": optionsMap(&o)})
	}
	b := &Broadcast{UID: a.uid, Packet: pkt, Opts: o}
	payload, err := b.Encode()
	if err != nil {
		return err
	}
	return a.bus.publish(ctx, b.Channel(a.bus.cfg.Key), payload)
}

// Requests made by this instance ----------------------------------------

// RemoteSocketsJoin implements socketio.ClusterAdapter (REMOTE_JOIN).
func (a *Adapter) RemoteSocketsJoin(ctx context.Context, opts socketio.BroadcastOptions, rooms []socketio.Room) error {
	return a.request(ctx, RequestRemoteJoin, ClusterSocketsJoin, opts, func(r *Request, d map[string]any) {
		r.Rooms = roomStrings(rooms)
		d["rooms"] = anyStrings(r.Rooms)
	})
}

// RemoteSocketsLeave implements socketio.ClusterAdapter (REMOTE_LEAVE).
func (a *Adapter) RemoteSocketsLeave(ctx context.Context, opts socketio.BroadcastOptions, rooms []socketio.Room) error {
	return a.request(ctx, RequestRemoteLeave, ClusterSocketsLeave, opts, func(r *Request, d map[string]any) {
		r.Rooms = roomStrings(rooms)
		d["rooms"] = anyStrings(r.Rooms)
	})
}

// RemoteDisconnectSockets implements socketio.ClusterAdapter (REMOTE_DISCONNECT).
func (a *Adapter) RemoteDisconnectSockets(ctx context.Context, opts socketio.BroadcastOptions, close bool) error {
	return a.request(ctx, RequestRemoteDisconnect, ClusterDisconnectSockets, opts, func(r *Request, d map[string]any) {
		r.Close = close
		d["close"] = close
	})
}

// RemoteServerSideEmit implements socketio.ClusterAdapter (SERVER_SIDE_EMIT,
// without an ack).
func (a *Adapter) RemoteServerSideEmit(ctx context.Context, event string, args []any) error {
	data := append([]any{event}, args...)
	if a.bus.cfg.Sharded {
		return a.publishCluster(ctx, ClusterServerSideEmit, map[string]any{"packet": data})
	}
	payload, err := (&Request{UID: a.uid, Type: RequestServerSideEmit, Data: jsonValues(data)}).Encode()
	if err != nil {
		return err
	}
	return a.bus.publish(ctx, a.reqChannel, payload)
}

// request publishes a request that nobody answers.
func (a *Adapter) request(ctx context.Context, t RequestType, ct ClusterMessageType, opts socketio.BroadcastOptions,
	fill func(*Request, map[string]any)) error {
	o := optionsOf(opts)
	if a.bus.cfg.Sharded {
		d := map[string]any{"opts": optionsMap(&o)}
		fill(&Request{}, d)
		return a.publishCluster(ctx, ct, d)
	}
	r := &Request{UID: a.uid, Type: t, Opts: &o}
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
	p, err := a.ask(ctx, RequestRemoteFetch, func(ctx context.Context, id string) error {
		if a.bus.cfg.Sharded {
			return a.publishCluster(ctx, ClusterFetchSockets, map[string]any{"opts": optionsMap(&o), "requestId": id})
		}
		payload, err := (&Request{UID: a.uid, RequestID: id, Type: RequestRemoteFetch, Opts: &o}).Encode()
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
	p, err := a.ask(ctx, RequestServerSideEmit, func(ctx context.Context, id string) error {
		if a.bus.cfg.Sharded {
			return a.publishCluster(ctx, ClusterServerSideEmit, map[string]any{"requestId": id, "packet": data})
		}
		payload, err := (&Request{UID: a.uid, RequestID: id, Type: RequestServerSideEmit, Data: data}).Encode()
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
		err = a.publishCluster(ctx, ClusterBroadcast, map[string]any{"packet": packetMap(&pkt), "requestId": id, "opts": optionsMap(&o)})
	} else {
		var payload []byte
		if payload, err = (&Request{UID: a.uid, RequestID: id, Type: RequestBroadcast, Packet: &pkt, Opts: &o}).Encode(); err == nil {
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
func (a *Adapter) ask(ctx context.Context, kind RequestType, publish func(context.Context, string) error) (*pending, error) {
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
func kindName(kind RequestType) string {
	if kind == RequestServerSideEmit {
		return "serverSideEmit"
	}
	return "fetchSockets"
}

// answered records one server's answer to a pending request of kind: add
// adds it, under a.mu. Answers to no request, to one of another kind or
// beyond the count expected are dropped.
func (a *Adapter) answered(id string, kind RequestType, add func(*pending)) {
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
func (a *Adapter) publishCluster(ctx context.Context, t ClusterMessageType, data map[string]any) error {
	payload, err := (&ClusterMessage{Type: t, Data: data, UID: a.uid, Nsp: a.nsp}).Encode()
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
		b, err := DecodeBroadcast(payload)
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
func (a *Adapter) deliver(p *Packet, opts socketio.BroadcastOptions) {
	enc, err := encodedOf(p)
	if err != nil {
		a.bus.log.Debug("redis adapter: ignoring a broadcast Go cannot encode", "nsp", a.nsp, "err", err)
		return
	}
	a.local.Broadcast(enc, opts)
}

// deliverWithAck hands a broadcast with acks of another server to the
// local sockets, each with an ack id, and answers as the adapter's
// broadcastWithAck callbacks do: count once with the number of sockets
// reached (0 when Go cannot encode the packet), then ack with the value of
// each socket's acknowledgement (ackValue), never before count has
// returned. Acknowledgements later than timeout are dropped.
func (a *Adapter) deliverWithAck(p *Packet, opts socketio.BroadcastOptions, timeout time.Duration,
	count func(int64), ack func(any)) {
	counted := make(chan struct{})
	defer close(counted)
	n, err := a.ns.LocalBroadcastWithAck(opts, timeout,
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
func ackTimeout(o *Options) time.Duration {
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
	r, err := DecodeRequest(payload)
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
	respond := func(kind RequestType, resp *Response) {
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
	case RequestSockets:
		var ids []string
		for _, id := range a.local.Sockets(socketio.BroadcastOptions{Rooms: toRooms(r.Rooms)}) {
			ids = append(ids, string(id))
		}
		respond(RequestSockets, &Response{SocketIDs: ids})
	case RequestAllRooms:
		respond(RequestAllRooms, &Response{Rooms: roomStrings(a.local.Rooms())})
	case RequestRemoteJoin, RequestRemoteLeave, RequestRemoteDisconnect:
		if r.Opts == nil { // an older adapter's one-socket form
			so := a.ns.Socket(socketio.SocketID(r.SID))
			if so == nil {
				return
			}
			opts = socketio.BroadcastOptions{Rooms: []socketio.Room{socketio.Room(r.SID)}}
			r.Rooms = []string{r.Room}
			defer respond(r.Type, &Response{})
		}
		switch r.Type {
		case RequestRemoteJoin:
			a.ns.LocalSocketsJoin(opts, toRooms(r.Rooms))
		case RequestRemoteLeave:
			a.ns.LocalSocketsLeave(opts, toRooms(r.Rooms))
		default:
			a.ns.LocalDisconnectSockets(opts, r.Close)
		}
	case RequestRemoteFetch:
		respond(RequestRemoteFetch, &Response{Sockets: socketInfos(a.ns.LocalFetchSockets(opts))})
	case RequestServerSideEmit:
		if len(r.Data) > 0 {
			if ev, ok := r.Data[0].(string); ok {
				a.ns.DispatchServerSideEmit(ev, r.Data[1:], a.classicServerSideAck(r.RequestID))
			}
		}
	case RequestBroadcast:
		if r.Packet == nil || r.Packet.Nsp != a.nsp {
			return
		}
		if r.RequestID == "" { // not the adapter's: nowhere to answer
			a.deliver(r.Packet, opts)
			return
		}
		a.deliverWithAck(r.Packet, opts, ackTimeout(r.Opts),
			func(n int64) { respond(RequestBroadcastClientCount, &Response{ClientCount: n}) },
			func(v any) {
				a.publishAnswer(a.resChannel, func() ([]byte, error) {
					return (&Response{RequestID: r.RequestID, Packet: v}).Encode(RequestBroadcastAck)
				})
			})
	}
}

func (a *Adapter) onResponse(payload []byte) {
	r, err := DecodeResponse(payload)
	switch {
	case err != nil:
	case !r.HasType: // fetchSockets' answers carry no type
		a.answered(r.RequestID, RequestRemoteFetch, func(p *pending) { p.sockets = appendSockets(p.sockets, r.Sockets) })
	case r.Type == RequestServerSideEmit:
		a.answered(r.RequestID, RequestServerSideEmit, func(p *pending) { p.answers = append(p.answers, r.Data) })
	case r.Type == RequestBroadcastClientCount:
		a.broadcastAnswered(r.RequestID, false, r.ClientCount, nil)
	case r.Type == RequestBroadcastAck:
		a.broadcastAnswered(r.RequestID, true, 0, r.Packet)
	}
}

func appendSockets(to []socketio.SocketInfo, sockets []SocketInfo) []socketio.SocketInfo {
	for _, s := range sockets {
		to = append(to, socketInfoOf(s))
	}
	return to
}

// Messages from other servers: sharded -----------------------------------

func (a *Adapter) onSharded(channel string, payload []byte) {
	m, err := DecodeClusterMessage(payload)
	if err != nil {
		a.bus.log.Debug("redis adapter: ignoring a malformed message", "nsp", a.nsp, "err", err)
		return
	}
	if m.UID == a.uid || m.Nsp != a.nsp {
		return
	}
	var opts socketio.BroadcastOptions
	var oo Options
	if o, ok := m.Data["opts"]; ok && o != nil {
		if decodeOptions(o, &oo) != nil {
			return
		}
		opts = broadcastOptionsOf(&oo)
	}
	reqID, _ := m.Data["requestId"].(string)
	ctx, cancel := context.WithTimeout(a.bus.ctx, a.bus.cfg.PublishTimeout)
	defer cancel()
	respond := func(t ClusterMessageType, data map[string]any) {
		data["requestId"] = reqID
		b, err := (&ClusterMessage{Type: t, Data: data, UID: a.uid, Nsp: a.nsp}).Encode()
		if err == nil {
			err = a.bus.publish(ctx, ShardedResponseChannel(a.bus.cfg.Key, a.nsp, m.UID), b)
		}
		if err != nil {
			a.bus.log.Warn("redis adapter: answer not published", "nsp", a.nsp, "err", err)
		}
	}
	rooms, _ := rooms(m.Data["rooms"])
	switch m.Type {
	case ClusterBroadcast:
		var p Packet
		if decodePacket(m.Data["packet"], &p) != nil || p.Nsp != a.nsp {
			return
		}
		if reqID == "" {
			a.deliver(&p, opts)
			return
		}
		to := ShardedResponseChannel(a.bus.cfg.Key, a.nsp, m.UID)
		a.deliverWithAck(&p, opts, ackTimeout(&oo),
			func(n int64) { respond(ClusterBroadcastClientCount, map[string]any{"clientCount": n}) },
			func(v any) {
				a.publishAnswer(to, func() ([]byte, error) {
					return (&ClusterMessage{Type: ClusterBroadcastAck, UID: a.uid, Nsp: a.nsp,
						Data: map[string]any{"requestId": reqID, "packet": v}}).Encode()
				})
			})
	case ClusterSocketsJoin:
		a.ns.LocalSocketsJoin(opts, toRooms(rooms))
	case ClusterSocketsLeave:
		a.ns.LocalSocketsLeave(opts, toRooms(rooms))
	case ClusterDisconnectSockets:
		closeConn, _ := m.Data["close"].(bool)
		a.ns.LocalDisconnectSockets(opts, closeConn)
	case ClusterFetchSockets:
		var list []any
		for _, s := range a.ns.LocalFetchSockets(opts) {
			list = append(list, map[string]any{"id": string(s.ID), "handshake": s.Handshake,
				"rooms": anyStrings(roomStrings(s.Rooms)), "data": s.Data})
		}
		respond(ClusterFetchSocketsResponse, map[string]any{"sockets": nonNilAny(list)})
	case ClusterServerSideEmit:
		if d, ok := m.Data["packet"].([]any); ok && len(d) > 0 {
			if ev, ok := d[0].(string); ok {
				a.ns.DispatchServerSideEmit(ev, d[1:], a.shardedServerSideAck(m.UID, reqID))
			}
		}
	case ClusterFetchSocketsResponse:
		var infos []SocketInfo
		list, _ := m.Data["sockets"].([]any)
		for _, x := range list {
			if xm, ok := x.(map[string]any); ok {
				var si SocketInfo
				if socketInfo(xm, &si) == nil {
					infos = append(infos, si)
				}
			}
		}
		a.answered(reqID, RequestRemoteFetch, func(p *pending) { p.sockets = appendSockets(p.sockets, infos) })
	case ClusterBroadcastClientCount:
		n, _ := integer(m.Data["clientCount"])
		a.broadcastAnswered(reqID, false, n, nil)
	case ClusterBroadcastAck:
		a.broadcastAnswered(reqID, true, 0, m.Data["packet"])
	case ClusterServerSideEmitResponse:
		a.answered(reqID, RequestServerSideEmit, func(p *pending) { p.answers = append(p.answers, m.Data["packet"]) })
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
		b, err := (&Response{RequestID: requestID, Data: stringified(v)}).Encode(RequestServerSideEmit)
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
		b, err := (&ClusterMessage{Type: ClusterServerSideEmitResponse, UID: a.uid, Nsp: a.nsp,
			Data: map[string]any{"requestId": requestID, "packet": jsonValues([]any{v})[0]}}).Encode()
		if err != nil {
			return err
		}
		return a.bus.publish(ctx, ShardedResponseChannel(a.bus.cfg.Key, a.nsp, senderUID), b)
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
