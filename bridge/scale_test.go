package bridge_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/bridge"
	"github.com/expressbridge/expressbridge/internal/testenv"
	"github.com/expressbridge/expressbridge/internal/testrig"
)

// Scale-out: the bridge on a Redis Cluster and on Sentinel, with Express on
// node-redis 5's createCluster and createSentinel, every server real.

// newScaleHarness is newHarness without its Redis: the test starts a
// cluster or a Sentinel setup, then calls open.
func newScaleHarness(t *testing.T) *harness {
	t.Helper()
	return bareHarness(t)
}

// open starts Express with storeFlavor on url and opens the bridge's store
// on the same url.
func (h *harness) open(url, storeFlavor string) {
	h.t.Helper()
	h.use(testrig.Config{Secrets: secrets, RedisURL: url, App: testenv.NodeAppConfig{StoreFlavor: storeFlavor}, Timeout: 90 * time.Second})
}

// watchingAll waits until the bridge has logged n confirmed subscriptions.
func watchingAll(t *testing.T, h *harness, n int) {
	t.Helper()
	testenv.WaitFor(t, 10*time.Second, fmt.Sprintf("%d keyspace subscriptions", n), func() bool {
		return countOf(h.logs.String(), "watching session changes") >= n
	})
}

// TestClusterLogoutClosesOnEveryMaster: on a three-master cluster, a
// logout through Express (createCluster) closes the open connection of that
// session by the push (within revokeLimit) with 4401 logged-out, whichever
// master holds the key, and leaves the other connections open.
func TestClusterLogoutClosesOnEveryMaster(t *testing.T) {
	h := newScaleHarness(t)
	c := testenv.StartRedisCluster(t, 3)
	h.open(c.URL(), "connect-redis9-cluster")
	b := h.serve(bridge.Config{Watch: h.store.Watch})
	runLive(t, b)
	watchingAll(t, h, len(c.Nodes))

	type user struct {
		cookie string
		conn   *websocket.Conn
	}
	onMaster := make([]*user, len(c.Nodes))
	var others []*websocket.Conn
	for i := 0; i < 60 && (onMaster[0] == nil || onMaster[1] == nil || onMaster[2] == nil); i++ {
		name := fmt.Sprintf("user%02d", i)
		cookie, sid := h.login(name)
		conn := mustDial(t, b.ws, cookie, name)
		if n := c.NodeOf(t, h.store.Key(sid)); onMaster[n] == nil {
			onMaster[n] = &user{cookie, conn}
		} else {
			others = append(others, conn)
		}
	}
	for n, u := range onMaster {
		if u == nil {
			t.Fatalf("60 logins and none on master %d", n)
		}
		start := time.Now()
		h.app.Logout(h.ctx, t, u.cookie)
		expectEnded(t, u.conn, revokeLimit, bridge.ReasonLoggedOut)
		t.Logf("master %d: logout to close frame %v", n, time.Since(start))
	}
	for _, conn := range others {
		send(t, conn, map[string]string{"type": "whoami"})
		if m := readMsg(t, conn); m.Type != "session" {
			t.Fatalf("a connection whose session stayed: %+v", m)
		}
	}
}

// TestSentinelFailoverUnderHandshakeLoad: the bridge reads sessions through
// the sentinels while clients keep opening connections; the master is
// killed. Every handshake is accepted or refused 503 store-unavailable
// (never a 401, never slower than the handshake timeout), handshakes are
// accepted again within a few seconds without any restart, and a logout
// through Express (createSentinel) on the new master closes a connection.
func TestSentinelFailoverUnderHandshakeLoad(t *testing.T) {
	h := newScaleHarness(t)
	s := testenv.StartSentinel(t)
	h.open(s.URL(), "connect-redis9-sentinel")
	b := h.serve(bridge.Config{Watch: h.store.Watch})
	runLive(t, b)
	watchingAll(t, h, 1)

	sids := make([]string, 64)
	pipe := h.rdb.Pipeline()
	exp := time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")
	for i := range sids {
		sids[i] = fmt.Sprintf("load-%06d-abcdefghijklmnopqrstuv", i)
		pipe.Set(h.ctx, h.store.Key(sids[i]), `{"cookie":{"originalMaxAge":3600000,"expires":"`+exp+
			`","httpOnly":true,"path":"/","sameSite":"lax"},"loggedIn":true,"username":"u`+fmt.Sprint(i)+`"}`, time.Hour)
	}
	pipe.Do(h.ctx, "WAIT", 1, 2000) // on the replica too, so that the failover loses none
	if _, err := pipe.Exec(h.ctx); err != nil {
		t.Fatal(err)
	}
	stayCookie, _ := h.login("Stay")
	stay := mustDial(t, b.ws, stayCookie, "Stay")

	load := startHandshakeLoad(t, b, h, sids, 4)
	testenv.WaitFor(t, 10*time.Second, "handshakes before the failover", func() bool { return load.accepted.Load() >= 50 })
	killed := time.Now()
	old := s.Master(t)
	m := s.KillMaster(t)
	promoted := time.Since(killed)
	acceptedAtPromotion := load.accepted.Load()
	testenv.WaitFor(t, 15*time.Second, "handshakes accepted on the new master", func() bool {
		return load.accepted.Load() >= acceptedAtPromotion+50
	})
	recovered := time.Since(killed)
	load.stop()
	t.Logf("master %s killed: %s promoted after %v, 50 handshakes accepted again after %v; "+
		"load: %d accepted, %d refused 503 store-unavailable, slowest answer %v",
		old.Addr(), m.Addr(), promoted, recovered, load.accepted.Load(), load.unavailable.Load(), load.slowest())
	for _, f := range load.failures() {
		t.Error(f)
	}

	// Revocation on the new master: Watch moved its subscription there.
	watchingAll(t, h, 2)
	testenv.WaitFor(t, 15*time.Second, "Express on the new master", func() bool {
		st, _ := h.app.PostJSON(h.ctx, t, "/test/set", "", map[string]any{"probe": true})
		return st == http.StatusOK
	})
	cookie, _ := h.login("After")
	after := mustDial(t, b.ws, cookie, "After")
	start := time.Now()
	h.app.Logout(h.ctx, t, cookie)
	expectEnded(t, after, revokeLimit, bridge.ReasonLoggedOut)
	t.Logf("logout on the new master to close frame: %v", time.Since(start))
	start = time.Now()
	h.app.Logout(h.ctx, t, stayCookie) // a session from before the failover, on the new master now
	expectEnded(t, stay, revokeLimit, bridge.ReasonLoggedOut)
	t.Logf("logout of a session from before the failover to close frame: %v", time.Since(start))
}

// TestClusterMasterDownUnderHandshakeLoad: while one of three masters is
// killed, handshakes for sessions on every master are answered accepted or
// 503 store-unavailable, never 401 (the cluster refuses every query once it
// marks the master failed). Restarted (empty: the test servers keep no
// data), the master rejoins; the bridge accepts again the sessions of the
// other masters, and its subscription on the restarted master is back: a
// logout of a session stored there after the restart closes its connection.
func TestClusterMasterDownUnderHandshakeLoad(t *testing.T) {
	h := newScaleHarness(t)
	c := testenv.StartRedisCluster(t, 3)
	h.open(c.URL(), "connect-redis9-cluster")
	b := h.serve(bridge.Config{Watch: h.store.Watch})
	runLive(t, b)
	watchingAll(t, h, len(c.Nodes))

	const down = 1
	sids := make([]string, 0, 48)
	pipe := h.rdb.Pipeline()
	exp := time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")
	for i := 0; len(sids) < cap(sids); i++ {
		sid := fmt.Sprintf("load-%06d-abcdefghijklmnopqrstuv", i)
		if c.NodeOf(t, h.store.Key(sid)) == down {
			continue // the load keeps to sessions that survive the restart
		}
		sids = append(sids, sid)
		pipe.Set(h.ctx, h.store.Key(sid), `{"cookie":{"originalMaxAge":3600000,"expires":"`+exp+
			`","httpOnly":true,"path":"/","sameSite":"lax"},"loggedIn":true,"username":"u`+fmt.Sprint(i)+`"}`, time.Hour)
	}
	if _, err := pipe.Exec(h.ctx); err != nil {
		t.Fatal(err)
	}
	load := startHandshakeLoad(t, b, h, sids, 4)
	testenv.WaitFor(t, 10*time.Second, "handshakes before the kill", func() bool { return load.accepted.Load() >= 50 })
	killed := time.Now()
	c.Nodes[down].Kill(t)
	testenv.WaitFor(t, 15*time.Second, "503s once the cluster is down", func() bool { return load.unavailable.Load() >= 20 })
	firstRefusal := time.Since(killed)
	c.Nodes[down].Start(t)
	c.WaitOK(t)
	acceptedAtRestart := load.accepted.Load()
	testenv.WaitFor(t, 15*time.Second, "handshakes accepted after the restart", func() bool {
		return load.accepted.Load() >= acceptedAtRestart+50
	})
	load.stop()
	t.Logf("master %d killed: 20 refusals 503 after %v, accepted again %v after the kill; "+
		"load: %d accepted, %d refused 503 store-unavailable, slowest answer %v",
		down, firstRefusal, time.Since(killed), load.accepted.Load(), load.unavailable.Load(), load.slowest())
	for _, f := range load.failures() {
		t.Error(f)
	}

	// The restarted master's subscription: a session Express stores there
	// now is revoked by its logout.
	watchingAll(t, h, len(c.Nodes)+1)
	for i := 0; ; i++ {
		if i == 60 {
			t.Fatalf("60 logins and none on the restarted master")
		}
		name := fmt.Sprintf("after%02d", i)
		cookie, sid := h.login(name)
		if c.NodeOf(t, h.store.Key(sid)) != down {
			continue
		}
		conn := mustDial(t, b.ws, cookie, name)
		start := time.Now()
		h.app.Logout(h.ctx, t, cookie)
		expectEnded(t, conn, revokeLimit, bridge.ReasonLoggedOut)
		t.Logf("logout on the restarted master to close frame: %v", time.Since(start))
		break
	}
}
