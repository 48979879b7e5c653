package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/pflag"

	"github.com/expressbridge/expressbridge/adapter/redisadapter"
	"github.com/expressbridge/expressbridge/connectsid/redisstore"
)

// pubsubStartTimeout bounds how long serve waits for Redis to confirm the
// fan-out's subscriptions at start; past it, serving begins and the
// subscriptions are made as soon as Redis answers.
const pubsubStartTimeout = 5 * time.Second

// pubsubOptions are serve's flags for the fan-out between instances.
type pubsubOptions struct {
	on, off bool // --pubsub (default true), --no-pubsub
	url     string
	sharded bool
	key     string
}

func (p *pubsubOptions) addFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&p.on, "pubsub", true,
		"fan broadcasts, rooms and the emitter's pushes out between instances through Redis Pub/Sub, in @socket.io/redis-adapter's "+
			"protocol (on the session store's Redis unless --pubsub-url); --pubsub=false for a single instance")
	bindEnv(fs, "pubsub", "EXPRESSBRIDGE_PUBSUB")
	fs.BoolVar(&p.off, "no-pubsub", false, "the same as --pubsub=false: a single instance, nothing published")
	fs.StringVar(&p.url, "pubsub-url", "",
		"Redis for the fan-out when it is not the session store's (always needed with a PostgreSQL store): the same forms as --redis-url")
	bindEnv(fs, "pubsub-url", "EXPRESSBRIDGE_PUBSUB_URL")
	fs.BoolVar(&p.sharded, "pubsub-sharded", false,
		"Redis 7 sharded Pub/Sub (SPUBLISH/SSUBSCRIBE) in createShardedAdapter's format, for a Redis Cluster whose Node servers "+
			"use createShardedAdapter; the emitter and createAdapter speak classic Pub/Sub (the default)")
	bindEnv(fs, "pubsub-sharded", "EXPRESSBRIDGE_PUBSUB_SHARDED")
	fs.StringVar(&p.key, "pubsub-key", redisadapter.DefaultKey,
		"the channels' prefix: the adapter's and the emitter's key option (the sharded adapter's channelPrefix)")
	bindEnv(fs, "pubsub-key", "EXPRESSBRIDGE_PUBSUB_KEY")
}

// fanout is the open bus, or nothing for a single instance.
type fanout struct {
	bus   *redisadapter.Bus // nil: single instance
	where string            // for the start-up log
	close func()
}

// open starts the bus the flags ask for: on --pubsub-url, else on the
// store's Redis client; nil (single instance) with --no-pubsub or a
// PostgreSQL store without --pubsub-url.
func (p *pubsubOptions) open(store *openedStore, log *slog.Logger, observer interface{ Resubscribed() }) (*fanout, error) {
	if !p.on || p.off {
		return &fanout{where: "off (single instance)", close: func() {}}, nil
	}
	var client redis.UniversalClient
	closeClient := func() {}
	where := "the session store's Redis"
	switch {
	case p.url != "":
		c, err := redisstore.OpenURL(p.url)
		if err != nil {
			return nil, usageErrorf("bad --pubsub-url %s: %v", redisstore.Redact(p.url), err)
		}
		client, closeClient, where = c, func() { c.Close() }, redisstore.Redact(p.url)
	case store.redis != nil:
		client = store.redis.Client()
	default:
		log.Info("no fan-out between instances: the store is PostgreSQL and --pubsub-url is not set; " +
			"run one instance, or give every instance the same --pubsub-url")
		return &fanout{where: "off (PostgreSQL store without --pubsub-url)", close: func() {}}, nil
	}
	if p.sharded {
		where += " (sharded)"
	}
	bus := redisadapter.NewBus(client, redisadapter.BusConfig{Key: p.key, Sharded: p.sharded, Observer: observer, Logger: log})
	return &fanout{bus: bus, where: where, close: func() { bus.Close(); closeClient() }}, nil
}

// relay returns the /ws relay, or nil.
func (f *fanout) relay() *redisadapter.Relay {
	if f.bus == nil {
		return nil
	}
	return f.bus.NewRelay()
}

// startRelay subscribes the relay, waiting at most pubsubStartTimeout.
func startRelay(ctx context.Context, r *redisadapter.Relay, deliver func([]byte), log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, pubsubStartTimeout)
	defer cancel()
	if err := r.Start(ctx, deliver); err != nil {
		log.Warn("the fan-out's Redis has not confirmed the subscriptions yet; broadcasts stay on this instance until it does",
			"err", err)
	}
}
