//go:build !linux

package wsconn

func newPoller() (poller, error) { return blockingPoller{}, nil }
