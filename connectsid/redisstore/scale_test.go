package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/redisstore"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// Cluster and Sentinel: Express on node-redis 5's createCluster and
// createSentinel, Go on the URL forms OpenURL takes, real servers.

// scaleLogins is how many users log in at least; more log in until every
// master of a three-master cluster holds a session (one holds none of 30
// random keys once in about 64,000 runs), up to maxScaleLogins.
const scaleLogins, maxScaleLogins = 30, 200

// openStore opens the bridge's side on url, closed at cleanup.
func openStore(t *testing.T, url string) *redisstore.Store {
	t.Helper()
	client, err := redisstore.OpenURL(url)
	if err != nil {
		t.Fatalf("OpenURL(%s): %v", redisstore.Redact(url), err)
	}
	t.Cleanup(func() { client.Close() })
	return redisstore.New(client, redisstore.Options{})
}

// TestClusterSessions: Express logs users in through createCluster; Go
// reads each session, finds them all with IDs, and Watch reports changes
// on every master; a restarted master has notifications switched on again.
func TestClusterSessions(t *testing.T) {
	c := testenv.StartRedisCluster(t, 3)
	app := testenv.StartNodeApp(t, testenv.NodeAppConfig{RedisURL: c.URL(), Secrets: []string{secret},
		StoreFlavor: "connect-redis9-cluster"})
	ver, _ := connectsid.NewVerifier(secret)
	store := openStore(t, c.URL())
	if _, ok := store.Client().(*redis.ClusterClient); !ok {
		t.Fatalf("OpenURL(%s) gave a %T, want a cluster client", c.URL(), store.Client())
	}
	rec := startWatch(t, store)
	rec.waitFor(t, "a sync per master", func(_ []string, s []error) bool { return len(s) == 3 && allNil(s) })

	ctx := context.Background()
	perNode := make([]int, len(c.Nodes))
	var sids, cookies []string
	for i := 0; i < scaleLogins || slices.Contains(perNode, 0); i++ {
		if i == maxScaleLogins {
			t.Fatalf("%d logins and a master holds no session: %v", i, perNode)
		}
		user := fmt.Sprintf("user%02d", i)
		cookie := app.Login(ctx, t, user)
		sid, _, err := ver.FromHeader(cookie, "connect.sid")
		if err != nil {
			t.Fatal(err)
		}
		sess, err := store.Get(ctx, sid)
		if err != nil {
			t.Fatalf("Go cannot read %s's session written through createCluster: %v", user, err)
		}
		if u, _ := sess.String("username"); u != user {
			t.Fatalf("session of %s holds username %q", user, u)
		}
		perNode[c.NodeOf(t, store.Key(sid))]++
		sids, cookies = append(sids, sid), append(cookies, cookie)
	}
	t.Logf("sessions per master: %v", perNode)
	ids, err := store.IDs(ctx, 0)
	if err != nil {
		t.Fatalf("IDs: %v", err)
	}
	slices.Sort(ids)
	want := slices.Clone(sids)
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("IDs found %d sessions across the masters, want %d", len(ids), len(want))
	}
	rec.waitFor(t, "a set event per login", func(e []string, _ []error) bool {
		for _, sid := range sids {
			if !has(e, "set "+sid) {
				return false
			}
		}
		return true
	})
	// One logout per master, each reported by that master's subscription.
	done := make([]bool, len(c.Nodes))
	for i, sid := range sids {
		n := c.NodeOf(t, store.Key(sid))
		if done[n] {
			continue
		}
		done[n] = true
		app.Logout(ctx, t, cookies[i])
		rec.waitFor(t, fmt.Sprintf("the logout on master %d", n), func(e []string, _ []error) bool { return has(e, "del "+sid) })
		if _, err := store.Get(ctx, sid); !errors.Is(err, connectsid.ErrNoSession) {
			t.Fatalf("after logout Get = %v, want ErrNoSession", err)
		}
	}

	// A crashed master comes back empty and without notifications: its
	// subscription resyncs and switches them on again.
	c.Nodes[2].Kill(t)
	c.Nodes[2].Start(t)
	c.WaitOK(t)
	rec.waitFor(t, "a resync of the restarted master", func(_ []string, s []error) bool { return len(s) >= 4 && s[len(s)-1] == nil })
	probe := "probe-" + fmt.Sprint(time.Now().UnixNano())
	for c.NodeOf(t, store.Key(probe)) != 2 {
		probe += "x"
	}
	if err := c.Nodes[2].Client(t).Set(ctx, store.Key(probe), "{}", 0).Err(); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "an event from the restarted master", func(e []string, _ []error) bool { return has(e, "set "+probe) })
}

func allNil(errs []error) bool {
	for _, err := range errs {
		if err != nil {
			return false
		}
	}
	return true
}

// TestSentinelSessions: Express logs in through createSentinel, Go reads
// through the sentinels; after SENTINEL FAILOVER and after the master is
// killed, Go reads and writes on the new master and Watch reports changes
// made there (notifications switched on on the new master too).
func TestSentinelSessions(t *testing.T) {
	s := testenv.StartSentinel(t)
	app := testenv.StartNodeApp(t, testenv.NodeAppConfig{RedisURL: s.URL(), Secrets: []string{secret},
		StoreFlavor: "connect-redis9-sentinel"})
	ver, _ := connectsid.NewVerifier(secret)
	store := openStore(t, s.URL())
	rec := startWatch(t, store)
	rec.waitFor(t, "the first sync", func(_ []string, e []error) bool { return len(e) == 1 && e[0] == nil })
	ctx := context.Background()

	login := func(user string) (cookie, sid string) {
		t.Helper()
		cookie = app.Login(ctx, t, user)
		sid, _, err := ver.FromHeader(cookie, "connect.sid")
		if err != nil {
			t.Fatal(err)
		}
		sess, err := store.Get(ctx, sid)
		if err != nil {
			t.Fatalf("Go cannot read %s's session written through createSentinel: %v", user, err)
		}
		if u, _ := sess.String("username"); u != user {
			t.Fatalf("session of %s holds username %q", user, u)
		}
		return cookie, sid
	}
	check := func(when string) {
		t.Helper()
		cookie, sid := login("after " + when)
		rec.waitFor(t, "the login's set event "+when, func(e []string, _ []error) bool { return has(e, "set "+sid) })
		app.Logout(ctx, t, cookie)
		rec.waitFor(t, "the logout's del event "+when, func(e []string, _ []error) bool { return has(e, "del "+sid) })
	}
	check("startup")

	start := time.Now()
	m := s.Failover(t)
	t.Logf("SENTINEL FAILOVER: %s is master after %v", m.Addr(), time.Since(start))
	waitNotifications(t, m)
	t.Logf("notifications on the new master after %v", time.Since(start))
	check("SENTINEL FAILOVER")
	t.Logf("events from the new master after %v", time.Since(start))

	start = time.Now()
	m = s.KillMaster(t)
	t.Logf("master killed: %s is master after %v", m.Addr(), time.Since(start))
	waitNotifications(t, m)
	t.Logf("notifications on the new master after %v", time.Since(start))
	check("the master was killed")
	t.Logf("events from the new master after %v", time.Since(start))
}

// waitNotifications waits until Watch has switched notifications on on m.
func waitNotifications(t *testing.T, m *testenv.Redis) {
	t.Helper()
	rc := m.Client(t)
	deadline := time.Now().Add(5 * time.Second) // the sentinels demote a master after ~10 s: Watch must not wait for that
	for {
		cur, err := rc.ConfigGet(context.Background(), "notify-keyspace-events").Result()
		if err == nil && cur["notify-keyspace-events"] != "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("notifications never switched on on the new master %s (%v %v)", m.Addr(), cur, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestClusterWatchWaitsForTheCluster: Watch started while every master is
// down keeps trying, and subscribes to each once the cluster is back
// (it used to return at once, leaving its caller neither watching nor
// polling).
func TestClusterWatchWaitsForTheCluster(t *testing.T) {
	c := testenv.StartRedisCluster(t, 3)
	store := openStore(t, c.URL())
	for _, n := range c.Nodes {
		n.Kill(t)
	}
	rec := startWatch(t, store)
	time.Sleep(500 * time.Millisecond) // Watch's first attempts fail
	for _, n := range c.Nodes {
		n.Start(t)
	}
	c.WaitOK(t)
	rec.waitFor(t, "a sync per master", func(_ []string, s []error) bool { return len(s) >= 3 && allNil(s) })
	ctx := context.Background()
	for i, n := range c.Nodes {
		sid := fmt.Sprint("on-", i, "-")
		for c.NodeOf(t, store.Key(sid)) != i {
			sid += "x"
		}
		if err := n.Client(t).Set(ctx, store.Key(sid), "{}", 0).Err(); err != nil {
			t.Fatal(err)
		}
		rec.waitFor(t, fmt.Sprint("an event from master ", i), func(e []string, _ []error) bool { return has(e, "set "+sid) })
	}
}

// TestClusterWatchFollowsANewMaster: a master added while Watch runs (add-node
// and a reshard, as scaling out does) gets its own subscription, with
// notifications switched on, within Watch's topology interval.
func TestClusterWatchFollowsANewMaster(t *testing.T) {
	c := testenv.StartRedisCluster(t, 3)
	store := openStore(t, c.URL())
	rec := startWatch(t, store)
	rec.waitFor(t, "a sync per master", func(_ []string, s []error) bool { return len(s) == 3 && allNil(s) })
	start := time.Now()
	n := c.AddMaster(t, 1000)
	t.Logf("4th master added and 1000 slots moved in %v", time.Since(start))
	rec.waitFor(t, "a sync of the new master", func(_ []string, s []error) bool { return len(s) == 4 && allNil(s) })
	t.Logf("subscribed to the new master %v after it was added", time.Since(start))
	sid := "on-new-master-"
	for c.NodeOf(t, store.Key(sid)) != 3 {
		sid += "x"
	}
	if err := n.Client(t).Set(context.Background(), store.Key(sid), "{}", 0).Err(); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "an event from the new master", func(e []string, _ []error) bool { return has(e, "set "+sid) })
}

// TestClusterSyncSpeaksForEveryMaster: when one master refuses CONFIG (an
// ACL here), Watch reports the error at every later sync, also when
// another master resyncs fine, so that its caller keeps polling (it used to
// report each master alone, and the last one's nil stopped the polling).
func TestClusterSyncSpeaksForEveryMaster(t *testing.T) {
	c := testenv.StartRedisCluster(t, 3)
	ctx := context.Background()
	if err := c.Nodes[2].Client(t).Do(ctx, "ACL", "SETUSER", "default", "-config").Err(); err != nil {
		t.Fatalf("ACL SETUSER: %v", err)
	}
	store := openStore(t, c.URL())
	rec := startWatch(t, store)
	rec.waitFor(t, "a sync per master", func(_ []string, s []error) bool { return len(s) == 3 })
	// Master 0 restarts: its subscription resyncs, and confirms.
	c.Nodes[0].Kill(t)
	c.Nodes[0].Start(t)
	c.WaitOK(t)
	rec.waitFor(t, "the restarted master's resync", func(_ []string, s []error) bool { return len(s) >= 4 })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	first := -1
	for i, err := range rec.syncs {
		switch {
		case err != nil && !errors.Is(err, redisstore.ErrNotifications):
			t.Errorf("sync %d: %v, want ErrNotifications", i, err)
		case err != nil && first < 0:
			first = i
		case err == nil && first >= 0:
			t.Errorf("sync %d reports notifications on although master 2 refused CONFIG at sync %d: %v", i, first, rec.syncs)
		}
	}
	if first < 0 {
		t.Fatalf("no sync reported master 2's refusal: %v", rec.syncs)
	}
}
