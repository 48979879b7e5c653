package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Operations Watch reports, as Redis names its keyspace events.
const (
	OpDel     = "del"     // logout, destroy, or a set with TTL ≤ 0
	OpExpired = "expired" // the TTL ran out
	OpEvicted = "evicted" // maxmemory pushed the key out
	OpSet     = "set"     // the record was written again
)

// neededEvents are the notify-keyspace-events classes Watch needs:
// keyspace channels (K), generic commands such as DEL (g), string commands
// such as SET ($), expiry (x) and eviction (e).
const neededEvents = "Kg$xe"

// ErrNotifications means Redis does not send keyspace notifications and
// Watch could not switch them on (CONFIG is renamed away or not allowed).
var ErrNotifications = errors.New("redis keyspace notifications are off and cannot be switched on")

// Watch reports changes to the session records under the prefix until ctx
// ends: onEvent(sid, op) for each OpDel, OpExpired, OpEvicted and OpSet.
//
// One subscription serves the whole process (per master on a Cluster). On
// each (re)subscription, after a Redis restart too, Watch makes sure Redis
// sends the events it needs, adding the missing classes to
// notify-keyspace-events and never removing any, and then calls onSync:
// onSync(nil) when notifications are confirmed on, or onSync(err) wrapping
// ErrNotifications when they are not, in which case the caller must poll.
// Events may have been missed while disconnected: onSync is the moment to
// revalidate what the caller holds. Watch returns ctx's error.
func (s *Store) Watch(ctx context.Context, onEvent func(sid, op string), onSync func(error)) error {
	if cc, ok := s.client.(*redis.ClusterClient); ok {
		var wg sync.WaitGroup
		err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.watchNode(ctx, c, 0, onEvent, onSync)
			}()
			return nil
		})
		wg.Wait()
		if err != nil {
			return s.unavailable("cluster masters", err)
		}
		return ctx.Err()
	}
	db := 0
	if c, ok := s.client.(*redis.Client); ok {
		db = c.Options().DB
	}
	s.watchNode(ctx, s.client, db, onEvent, onSync)
	return ctx.Err()
}

// watchNode subscribes to one node's keyspace channels for the prefix.
// go-redis reconnects and resubscribes by itself; each subscription
// confirmation is a (re)sync.
func (s *Store) watchNode(ctx context.Context, c redis.UniversalClient, db int,
	onEvent func(sid, op string), onSync func(error)) {
	channelPrefix := "__keyspace@" + strconv.Itoa(db) + "__:" + s.opts.Prefix
	ps := c.PSubscribe(ctx, EscapeGlob(channelPrefix)+"*")
	defer ps.Close()
	ch := ps.ChannelWithSubscriptions(redis.WithChannelSize(1024))
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-ch:
			if !ok {
				return
			}
			switch m := m.(type) {
			case *redis.Subscription:
				if m.Kind == "psubscribe" {
					onSync(s.syncNotifications(ctx, c))
				}
			case *redis.Message:
				sid, ok := strings.CutPrefix(m.Channel, channelPrefix)
				if ok {
					switch m.Payload {
					case OpDel, OpExpired, OpEvicted, OpSet:
						onEvent(sid, m.Payload)
					}
				}
			}
		}
	}
}

// syncNotifications switches notifications on after a (re)subscription.
// The subscription can come back before the client's pool does (it may
// still be backing off from dial errors), so a failure to reach Redis is
// retried; only Redis's own refusal (CONFIG renamed or not allowed) is
// final.
func (s *Store) syncNotifications(ctx context.Context, c redis.UniversalClient) error {
	const retry, patience = 250 * time.Millisecond, 30 * time.Second
	deadline := time.Now().Add(patience)
	for {
		err := s.ensureNotifications(ctx, c)
		var refused redis.Error
		if err == nil || errors.As(err, &refused) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(retry):
		}
	}
}

// ensureNotifications adds the event classes Watch needs to the node's
// notify-keyspace-events, keeping those already set.
func (s *Store) ensureNotifications(ctx context.Context, c redis.UniversalClient) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	cur, err := c.ConfigGet(ctx, "notify-keyspace-events").Result()
	if err != nil {
		return fmt.Errorf("%w: CONFIG GET: %w", ErrNotifications, err)
	}
	flags := cur["notify-keyspace-events"]
	missing := missingEvents(flags)
	if missing == "" {
		return nil
	}
	if err := c.ConfigSet(ctx, "notify-keyspace-events", flags+missing).Err(); err != nil {
		return fmt.Errorf("%w: CONFIG SET: %w", ErrNotifications, err)
	}
	return nil
}

// missingEvents returns the classes of neededEvents that flags lacks. "A"
// in flags is Redis's alias for every class but K, E, m and n.
func missingEvents(flags string) string {
	var missing strings.Builder
	for _, c := range neededEvents {
		if strings.ContainsRune(flags, c) || c != 'K' && strings.ContainsRune(flags, 'A') {
			continue
		}
		missing.WriteRune(c)
	}
	return missing.String()
}
