package liveness_test

import (
	"context"
	"log"

	"github.com/expressbridge/expressbridge/auth"
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
