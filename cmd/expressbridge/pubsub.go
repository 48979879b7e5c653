package main

import (
	"github.com/spf13/pflag"

	"github.com/expressbridge/expressbridge/adapter/redisadapter"
)

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
