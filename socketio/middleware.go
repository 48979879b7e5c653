package socketio

import (
	"encoding/json"
	"errors"
)

// Middleware ----------------------------------------------------------------
//
// socket.io's io.use(fn) and socket.use(fn): a namespace's middleware runs
// for each socket before it connects (after the gate, which always runs
// first and cannot be skipped), a socket's middleware for each event the
// client sends.

// ConnectError is a middleware's refusal that the client reads as
// connect_error with err.message Message and err.data Data, as Node's
// next(err) with err.data. Any other error refuses with its Error() as the
// message and no data.
type ConnectError struct {
	Message string
	// Data is encoded with encoding/json; nil sends none.
	Data any
}

func (e *ConnectError) Error() string { return e.Message }

// Middleware runs before a socket joins its namespace: it may read the
// socket's handshake and auth, set its Data, join rooms; an error refuses
// the socket (see ConnectError for what the client sees). Middleware of
// one session runs on its reading goroutine: one that blocks holds back
// that session's next packets.
type Middleware func(so *Socket) error

// Use adds f to the namespace's middleware, run in the order added, until
// one refuses (io.of(name).use(fn)).
func (n *Namespace) Use(f Middleware) {
	n.mu.Lock()
	n.middleware = append(n.middleware, f)
	n.mu.Unlock()
}

// runMiddleware runs the namespace's middleware for so, and returns the
// CONNECT_ERROR of the first refusal, or nil.
func (n *Namespace) runMiddleware(so *Socket) *connectError {
	fns, _, _, _ := n.hooks()
	for _, f := range fns {
		err := f(so)
		if err == nil {
			continue
		}
		var ce *ConnectError
		if errors.As(err, &ce) {
			out := &connectError{Message: ce.Message}
			if ce.Data != nil {
				if b, jerr := json.Marshal(ce.Data); jerr == nil {
					out.Data = json.RawMessage(b)
				}
			}
			return out
		}
		return &connectError{Message: err.Error()}
	}
	return nil
}

// EventMiddleware runs for each event the client sends, before its
// handler (after OnAny's listeners, as in socket.io): an error drops the
// event, its handler never runs, and the socket's OnError listeners get
// the error (socket.on("error") in Node).
type EventMiddleware func(so *Socket, event string, args Args) error

// Use adds f to the socket's event middleware, run in the order added
// (socket.use(fn)).
func (so *Socket) Use(f EventMiddleware) {
	so.mu.Lock()
	so.fns = append(so.fns, f)
	so.mu.Unlock()
}

// OnError registers f to run when the socket's event middleware refuses
// an event, with its error (socket.on("error", fn)).
func (so *Socket) OnError(f func(err error)) {
	so.mu.Lock()
	so.onError = append(so.onError, f)
	so.mu.Unlock()
}

// runEventMiddleware runs the socket's event middleware; on a refusal it tells
// the OnError listeners and reports false.
func (so *Socket) runEventMiddleware(event string, args Args) bool {
	so.mu.Lock()
	fns, onErr := so.fns, so.onError
	so.mu.Unlock()
	for _, f := range fns {
		if err := f(so, event, args); err != nil {
			for _, h := range onErr {
				h(err)
			}
			return false
		}
	}
	return true
}

// Data --------------------------------------------------------------------

// SetData sets the socket's data (socket.data = v): what FetchSockets
// returns for it, here and to every instance of the fleet, encoded with
// encoding/json.
func (so *Socket) SetData(v any) {
	so.mu.Lock()
	so.data = v
	so.mu.Unlock()
}

// Data returns what SetData set, or nil. A pointer set there may be
// changed in place, as socket.data's fields are in Node; the caller keeps
// that safe for concurrent use.
func (so *Socket) Data() any {
	so.mu.Lock()
	defer so.mu.Unlock()
	return so.data
}

// fleetData is the socket's data as fetchSockets carries it: Data's JSON
// form as generic values (map[string]any, []any, float64, …), so that a
// Node instance reads it as it would a Node socket's; {"user": USER} when
// no data was set.
func (so *Socket) fleetData() any {
	d := so.Data()
	if d == nil {
		return map[string]any{"user": so.User()}
	}
	b, err := json.Marshal(d)
	if err != nil {
		return map[string]any{}
	}
	var v any
	if json.Unmarshal(b, &v) != nil {
		return map[string]any{}
	}
	return v
}
