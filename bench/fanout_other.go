//go:build !linux

package bench

import (
	"context"
	"errors"
	"io"
	"net"
)

var errLinuxOnly = errors.New("the raw client (fan-out, scale) needs Linux: epoll")

func runFanout(o Options, spec ServerSpec, _ Shared, _ string, _ []Session, _ func(string, ...any)) FanoutResult {
	return FanoutResult{Key: spec.Key, Name: spec.Name, Conns: o.FanoutConns, Error: errLinuxOnly.Error()}
}

// ServeFloor needs Linux.
func ServeFloor(net.Listener, io.Writer) error { return errLinuxOnly }

// ScaleResult is `ebload scale`'s result (Linux only).
type ScaleResult struct{ Error string }

// RunScale needs Linux.
func RunScale(context.Context, Options, int, int) (*ScaleResult, error) { return nil, errLinuxOnly }
