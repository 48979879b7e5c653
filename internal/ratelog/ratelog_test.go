package ratelog

import (
	"testing"
	"time"
)

func TestCounter(t *testing.T) {
	now := time.Unix(1000, 0)
	c := Counter{Interval: time.Second, Now: func() time.Time { return now }}
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
