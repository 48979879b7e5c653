package testenv

import (
	"strings"
	"testing"
	"time"
)

func TestWaitFor(t *testing.T) {
	n := 0
	WaitFor(t, time.Second, "the third call", func() bool { n++; return n == 3 })
	if n != 3 {
		t.Errorf("cond called %d times, want 3", n)
	}
	start := time.Now()
	msg := fatalMessage(t, func(tb testing.TB) { WaitFor(tb, 50*time.Millisecond, "never", func() bool { return false }) })
	if d := time.Since(start); d < 50*time.Millisecond || d > time.Second {
		t.Errorf("WaitFor gave up after %v, want just over 50ms", d)
	}
	if !strings.Contains(msg, "never") || !strings.Contains(msg, "50ms") {
		t.Errorf("WaitFor's failure %q: want what it waited for and how long", msg)
	}
}
