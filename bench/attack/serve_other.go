//go:build !linux

package attack

import (
	"context"
	"errors"
)

// ServeOptions are what RunServe starts and runs.
type ServeOptions struct {
	Bridge, Node, Repo string
	Attacks            []Attack
	Sizes              Sizes
	Logf               func(format string, args ...any)
}

// RunServe reads serve's memory from /proc: Linux only.
func RunServe(context.Context, ServeOptions) ([]Result, error) {
	return nil, errors.New("ebload attack measures serve through /proc: Linux only")
}
