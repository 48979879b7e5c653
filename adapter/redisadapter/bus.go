package redisadapter

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// The Redis side ---------------------------------------------------------
//
// A Bus is one Go instance's membership in a Socket.IO fleet that fans out
// through Redis: each Socket.IO namespace gets an Adapter from it
// (socketio.Config.NewAdapter), and the plain /ws chat a Relay. Everything
// published goes through Redis Pub/Sub, classic (PUBLISH, SUBSCRIBE,
// PSUBSCRIBE: what createAdapter and the emitter speak, on one Redis or a
// Cluster) or sharded (SPUBLISH, SSUBSCRIBE: createShardedAdapter's format,
// Redis 7).
//
// Delivery between instances is at most once, as Redis Pub/Sub's: a
// message published while an instance is not subscribed (Redis restarting,
// the network down) is lost for that instance, and nothing is retried.
// Subscriptions come back by themselves once Redis answers again.

// Defaults of BusConfig's zero fields.
const (
	// DefaultRequestsTimeout bounds a request that waits for answers
	// (fetchSockets) when its context has none: the adapter's
	// requestsTimeout default.
	DefaultRequestsTimeout = 5 * time.Second
	// DefaultPublishTimeout bounds one PUBLISH of a broadcast, which has no
	// context of its own: a Redis that does not answer must not hold the
	// handler that broadcast for longer.
	DefaultPublishTimeout = 2 * time.Second
	// resubscribeBackoff is the wait between attempts to reach Redis again
	// after a subscription's connection broke.
	resubscribeBackoff = 250 * time.Millisecond
)

// BusConfig configures a Bus. The zero value speaks classic Pub/Sub with
// the Node packages' defaults.
type BusConfig struct {
	// Key is the channels' prefix: the adapter's and emitter's `key`
	// option, the sharded adapter's `channelPrefix` (DefaultKey).
	Key string
	// Sharded publishes with SPUBLISH and subscribes with SSUBSCRIBE in
	// createShardedAdapter's format (subscriptionMode "static" for Go's own
	// broadcasts; see Adapter). Off: createAdapter's and the emitter's
	// format.
	Sharded bool
	// RequestsTimeout bounds requests whose context has no deadline
	// (DefaultRequestsTimeout).
	RequestsTimeout time.Duration
	// PublishTimeout bounds one publish of a broadcast (DefaultPublishTimeout).
	PublishTimeout time.Duration
	// Observer, when set, hears each time a subscription is made again
	// after its connection broke (bridge.Observer and metrics.Metrics fit).
	Observer interface{ Resubscribed() }
	// Logger receives the bus's logs (slog.Default when nil).
	Logger *slog.Logger
}

// Bus joins Go's Socket.IO namespaces and /ws chat to a fleet through one
// Redis client (a *redis.Client, *redis.ClusterClient or failover client).
// Close ends its subscriptions. It is safe for concurrent use.
type Bus struct {
	client redis.UniversalClient
	cfg    BusConfig
	log    *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewBus returns a bus on client. It does not close client.
func NewBus(client redis.UniversalClient, cfg BusConfig) *Bus {
	if cfg.Key == "" {
		cfg.Key = DefaultKey
	}
	if cfg.RequestsTimeout <= 0 {
		cfg.RequestsTimeout = DefaultRequestsTimeout
	}
	if cfg.PublishTimeout <= 0 {
		cfg.PublishTimeout = DefaultPublishTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Bus{client: client, cfg: cfg, log: cfg.Logger, ctx: ctx, cancel: cancel}
}

// Close ends every subscription of the bus's adapters and relays and waits
// for their goroutines. Broadcasts after Close stay on this instance. It
// does not close the client.
func (b *Bus) Close() error {
	b.cancel()
	b.wg.Wait()
	return nil
}

// newUID returns a random id for an adapter or a request: 6 random bytes
// in hex, as the adapter's uid2(6).
func newUID() string {
	var r [6]byte
	rand.Read(r[:])
	return hex.EncodeToString(r[:])
}

// publish sends payload on channel, sharded or not.
func (b *Bus) publish(ctx context.Context, channel string, payload []byte) error {
	if b.cfg.Sharded {
		return b.client.SPublish(ctx, channel, payload).Err()
	}
	return b.client.Publish(ctx, channel, payload).Err()
}

// serverCount is how many servers subscribe to channel: PUBSUB NUMSUB (or
// SHARDNUMSUB), summed over every master of a Cluster as the adapter does.
func (b *Bus) serverCount(ctx context.Context, channel string) (int64, error) {
	one := func(ctx context.Context, c redis.UniversalClient) (int64, error) {
		var m map[string]int64
		var err error
		if b.cfg.Sharded {
			m, err = c.PubSubShardNumSub(ctx, channel).Result()
		} else {
			m, err = c.PubSubNumSub(ctx, channel).Result()
		}
		return m[channel], err
	}
	cc, ok := b.client.(*redis.ClusterClient)
	if !ok {
		return one(ctx, b.client)
	}
	var mu sync.Mutex
	var sum int64
	err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		n, err := one(ctx, c)
		mu.Lock()
		sum += n
		mu.Unlock()
		return err
	})
	return sum, err
}

// subscription is one Pub/Sub connection and the goroutine reading it.
type subscription struct {
	channels, patterns []string
	handle             func(channel string, payload []byte)
	ready              chan struct{} // closed once every channel is confirmed the first time
}

// subscribe starts reading channels and patterns (not with Sharded) on a
// connection of their own until the bus closes, handing each message to
// handle on that goroutine. Broken connections are made again with every
// subscription; the Observer hears each time. It returns once Redis has
// confirmed the subscriptions, or ctx ends (the goroutine keeps trying).
func (b *Bus) subscribe(ctx context.Context, s *subscription) error {
	// The PubSub remembers what it was asked even when Redis refuses now,
	// and asks again on each reconnection.
	var ps *redis.PubSub
	var err error
	switch {
	case b.cfg.Sharded:
		ps = b.client.SSubscribe(b.ctx)
		err = ps.SSubscribe(ctx, s.channels...)
	default:
		ps = b.client.Subscribe(b.ctx)
		if len(s.patterns) > 0 {
			err = ps.PSubscribe(ctx, s.patterns...)
		}
		if len(s.channels) > 0 {
			err = errors.Join(err, ps.Subscribe(ctx, s.channels...))
		}
	}
	s.ready = make(chan struct{})
	b.wg.Add(1)
	go b.read(ps, s)
	if err != nil {
		return err // Redis is not there: no point waiting
	}
	select {
	case <-s.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *Bus) read(ps *redis.PubSub, s *subscription) {
	defer b.wg.Done()
	// Receive does not return when its context ends; closing does.
	stop := context.AfterFunc(b.ctx, func() { ps.Close() })
	defer stop()
	defer ps.Close()
	want := len(s.channels) + len(s.patterns)
	confirmed, lost, first := 0, false, true
	for {
		msg, err := ps.Receive(b.ctx)
		if err != nil {
			if b.ctx.Err() != nil {
				return
			}
			if !lost {
				b.log.Warn("redis adapter: subscription lost; resubscribing when Redis answers", "err", err)
			}
			lost, confirmed = true, 0
			// go-redis reconnects and subscribes again on the next Receive.
			select {
			case <-time.After(resubscribeBackoff):
			case <-b.ctx.Done():
				return
			}
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if confirmed++; confirmed == want {
				if first {
					first = false
					close(s.ready)
				} else if lost {
					b.log.Info("redis adapter: resubscribed")
					if b.cfg.Observer != nil {
						b.cfg.Observer.Resubscribed()
					}
				}
				lost = false
			}
		case *redis.Message:
			s.handle(m.Channel, []byte(m.Payload))
		}
	}
}

func (b *Bus) closed() bool { return b.ctx.Err() != nil }
