package liveness

import (
	"container/heap"
	"context"
	"time"

	"github.com/expressbridge/expressbridge/connectsid"
)

// session is the state of one followed session, guarded by Tracker.mu.
type session struct {
	sid       string
	expires   time.Time // cookie.expires of the last load; zero for none
	queued    int       // index in Tracker.expiries, or -1
	lastTouch time.Time
}

// expiryQueue orders followed sessions by cookie.expires; one timer, for
// the earliest, serves them all. It implements heap.Interface.
type expiryQueue []*session

func (q expiryQueue) Len() int           { return len(q) }
func (q expiryQueue) Less(i, j int) bool { return q[i].expires.Before(q[j].expires) }
func (q expiryQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].queued, q[j].queued = i, j
}
func (q *expiryQueue) Push(x any) {
	l := x.(*session)
	l.queued = len(*q)
	*q = append(*q, l)
}
func (q *expiryQueue) Pop() any {
	old := *q
	l := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	l.queued = -1
	return l
}

// trackLocked starts the state of a session's first hold. Called with
// t.mu held.
func (t *Tracker) trackLocked(sid string, sess *connectsid.Session) {
	if t.live[sid] != nil {
		return
	}
	l := &session{sid: sid, lastTouch: time.Now(), queued: -1}
	t.live[sid] = l
	t.armExpiry(l, sess)
}

// untrackLocked drops the state of a session without holds. Called with
// t.mu held.
func (t *Tracker) untrackLocked(sid string) {
	if l := t.live[sid]; l != nil {
		if l.queued >= 0 {
			heap.Remove(&t.expiries, l.queued)
		}
		delete(t.live, sid)
	}
}

// armExpiry schedules a revalidation at the session's cookie.expires, so
// that it ends on time even if the store reports the expiry late or never.
// Called with t.mu held.
func (t *Tracker) armExpiry(l *session, sess *connectsid.Session) {
	if l.queued >= 0 {
		heap.Remove(&t.expiries, l.queued)
	}
	l.expires = time.Time{}
	exp := sess.Cookie().Expires
	if exp == nil {
		return
	}
	l.expires = *exp
	if !l.expires.After(time.Now()) {
		return // an expired record the gate accepts (AcceptExpired): the TTL decides
	}
	heap.Push(&t.expiries, l)
	t.resetExpiryTimerLocked()
}

// resetExpiryTimerLocked points the one expiry timer at the earliest
// expiry. Called with t.mu held.
func (t *Tracker) resetExpiryTimerLocked() {
	if len(t.expiries) == 0 || t.closed {
		return
	}
	d := time.Until(t.expiries[0].expires)
	if t.expiryTimer == nil {
		t.expiryTimer = time.AfterFunc(d, t.expire)
	} else {
		t.expiryTimer.Reset(d)
	}
}

// expire revalidates every session whose cookie.expires has passed.
func (t *Tracker) expire() {
	now := time.Now()
	t.mu.Lock()
	var due []string
	for len(t.expiries) > 0 && !t.expiries[0].expires.After(now) {
		due = append(due, heap.Pop(&t.expiries).(*session).sid)
	}
	t.resetExpiryTimerLocked()
	t.mu.Unlock()
	for _, sid := range due {
		t.background(func() { t.Revalidate(context.Background(), sid) })
	}
}
