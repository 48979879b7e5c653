package bridge

import "context"

// recentEvents is how many session events the server remembers, to tell a
// handshake whether its session changed while it was being checked. A
// handshake that took longer than that many events is revalidated anyway.
const recentEvents = 4096

// EventMark is the server's count of session events at one moment. A door
// takes one (Mark) before its gate check and hands it to Accept or Hold:
// when an event for the session came in between (a logout racing the
// handshake, which found the session not open yet), the session is
// revalidated once it is registered, so the logout is not missed. The zero
// EventMark means "unknown": the session is always revalidated.
type EventMark struct {
	seq uint64
	set bool
}

// recentEvent is one session event in the ring.
type recentEvent struct {
	seq uint64
	sid string
}

// Mark returns the current EventMark. It takes no lock: one per handshake.
func (s *Server) Mark() EventMark {
	return EventMark{seq: s.evseq.Load(), set: true}
}

// noteEventLocked remembers an event for sid. Called with s.mu held.
func (s *Server) noteEventLocked(sid string) {
	seq := s.evseq.Load() + 1
	s.recent[seq%recentEvents] = recentEvent{seq: seq, sid: sid}
	s.evseq.Store(seq) // after the ring: a Mark never runs ahead of it
}

// changedSinceLocked reports whether sid may have had an event since m.
// Called with s.mu held.
func (s *Server) changedSinceLocked(sid string, m EventMark) bool {
	last := s.evseq.Load()
	if !m.set || last-m.seq >= recentEvents {
		return true // unknown, or more events than remembered
	}
	for seq := m.seq + 1; seq <= last; seq++ {
		if e := s.recent[seq%recentEvents]; e.seq == seq && e.sid == sid {
			return true
		}
	}
	return false
}

// recheckIfChangedLocked revalidates sid in the background when it may
// have changed since m. Called with s.mu held, the server not closed.
func (s *Server) recheckIfChangedLocked(sid string, m EventMark) {
	if sid == "" || !s.changedSinceLocked(sid, m) {
		return
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		s.Revalidate(context.Background(), sid)
	}()
}
