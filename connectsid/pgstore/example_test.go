package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/pgstore"
)

// Read the session of a request's cookie, change it, save it where Express
// (connect-pg-simple) will find it.
func Example() {
	ctx := context.Background()
	pool, err := pgstore.OpenURL(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		panic(err)
	}
	defer pool.Close()
	store, err := pgstore.New(pool, pgstore.Options{}) // connect-pg-simple's defaults: table "session"
	if err != nil {
		panic(err)
	}
	ver, _ := connectsid.NewVerifier(os.Getenv("SESSION_SECRET"))

	sid, _, err := ver.FromHeader("connect.sid=s%3A…", "connect.sid")
	if err != nil {
		fmt.Println("refused:", connectsid.ErrorCode(err))
		return
	}
	sess, err := store.Get(ctx, sid)
	switch {
	case errors.Is(err, connectsid.ErrNoSession), errors.Is(err, connectsid.ErrExpired):
		fmt.Println("logged out")
		return
	case err != nil:
		fmt.Println("try again later:", err)
		return
	}
	sess.Set("lastSeenBy", "go")
	store.Set(ctx, sess) // the expire connect-pg-simple would give it
}

// Learn of logouts as they happen when the trigger is installed, and poll
// all open sessions in one query each second when it is not.
func ExampleStore_Watch() {
	ctx := context.Background()
	pool, _ := pgstore.OpenURL(ctx, os.Getenv("DATABASE_URL"))
	store, _ := pgstore.New(pool, pgstore.Options{})

	// Once, as the table's owner (or print store.NotifySQL() for a DBA).
	if err := store.InstallNotify(ctx); err != nil {
		fmt.Println("no live revocation:", err)
	}
	go store.Watch(ctx,
		func(sid string, op connectsid.Op) {
			fmt.Println("session", connectsid.Redact(sid), op) // del, expired or set
		},
		func(err error) {
			if err != nil {
				fmt.Println("not watching, polling:", err)
			}
		})
}

// Revalidate every open session with one round trip.
func ExampleStore_GetMany() {
	ctx := context.Background()
	pool, _ := pgstore.OpenURL(ctx, os.Getenv("DATABASE_URL"))
	store, _ := pgstore.New(pool, pgstore.Options{Timeout: time.Second})

	open := []string{"sid-a", "sid-b"}
	err := store.GetMany(ctx, open, func(sid string, sess *connectsid.Session, err error) {
		if err != nil { // no session, expired, malformed: what Get would say
			fmt.Println("close", connectsid.Redact(sid), connectsid.ErrorCode(err))
		}
	})
	if err != nil {
		return // the database is down: keep the connections, try again later
	}
}
