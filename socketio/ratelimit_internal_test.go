package socketio

import (
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/engineio"
)

// TestBucket: a token bucket lets a burst through at once, then one event
// per 1/rate, and never saves more than its burst.
func TestBucket(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name  string
		rate  float64
		burst int
		at    []time.Duration // when each event comes
		want  string          // + taken, - dropped
	}{
		{"burst at once, then dropped", 10, 3, []time.Duration{0, 0, 0, 0, 0}, "+++--"},
		{"one per 1/rate after the burst", 10, 2, []time.Duration{0, 0, 0, 50 * ms, 100 * ms, 150 * ms, 200 * ms}, "++--+-+"},
		{"idle refills up to the burst only", 10, 2, []time.Duration{0, 0, 10 * time.Second, 10 * time.Second, 10 * time.Second}, "++++-"},
		{"at the rate, nothing dropped", 20, 1, []time.Duration{0, 50 * ms, 100 * ms, 150 * ms, 200 * ms}, "+++++"},
		{"half a token is not one", 2, 1, []time.Duration{0, 250 * ms, 500 * ms}, "+-+"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t0 := time.Now()
			so := &Socket{limit: newBucket(tc.rate, tc.burst, t0)}
			got := ""
			for _, d := range tc.at {
				if so.allowEvent(t0.Add(d)) {
					got += "+"
				} else {
					got += "-"
				}
			}
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// TestBucketShared: a socket's event takes a token from its own bucket and
// its user's only when both have one: a socket over its own limit does not
// spend its user's tokens, nor the other way round.
func TestBucketShared(t *testing.T) {
	t0 := time.Now()
	user := &userLimit{b: newBucket(1, 3, t0)}
	a := &Socket{limit: newBucket(1, 2, t0), user: user}
	b := &Socket{limit: newBucket(1, 5, t0), user: user}
	got := ""
	for _, so := range []*Socket{a, a, a, b, b, b} {
		if so.allowEvent(t0) {
			got += "+"
		} else {
			got += "-"
		}
	}
	if want := "++-+--"; got != want {
		t.Errorf("got %s, want %s (a's third over its own burst leaves the user's token for b)", got, want)
	}
}

// TestDefaultBurstsFitThePollingQueue: what the defaults promise, one
// user's burst relayed to everyone fits a long-polling receiver's queue,
// and a socket's burst fits its user's.
func TestDefaultBurstsFitThePollingQueue(t *testing.T) {
	if DefaultUserEventBurst >= engineio.DefaultSendQueue || DefaultEventBurst > DefaultUserEventBurst ||
		DefaultMaxEventsPerSecond > DefaultMaxUserEventsPerSecond {
		t.Errorf("bursts %d (socket) and %d (user), rates %v and %v, queue %d: want socket ≤ user < queue",
			DefaultEventBurst, DefaultUserEventBurst, DefaultMaxEventsPerSecond, DefaultMaxUserEventsPerSecond, engineio.DefaultSendQueue)
	}
}
