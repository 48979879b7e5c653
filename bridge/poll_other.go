//go:build !linux

package bridge

func newPoller() (poller, error) { return blockingPoller{}, nil }
