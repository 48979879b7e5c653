package liveness_test

import (
	"context"
	"errors"
	"log"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/redisstore"
	"github.com/expressbridge/expressbridge/liveness"
)

// Example follows one session for a door of one's own: the gate checks
// the cookie, Follow hears the session end (a logout in the Express app,
// its expiry), and the door tells its client in its own terms.
func Example() {
	ctx := context.Background()
	var gate *auth.Gate         // from auth.New
	var store *redisstore.Store // the gate's store
	live, err := liveness.New(liveness.Config{Gate: gate, Watch: store.Watch})
	if err != nil {
		log.Fatal(err)
	}
	go live.Run(ctx) // without it, no session is seen to end

	since := live.Mark() // before the check: a logout racing it is not missed
	sess, err := gate.CheckCookie(ctx, "connect.sid=s%3A…")
	if err != nil {
		log.Fatal(err)
	}
	hold, err := live.Follow(sess.ID, sess.Record, since, func(r liveness.Reason) {
		if r.SessionEnded() {
			log.Printf("tell the client to log in again: %s", r)
		}
		// … close the client, then hold.Release()
	})
	if err != nil {
		log.Fatal(err)
	}
	defer hold.Release()
}

// ExampleHold_Save counts a client's messages in its Express session, as
// an Express route would with req.session.count++: the record is loaded
// again, changed, and written unless Express wrote it meanwhile; Express
// sees count on its next request. A session destroyed meanwhile is not
// recreated: the save fails with connectsid.ErrNoSession and the hold ends
// logged-out.
func ExampleHold_Save() {
	var hold *liveness.Hold // from Tracker.Follow (a door's Conn.SaveSession and Socket.SaveSession call it)
	err := hold.Save(context.Background(), func(sess *connectsid.Session) error {
		var n int
		if err := sess.Get("count", &n); err != nil && !errors.Is(err, connectsid.ErrNoField) {
			return err
		}
		return sess.Set("count", n+1)
	})
	if errors.Is(err, connectsid.ErrNoSession) {
		log.Print("logged out meanwhile; the connection is ending")
	}
}
