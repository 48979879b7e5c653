package redisadapter_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/adapter/redisadapter"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// TestFleetRedisRestart: the bus's Redis (apart from the sessions', as
// with --pubsub-url) is killed and started again; the instances subscribe
// again by themselves (the Observer hears it) and broadcasts, Socket.IO and
// /ws, cross instances again.
func TestFleetRedisRestart(t *testing.T) {
	f := newFleet(t)
	bus := testenv.StartRedis(t)
	g0 := f.start("go0", bus.URL(), redisadapter.BusConfig{})
	g1 := f.start("go1", bus.URL(), redisadapter.BusConfig{})
	ann := f.login("ann")
	c0, c1 := f.dialSIO(g0, ann, "ann"), f.dialSIO(g1, ann, "ann")
	w0, w1 := f.dialWS(g0, ann, "ann"), f.dialWS(g1, ann, "ann")
	g0.ns.Emit("before", 1)
	c1.expect(`42["before",1]`)

	bus.Kill(t)
	g0.ns.Emit("during", 1) // local only: published to nobody
	c0.expect(`42["during",1]`)
	time.Sleep(500 * time.Millisecond)
	killed := time.Now()
	bus.Start(t)
	testenv.WaitFor(t, 10*time.Second, "both instances resubscribed", func() bool {
		// the adapter of "/" and the /ws relay, on each instance
		return g0.resubs.n.Load() >= 2 && g1.resubs.n.Load() >= 2
	})
	t.Logf("resubscribed %v after Redis was started again", time.Since(killed))
	g1.ns.Emit("after", 2)
	c0.expect(`42["after",2]`)
	c1.expect(`42["after",2]`)
	c1.none(`42["during"`, 0)
	w1.c.WriteMessage(1, []byte(`{"type":"say","text":"back"}`))
	expectMsg(t, w0.name, w0.msgs, `{"type":"said","user":"ann","text":"back"}`)
	expectMsg(t, w1.name, w1.msgs, `{"type":"said","user":"ann","text":"back"}`)
}

// TestFleetCluster: three Go instances on a real 3-master Redis Cluster,
// with classic Pub/Sub (the emitter's and createAdapter's) and with sharded
// Pub/Sub (createShardedAdapter's): broadcasts to all and to a room, /ws
// broadcasts, fetchSockets and socketsJoin cross instances; with classic
// Pub/Sub the emitter's push too.
func TestFleetCluster(t *testing.T) {
	f := newFleet(t)
	cluster := testenv.StartRedisCluster(t, 3)
	for _, sharded := range []bool{false, true} {
		t.Run(fmt.Sprintf("sharded=%v", sharded), func(t *testing.T) {
			f.t = t
			var ins []*instance
			for i := range 3 {
				ins = append(ins, f.start(fmt.Sprintf("go%d", i), cluster.URL(), redisadapter.BusConfig{Sharded: sharded}))
			}
			ann, bob := f.login("ann"), f.login("bob")
			var all, bobs []*sioClient
			var wss []*wsClient
			for _, in := range ins {
				a, b := f.dialSIO(in, ann, "ann"), f.dialSIO(in, bob, "bob")
				all = append(all, a, b)
				bobs = append(bobs, b)
				wss = append(wss, f.dialWS(in, ann, "ann"))
			}
			for i, in := range ins {
				in.ns.Emit("news", i)
				for _, c := range all {
					c.expect(fmt.Sprintf(`42["news",%d]`, i))
				}
			}
			ins[2].ns.Broadcast(roomOpts("user:bob"), "dm", "bob")
			for _, c := range bobs {
				c.expect(`42["dm","bob"]`)
			}
			wss[1].c.WriteMessage(1, []byte(`{"type":"say","text":"cluster"}`))
			for _, w := range wss {
				expectMsg(t, w.name, w.msgs, `{"type":"said","user":"ann","text":"cluster"}`)
			}
			got, err := ins[0].ns.FetchSockets(f.ctx, roomOpts("user:bob"))
			if err != nil || len(got) != 3 {
				t.Errorf("fetchSockets of bob: %d sockets, %v; want 3", len(got), err)
			}
			ins[1].ns.SocketsJoin(f.ctx, roomOpts("user:ann"), "ops")
			waitRoom(t, ins[1], "ops", 3)
			ins[0].ns.Broadcast(roomOpts("ops"), "ops-news", 1)
			for i, c := range all {
				if i%2 == 0 {
					c.expect(`42["ops-news",1]`)
				}
			}
			if !sharded {
				push(t, cluster.Nodes[0].URL(), "emit", "user:ann", "pushed", `1`)
				for i, c := range all {
					if i%2 == 0 {
						c.expect(`42["pushed",1]`)
					}
				}
			}
			for _, c := range all {
				c.none(`42["news"`, 0)
				c.none(`42["ops-news"`, 0)
				c.none(`42["dm"`, 0)
			}
		})
	}
}

// TestFleetSentinelFailover: two Go instances whose bus speaks through a
// Sentinel group; the master is killed, a replica promoted, and broadcasts
// (Socket.IO and /ws) cross instances again by themselves, on the new
// master.
func TestFleetSentinelFailover(t *testing.T) {
	f := newFleet(t)
	sen := testenv.StartSentinel(t)
	g0 := f.start("go0", sen.URL(), redisadapter.BusConfig{})
	g1 := f.start("go1", sen.URL(), redisadapter.BusConfig{})
	ann := f.login("ann")
	c0, c1 := f.dialSIO(g0, ann, "ann"), f.dialSIO(g1, ann, "ann")
	w0, w1 := f.dialWS(g0, ann, "ann"), f.dialWS(g1, ann, "ann")
	g0.ns.Emit("before", 1)
	c1.expect(`42["before",1]`)

	killed := time.Now()
	sen.KillMaster(t)
	// Broadcasts sent while the bus fails over are at most once: keep
	// sending until one crosses, then every later one must.
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		g1.ns.Emit("probe", i)
		c1.expect(fmt.Sprintf(`42["probe",%d]`, i)) // local delivery never stops
		if got := c0.tryExpect(`42["probe",`, 300*time.Millisecond); got != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no broadcast crossed instances within 30 s of the master's death")
		}
	}
	t.Logf("Socket.IO broadcasts cross again %v after the master was killed", time.Since(killed).Round(time.Millisecond))
	g1.ns.Emit("after", 2)
	c0.expect(`42["after",2]`)
	// The /ws relay has a subscription of its own, which may come back a
	// moment later: the same, until one crosses.
	for i := 0; ; i++ {
		w1.c.WriteMessage(1, []byte(fmt.Sprintf(`{"type":"say","text":"after failover %d"}`, i)))
		if got := tryMsg(w0.msgs, `{"type":"said","user":"ann","text":"after failover`, 300*time.Millisecond); got != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no /ws broadcast crossed instances within 30 s of the master's death")
		}
	}
	t.Logf("/ws broadcasts cross again %v after the master was killed", time.Since(killed).Round(time.Millisecond))
}
