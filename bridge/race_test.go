package bridge_test

import (
	"context"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/bridge"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// slowStore is the harness's real store whose answers wait for the test:
// the moment between reading a record and registering the connection,
// stretched so that a logout can land in it.
type slowStore struct {
	auth.Store
	read    chan struct{} // a Get has read the record
	release chan struct{} // the Get may answer
}

func (s slowStore) Get(ctx context.Context, sid string) (*connectsid.Session, error) {
	sess, err := s.Store.Get(ctx, sid)
	s.read <- struct{}{}
	<-s.release
	return sess, err
}

// TestLogoutDuringHandshake: a logout that lands after the gate read the
// record but before the connection is registered (its keyspace event finds
// no open session) still closes the connection, logged-out.
func TestLogoutDuringHandshake(t *testing.T) {
	h := newHarness(t)
	slow := slowStore{Store: h.store, read: make(chan struct{}, 1), release: make(chan struct{})}
	b := h.serve(bridge.Config{Gate: h.gate(auth.Config{Store: slow}), Watch: h.store.Watch})
	runLive(t, b)
	testenv.WaitFor(t, ioWait, "the keyspace watch", func() bool { return contains(h.logs.String(), "watching session changes") })
	cookie, _ := h.login("Racer")

	dialed := make(chan error, 1)
	var conn *websocket.Conn
	go func() {
		c, _, err := dial(t, b.ws, cookie)
		conn = c
		dialed <- err
	}()
	<-slow.read                        // the record is read: the session is valid
	h.app.Logout(h.ctx, t, cookie)     // Express deletes it meanwhile
	time.Sleep(200 * time.Millisecond) // the del event reaches the bridge, which has no such session open yet
	close(slow.release)
	if err := <-dialed; err != nil {
		t.Fatalf("the handshake itself: %v", err)
	}
	expectEnded(t, conn, 3*time.Second, bridge.ReasonLoggedOut)
}
