package testenv

import (
	"testing"
	"time"
)

// waitPoll is how often WaitFor asks again: short next to every timeout the
// tests use, long enough not to busy a loaded 2-core machine.
const waitPoll = 10 * time.Millisecond

// WaitFor calls cond every 10 ms until it reports true, and fails the test
// (t.Fatalf, naming what and timeout) when it has not within timeout. cond
// is called at least once, from the caller's goroutine.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", timeout, what)
		}
		time.Sleep(waitPoll)
	}
}
