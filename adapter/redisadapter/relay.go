package redisadapter

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/expressbridge/expressbridge/adapter/redisadapter/wire"
)

// The plain /ws chat across instances ------------------------------------
//
// The /ws door's broadcasts are text frames, not Socket.IO packets. They
// travel as Socket.IO-adapter broadcasts in a namespace of their own,
// WSNamespace, with the frame as the one argument of event WSEvent: the
// same channels and encoding as every other broadcast, so one decoder, one
// subscription model and one delivery guarantee serve both doors; Node
// servers never subscribe to that namespace, so they pay nothing; and the
// emitter can push to /ws clients too:
//
//	emitter.of("/expressbridge-ws").emit("message", JSON.stringify({type: "said", user: "ann", text: "hi"}))

// WSNamespace is the namespace the /ws door's broadcasts travel in.
const WSNamespace = "/expressbridge-ws"

// WSEvent is the event of a /ws broadcast: its one argument is the frame's
// text.
const WSEvent = "message"

// Relay carries the /ws door's broadcasts between instances: it is the
// bridge's Fanout (bridge.Config.Fanout), and hands the other instances'
// broadcasts to the deliver function given to Start
// (bridge.Server.BroadcastLocal). A broadcast with rooms is not delivered
// (the /ws door has none). Delivery is at most once (Redis Pub/Sub).
type Relay struct {
	bus *Bus
	uid string

	mu      sync.RWMutex
	deliver func([]byte)

	queue    chan []byte // for the publisher
	dropping atomic.Bool // a drop was logged; cleared by the next publish that succeeds
}

// NewRelay returns a relay on the bus, with its publisher goroutine
// (until the bus closes); it publishes at once and receives once started.
func (b *Bus) NewRelay() *Relay {
	r := &Relay{bus: b, uid: newUID(), queue: make(chan []byte, relayQueue)}
	b.wg.Add(1)
	go r.publisher()
	return r
}

// Start subscribes to the other instances' /ws broadcasts and hands each
// to deliver, once, on the bus's goroutine. It returns once Redis has
// confirmed the subscription or ctx ends (subscribing then goes on in the
// background).
func (r *Relay) Start(ctx context.Context, deliver func(msg []byte)) error {
	r.mu.Lock()
	r.deliver = deliver
	r.mu.Unlock()
	key := r.bus.cfg.Key
	if r.bus.cfg.Sharded {
		return r.bus.subscribe(ctx, &subscription{channels: []string{wire.ShardedChannel(key, WSNamespace)}, handle: r.onSharded})
	}
	return r.bus.subscribe(ctx, &subscription{patterns: []string{wire.BroadcastChannel(key, WSNamespace) + "*"}, handle: r.onClassic})
}

// relayQueue is how many /ws broadcasts may wait for Redis: a second's
// worth of a busy chat; more are dropped (at most once, as Pub/Sub).
const relayQueue = 1024

// Publish implements bridge.Fanout: msg goes to the other instances, at
// most once. It never blocks the broadcaster: messages wait in a queue of
// relayQueue for one publisher goroutine (so they keep their order), each
// publish bounded by PublishTimeout; when Redis is down and the queue is
// full, further messages are dropped and one warning is logged per outage.
func (r *Relay) Publish(msg []byte) {
	if r.bus.closed() {
		return
	}
	select {
	case r.queue <- msg:
	default:
		if r.dropping.CompareAndSwap(false, true) {
			r.bus.log.Warn("redis adapter: /ws broadcasts dropped for the other instances: Redis does not keep up")
		}
	}
}

// publisher publishes the queued /ws broadcasts, in order, until the bus
// closes.
func (r *Relay) publisher() {
	defer r.bus.wg.Done()
	for {
		select {
		case <-r.bus.ctx.Done():
			return
		case msg := <-r.queue:
			if r.publish(msg) == nil {
				r.dropping.Store(false)
			}
		}
	}
}

// publish sends one /ws broadcast to the other instances.
func (r *Relay) publish(msg []byte) error {
	ctx, cancel := context.WithTimeout(r.bus.ctx, r.bus.cfg.PublishTimeout)
	defer cancel()
	p := wire.Packet{Type: wire.PacketEvent, Nsp: WSNamespace, Data: []any{WSEvent, string(msg)}}
	var err error
	if r.bus.cfg.Sharded {
		var payload []byte
		payload, err = (&wire.ClusterMessage{Type: wire.ClusterBroadcast, UID: r.uid, Nsp: WSNamespace,
			Data: map[string]any{"packet": p.Map(), "opts": (&wire.Options{}).Map()}}).Encode()
		if err == nil {
			err = r.bus.publish(ctx, wire.ShardedChannel(r.bus.cfg.Key, WSNamespace), payload)
		}
	} else {
		b := &wire.Broadcast{UID: r.uid, Packet: p}
		var payload []byte
		if payload, err = b.Encode(); err == nil {
			err = r.bus.publish(ctx, b.Channel(r.bus.cfg.Key), payload)
		}
	}
	if err != nil && r.bus.ctx.Err() == nil {
		r.bus.log.Warn("redis adapter: /ws broadcast not published to the other instances", "err", err)
	}
	return err
}

func (r *Relay) onClassic(_ string, payload []byte) {
	b, err := wire.DecodeBroadcast(payload)
	if err != nil || b.UID == r.uid || b.Packet.Nsp != WSNamespace || len(b.Opts.Rooms) > 0 {
		return
	}
	r.hand(&b.Packet)
}

func (r *Relay) onSharded(_ string, payload []byte) {
	m, err := wire.DecodeClusterMessage(payload)
	if err != nil || m.UID == r.uid || m.Nsp != WSNamespace || m.Type != wire.ClusterBroadcast {
		return
	}
	o, err := m.Opts()
	if err != nil || o == nil || len(o.Rooms) > 0 {
		return
	}
	p, err := m.Packet()
	if err != nil {
		return
	}
	r.hand(p)
}

// hand delivers a packet's frame: event WSEvent with one string.
func (r *Relay) hand(p *wire.Packet) {
	if len(p.Data) != 2 || p.Data[0] != WSEvent {
		return
	}
	text, ok := p.Data[1].(string)
	if !ok {
		return
	}
	r.mu.RLock()
	deliver := r.deliver
	r.mu.RUnlock()
	if deliver != nil {
		deliver([]byte(text))
	}
}
