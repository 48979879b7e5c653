// Command expressbridge inspects and manages the sessions of an Express app
// that uses express-session with connect-redis: it verifies and signs
// connect.sid cookies with the app's secrets, and reads, lists, touches and
// destroys the session records in Redis exactly as the app stores them.
//
// Run "expressbridge --help" for the commands, their flags and the
// environment variables that set them.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
