package liveness

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/expressbridge/expressbridge/connectsid"
)

// PingReuse is how long the probes (Healthz, Readyz, Ready) reuse a store
// ping's result: a flood of probes is then one ping per PingReuse, not
// one store round trip per probe (20,000 probes at once had emptied the
// store's connection pool, and logins failed store-unavailable). An
// answer is thus at most PingReuse plus one ping's time old.
const PingReuse = 500 * time.Millisecond

// pings coalesces the probes' store pings: callers arriving while one is
// in flight wait for it, and its result serves everyone for PingReuse.
type pings struct {
	mu     sync.Mutex
	flight chan struct{} // closed when the ping in flight is done; nil when none
	at     time.Time     // when the last result came
	err    error         // the last result
}

// ping is nil when the store answers within the Tracker's timeout, or
// cannot be pinged; otherwise it wraps connectsid.ErrStoreUnavailable.
// The answer may be one another caller got up to PingReuse ago. ctx
// bounds only this caller's wait: the ping itself runs to its own timeout.
func (t *Tracker) ping(ctx context.Context) error {
	p, ok := t.store.(Pinger)
	if !ok {
		return nil
	}
	c := &t.pings
	c.mu.Lock()
	if !c.at.IsZero() && time.Since(c.at) < PingReuse {
		err := c.err
		c.mu.Unlock()
		return err
	}
	flight := c.flight
	lead := flight == nil
	if lead {
		flight = make(chan struct{})
		c.flight = flight
	}
	c.mu.Unlock()
	if lead {
		// The leader pings for everyone: a caller gone does not cut it.
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.cfg.Timeout)
		err := p.Ping(pctx)
		cancel()
		if err != nil {
			err = errors.Join(connectsid.ErrStoreUnavailable, err)
		}
		c.mu.Lock()
		c.at, c.err, c.flight = time.Now(), err, nil
		c.mu.Unlock()
		close(flight)
		return err
	}
	select {
	case <-flight:
	case <-ctx.Done():
		return errors.Join(connectsid.ErrStoreUnavailable, ctx.Err())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}
