// Command expressbridge is the library's command line: serve runs
// expressbridge.New from flags (the Socket.IO door, the WebSocket door with
// the demo chat, the fan-out) beside an unmodified Express app; doctor
// prints auth/diagnose's diagnosis of a cookie; unsign, sign, session and
// store verify and sign connect.sid cookies with the app's secrets and
// read, list, touch and destroy its session records (connect-redis or
// connect-pg-simple) exactly as the app stores them.
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
