package redisstore

import (
	"github.com/expressbridge/expressbridge/connectsid"

	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Operations Watch reports, as Redis names its keyspace events.
const (
	OpDel     = connectsid.OpDel     // logout, destroy, or a set with TTL ≤ 0
	OpExpired = connectsid.OpExpired // the TTL ran out
	OpEvicted = connectsid.OpEvicted // maxmemory pushed the key out
	OpSet     = connectsid.OpSet     // the record was written again
)

// neededEvents are the notify-keyspace-events classes Watch needs:
// keyspace channels (K), generic commands such as DEL (g), string commands
// such as SET ($), expiry (x) and eviction (e).
const neededEvents = "Kg$xe"

// ErrNotifications means Redis does not send keyspace notifications and
// Watch could not switch them on (CONFIG is renamed away or not allowed).
var ErrNotifications = errors.New("redis keyspace notifications are off and cannot be switched on")

// Intervals of Watch's topology checks, each a Redis round trip.
const (
	// topologyInterval is how often Watch asks a cluster for its masters,
	// so that a master added by resharding or promoted by a failover is
	// subscribed to within this much.
	topologyInterval = 2 * time.Second
	// masterCheckInterval is how often Watch asks a Sentinel-managed
	// master's run_id. A graceful failover (SENTINEL FAILOVER) leaves the
	// old master up and serving the subscription for about ten seconds
	// until the sentinels demote it; go-redis moves commands to the new
	// master at once but not the subscription, so Watch moves it.
	masterCheckInterval = time.Second
	// failoverClientAddr is the Addr go-redis gives a NewFailoverClient's
	// options: how Watch tells a Sentinel client from a one-node client.
	failoverClientAddr = "FailoverClient"
)

// Watch reports changes to the session records under the prefix until ctx
// ends: onEvent(sid, op) for each OpDel, OpExpired, OpEvicted and OpSet.
//
// One subscription serves the whole process: on a Cluster one per master,
// the list of masters checked every 2 s so that a new or promoted master
// is subscribed to; with Sentinel, on the master, moved within about a
// second of a failover. On each (re)subscription, after a Redis restart or
// failover too, Watch makes sure that node sends the events it needs,
// adding the missing classes to notify-keyspace-events and never removing
// any, and then calls onSync: onSync(nil) when notifications are confirmed
// on, or onSync(err) wrapping ErrNotifications when they are not, in which
// case the caller must poll. Events may have been missed while
// disconnected: onSync is the moment to revalidate what the caller holds.
// On a Cluster onSync speaks for the whole cluster at each master's
// (re)subscription: nil only while every master has confirmed, else the
// error of one that has not; onEvent may be called concurrently there.
// While Redis cannot be reached Watch keeps trying; it returns ctx's error.
func (s *Store) Watch(ctx context.Context, onEvent func(sid string, op connectsid.Op), onSync func(error)) error {
	if cc, ok := s.client.(*redis.ClusterClient); ok {
		s.watchCluster(ctx, cc, onEvent, onSync)
		return ctx.Err()
	}
	db, follow := 0, false
	if c, ok := s.client.(*redis.Client); ok {
		db, follow = c.Options().DB, c.Options().Addr == failoverClientAddr
	}
	for ctx.Err() == nil {
		s.watchNode(ctx, s.client, db, follow, onEvent, onSync)
		pause(ctx, resubscribeDelay)
	}
	return ctx.Err()
}

// resubscribeDelay spaces subscriptions that end at once (a closed client)
// so that they cannot spin.
const resubscribeDelay = 100 * time.Millisecond

// pause waits d or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// watchCluster keeps one watchNode per cluster master, checking the list
// of masters every topologyInterval, until ctx ends.
func (s *Store) watchCluster(ctx context.Context, cc *redis.ClusterClient, onEvent func(sid string, op connectsid.Op), onSync func(error)) {
	var wg sync.WaitGroup
	watchers := make(map[string]context.CancelFunc) // by master address
	defer func() {
		for _, cancel := range watchers {
			cancel()
		}
		wg.Wait()
	}()
	cs := &clusterSync{onSync: onSync, errs: make(map[string]error)}
	t := time.NewTicker(topologyInterval)
	defer t.Stop()
	for {
		var mu sync.Mutex
		masters := make(map[string]*redis.Client)
		err := cc.ForEachMaster(ctx, func(_ context.Context, c *redis.Client) error {
			mu.Lock()
			masters[c.Options().Addr] = c
			mu.Unlock()
			return nil
		})
		if err == nil { // else: keep what runs and ask again
			for addr, cancel := range watchers {
				if masters[addr] == nil {
					cancel()
					delete(watchers, addr)
					cs.drop(addr)
				}
			}
			for addr, c := range masters {
				if watchers[addr] != nil {
					continue
				}
				nctx, cancel := context.WithCancel(ctx)
				watchers[addr] = cancel
				wg.Add(1)
				go func() {
					defer wg.Done()
					onNodeSync := func(err error) { cs.report(addr, err) }
					for nctx.Err() == nil {
						s.watchNode(nctx, c, 0, false, onEvent, onNodeSync)
						pause(nctx, resubscribeDelay)
					}
				}()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// clusterSync merges the masters' syncs into the one answer onSync gives:
// notifications are confirmed only while every master confirms them, so
// that a master that cannot send them keeps its caller polling whatever
// the others say.
type clusterSync struct {
	mu     sync.Mutex // also serialises the calls of onSync
	onSync func(error)
	errs   map[string]error // each master's last sync, by address
}

// report records a master's sync and tells the caller the cluster's.
func (cs *clusterSync) report(addr string, err error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.errs[addr] = err
	addrs := make([]string, 0, len(cs.errs))
	for a := range cs.errs {
		addrs = append(addrs, a)
	}
	slices.Sort(addrs)
	for _, a := range addrs {
		if cs.errs[a] != nil {
			err = fmt.Errorf("cluster master %s: %w", a, cs.errs[a])
			break
		}
	}
	cs.onSync(err)
}

// drop forgets a master that left the cluster.
func (cs *clusterSync) drop(addr string) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	delete(cs.errs, addr)
}

// watchNode subscribes to one node's keyspace channels for the prefix
// until ctx ends or, with follow, until the master behind c changes.
// go-redis reconnects and resubscribes by itself; each subscription
// confirmation is a (re)sync.
func (s *Store) watchNode(ctx context.Context, c redis.UniversalClient, db int, follow bool,
	onEvent func(sid string, op connectsid.Op), onSync func(error)) {
	channelPrefix := "__keyspace@" + strconv.Itoa(db) + "__:" + s.opts.Prefix
	ps := c.PSubscribe(ctx, EscapeGlob(channelPrefix)+"*")
	defer ps.Close()
	ch := ps.ChannelWithSubscriptions(redis.WithChannelSize(1024))
	var check <-chan time.Time
	master := ""
	if follow {
		t := time.NewTicker(masterCheckInterval)
		defer t.Stop()
		check = t.C
		master = s.runID(ctx, c)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-check:
			switch id := s.runID(ctx, c); {
			case id == "" || id == master:
			case master == "":
				master = id
			default:
				return // a failover: subscribe again, on the new master
			}
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
					switch op := connectsid.Op(m.Payload); op {
					case OpDel, OpExpired, OpEvicted, OpSet:
						onEvent(sid, op)
					}
				}
			}
		}
	}
}

// runID returns the run_id of the server c's commands reach, "" when it
// cannot be asked.
func (s *Store) runID(ctx context.Context, c redis.UniversalClient) string {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return ""
	}
	_, rest, ok := strings.Cut(info, "run_id:")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, "\r\n")
	return strings.TrimSpace(id)
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
