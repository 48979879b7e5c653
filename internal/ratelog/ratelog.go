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
type Counter struct {
	// Interval is the least time between two lines of one key (10 s when
	// zero).
	Interval time.Duration
	// Now returns the time (time.Now when nil), for tests.
	Now func() time.Time

	mu   sync.Mutex
	last map[string]time.Time
	n    map[string]int
}

// Note counts one event of key. When a line is due (the first event, or
// the first after Interval since the last line) it reports true and how
// many events of key there were since that line, this one included.
func (c *Counter) Note(key string) (n int, due bool) {
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
		c.last, c.n = make(map[string]time.Time), make(map[string]int)
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

// Limits logs the limits clients hit: one warning the first time, then at
// most one per Interval per door and limit, with how many there were
// since. It is the one line every door logs a hit limit with.
type Limits struct{ Counter }

// Hit counts one hit of limit on door and logs it when a line is due.
// remote is the client's address or ""; never a cookie or a session ID.
func (l *Limits) Hit(log *slog.Logger, door, limit, remote string) {
	n, due := l.Note(door + " " + limit)
	if !due {
		return
	}
	attrs := []slog.Attr{slog.String("door", door), slog.String("limit", limit), slog.Int("count", n)}
	if remote != "" {
		attrs = append(attrs, slog.String("last_remote", remote))
	}
	log.LogAttrs(context.Background(), slog.LevelWarn, "a client hit a limit", attrs...)
}
