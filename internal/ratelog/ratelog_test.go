package ratelog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestCounter(t *testing.T) {
	now := time.Unix(1000, 0)
	c := Counter[string]{Interval: time.Second, Now: func() time.Time { return now }}
	steps := []struct {
		key     string
		advance time.Duration
		n       int
		due     bool
	}{
		{"a", 0, 1, true}, // the first at once
		{"a", 0, 1, false},
		{"b", 0, 1, true}, // keys apart
		{"a", 500 * time.Millisecond, 2, false},
		{"a", 500 * time.Millisecond, 3, true}, // the interval passed: the count since
		{"a", 0, 1, false},
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		if n, due := c.Note(s.key); n != s.n || due != s.due {
			t.Errorf("step %d (%s): Note = %d, %v; want %d, %v", i, s.key, n, due, s.n, s.due)
		}
	}
}

type countingObserver map[string]int

func (o countingObserver) LimitHit(door, limit string) { o[door+" "+limit]++ }

func TestLimits(t *testing.T) {
	var buf bytes.Buffer
	obs := countingObserver{}
	asked := 0
	l := Limits{Log: slog.New(slog.NewTextHandler(&buf, nil)), Observer: obs}
	remote := func() string { asked++; return "192.0.2.1:5" }
	for range 3 {
		l.Hit("socket.io", "slow-client", remote)
	}
	l.Hit("ws", "slow-client", nil)
	if obs["socket.io slow-client"] != 3 || obs["ws slow-client"] != 1 {
		t.Errorf("the observer heard %v; want every hit", obs)
	}
	if n := strings.Count(buf.String(), "a client hit a limit"); n != 2 {
		t.Errorf("%d lines, want one per door and limit:\n%s", n, buf.String())
	}
	if asked != 1 || !strings.Contains(buf.String(), "last_remote=192.0.2.1:5") {
		t.Errorf("the address was asked %d times (want once, for the one line due):\n%s", asked, buf.String())
	}
}
