package socketio

// Catch-all listeners ----------------------------------------------------
//
// socket.onAny, socket.onAnyOutgoing and their removal.

// AnyListener hears an event with its name and arguments (acknowledgement
// callbacks are not among them).
type AnyListener func(event string, args Args)

type anyListener struct{ f AnyListener }

// OnAny registers f to hear every event the client sends, before the
// socket's event middleware and the event's handler (socket.onAny); it
// runs on the socket's reading goroutine. The returned func removes it
// (socket.offAny(f)).
func (so *Socket) OnAny(f AnyListener) (off func()) { return so.addAny(&so.anyIn, f) }

// OnAnyOutgoing registers f to hear every event sent to the client, by
// Emit, EmitWithAck or a broadcast, before it is written
// (socket.onAnyOutgoing); acknowledgements are not events. It runs on the
// emitting goroutine. The returned func removes it.
func (so *Socket) OnAnyOutgoing(f AnyListener) (off func()) { return so.addAny(&so.anyOut, f) }

// OffAny removes every OnAny listener (socket.offAny()).
func (so *Socket) OffAny() { so.clearAny(&so.anyIn) }

// OffAnyOutgoing removes every OnAnyOutgoing listener (socket.offAnyOutgoing()).
func (so *Socket) OffAnyOutgoing() { so.clearAny(&so.anyOut) }

func (so *Socket) addAny(list *[]*anyListener, f AnyListener) func() {
	l := &anyListener{f}
	so.mu.Lock()
	*list = append((*list)[:len(*list):len(*list)], l) // a copy: listeners run from a snapshot
	so.mu.Unlock()
	return func() {
		so.mu.Lock()
		defer so.mu.Unlock()
		for i, x := range *list {
			if x == l {
				*list = append((*list)[:i:i], (*list)[i+1:]...)
				return
			}
		}
	}
}

func (so *Socket) clearAny(list *[]*anyListener) {
	so.mu.Lock()
	*list = nil
	so.mu.Unlock()
}

// notifyAny runs the listeners of list with event and args.
func (so *Socket) notifyAny(list *[]*anyListener, event string, args Args) {
	so.mu.Lock()
	ls := *list
	so.mu.Unlock()
	for _, l := range ls {
		l.f(event, args)
	}
}

// writeEvent writes an EVENT packet, after the OnAnyOutgoing listeners
// have heard it (decoded once per packet, only when some listen).
func (so *Socket) writeEvent(p *Encoded) bool {
	so.mu.Lock()
	gone, ls := so.gone, so.anyOut
	so.mu.Unlock()
	if gone {
		return false
	}
	if len(ls) > 0 {
		if name, args, ok := p.event(); ok {
			for _, l := range ls {
				l.f(name, Args{raw: args, bin: p.Attachments})
			}
		}
	}
	return so.deliver(p)
}
