package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/redisstore"
)

// Read the session of a request's cookie, change it, save it where Express
// will find it.
func Example() {
	client, err := redisstore.OpenURL(os.Getenv("REDIS_URL"))
	if err != nil {
		panic(err)
	}
	store := redisstore.New(client, redisstore.Options{}) // connect-redis's defaults
	ver, _ := connectsid.NewVerifier(os.Getenv("SESSION_SECRET"))

	ctx := context.Background()
	sid, _, err := ver.FromHeader("connect.sid=s%3A…", "connect.sid")
	if err != nil {
		fmt.Println("refused:", connectsid.ErrorCode(err))
		return
	}
	// Like connect-redis, Get leaves cookie.expires to the key's TTL: the
	// gate (auth.Config.AcceptExpired) or sess.Expired judges it.
	sess, err := store.Get(ctx, sid)
	switch {
	case errors.Is(err, connectsid.ErrNoSession):
		fmt.Println("logged out")
		return
	case err != nil:
		fmt.Println("try again later:", err)
		return
	}
	sess.Set("lastSeenBy", "go")
	store.Set(ctx, sess) // the TTL connect-redis would give it
}
