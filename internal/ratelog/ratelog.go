// Package ratelog counts a recurring event so that it is logged once per
// interval with how many times it happened: a flood of refusals or accept
// errors never becomes a flood of log lines.
package ratelog

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Counter counts events by key. The zero value counts with time.Now and a
// 10 s interval; it is safe for concurrent use.
type Counter[K comparable] struct {
	// Interval is the least time between two lines of one key (10 s when
	// zero).
	Interval time.Duration
	// Now returns the time (time.Now when nil), for tests.
	Now func() time.Time

	mu   sync.Mutex
	last map[K]time.Time
	n    map[K]int
}

// Note counts one event of key. When a line is due (the first event, or
// the first after Interval since the last line) it reports true and how
// many events of key there were since that line, this one included.
func (c *Counter[K]) Note(key K) (n int, due bool) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	interval := c.Interval
	if interval <= 0 {
		interval = 10 * time.Second
	}
	t := now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil {
		c.last, c.n = make(map[K]time.Time), make(map[K]int)
	}
	c.n[key]++
	last, seen := c.last[key]
	if seen && t.Sub(last) < interval {
		return c.n[key], false
	}
	n = c.n[key]
	c.last[key], c.n[key] = t, 0
	return n, true
}

// Observer hears each limit a client hits (metrics.Metrics is one).
type Observer interface{ LimitHit(door, limit string) }

// Limits logs the limits clients hit: one warning the first time, then at
// most one per Interval per door and limit, with how many there were
// since, and tells Observer of each. It is the one place every door notes
// a hit limit; the zero value logs to slog.Default and tells no one.
type Limits struct {
	Log      *slog.Logger
	Observer Observer // nil: not counted
	Counter  Counter[limitKey]
}

type limitKey struct{ door, limit string }

// Hit notes one hit of limit on door. remote, when not nil, gives the
// client's address for the log line, asked only when a line is due (never
// a cookie or a session ID).
func (l *Limits) Hit(door, limit string, remote func() string) {
	if l.Observer != nil {
		l.Observer.LimitHit(door, limit)
	}
	n, due := l.Counter.Note(limitKey{door, limit})
	if !due {
		return
	}
	attrs := []slog.Attr{slog.String("door", door), slog.String("limit", limit), slog.Int("count", n)}
	if remote != nil {
		if a := remote(); a != "" {
			attrs = append(attrs, slog.String("last_remote", a))
		}
	}
	log := l.Log
	if log == nil {
		log = slog.Default()
	}
	log.LogAttrs(context.Background(), slog.LevelWarn, "a client hit a limit", attrs...)
}
