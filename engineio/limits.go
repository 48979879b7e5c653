package engineio

import "time"

// CloseSoon closes the session with a WebSocket close code and reason
// after grace, as CloseWith does, or sooner when the client closes it
// first: either way the Observer hears reason. For a client the server
// has told to stop (socket.io's DISCONNECT) while it may still be
// sending: the session goes on reading, and dropping, what the client
// already sent, since closing a TCP connection with unread input resets
// it, and the client would lose the last words.
func (e *Session) CloseSoon(grace time.Duration, code int, reason string) {
	e.mu.Lock()
	closed := e.closed
	if !closed && e.endReason == "" {
		e.endReason = reason
	}
	e.mu.Unlock()
	if !closed {
		time.AfterFunc(grace, func() { e.CloseWith(code, reason) })
	}
}
