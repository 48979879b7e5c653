package liveness

import "context"

// recentEvents is how many session events a Tracker remembers, to tell a
// handshake whether its session changed while it was being checked. A
// handshake that took longer than that many events is revalidated anyway.
const recentEvents = 4096

// Mark is a Tracker's count of session events at one moment. A door takes
// one (Tracker.Mark) before its gate check and hands it to Follow: when an
// event for the session came in between (a logout racing the handshake,
// which found the session not followed yet), the session is revalidated
// once followed, so the logout is not missed. The zero Mark means
// "unknown": the session is always revalidated.
type Mark struct {
	seq uint64
	set bool
}

// recentEvent is one session event in the ring.
type recentEvent struct {
	seq uint64
	sid string
}

// Mark returns the current Mark. It takes no lock: one per handshake.
func (t *Tracker) Mark() Mark {
	return Mark{seq: t.evseq.Load(), set: true}
}

// noteEventLocked remembers an event for sid. Called with t.mu held.
func (t *Tracker) noteEventLocked(sid string) {
	seq := t.evseq.Load() + 1
	t.recent[seq%recentEvents] = recentEvent{seq: seq, sid: sid}
	t.evseq.Store(seq) // after the ring: a Mark never runs ahead of it
}

// changedSinceLocked reports whether sid may have had an event since m.
// Called with t.mu held.
func (t *Tracker) changedSinceLocked(sid string, m Mark) bool {
	last := t.evseq.Load()
	if !m.set || last-m.seq >= recentEvents {
		return true // unknown, or more events than remembered
	}
	for seq := m.seq + 1; seq <= last; seq++ {
		if e := t.recent[seq%recentEvents]; e.seq == seq && e.sid == sid {
			return true
		}
	}
	return false
}

// recheckIfChangedLocked revalidates sid in the background when it may
// have changed since m. Called with t.mu held.
func (t *Tracker) recheckIfChangedLocked(sid string, m Mark) {
	if !t.changedSinceLocked(sid, m) {
		return
	}
	t.backgroundLocked(func() { t.Revalidate(context.Background(), sid) })
}
