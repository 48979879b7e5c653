package engineio

import "time"

// KeepingPollState returns how many open sessions keep a poll buffer or a
// waiting poll, or have no WebSocket: none should, once every session is
// on WebSocket and idle.
func (s *Server) KeepingPollState() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, e := range s.sessions {
		e.mu.Lock()
		if e.buf != nil || e.pollWake != nil || e.ws == nil {
			n++
		}
		e.mu.Unlock()
	}
	return n
}

// SetRefusedLife shortens how long a refused session lives, for a test.
func (s *Server) SetRefusedLife(d time.Duration) { s.refusedLife = d }

// PostBytes returns the POST body bytes login has reserved (budget.go).
func (s *Server) PostBytes(login string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.postBytes[login]
}
