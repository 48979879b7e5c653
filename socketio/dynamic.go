package socketio

import (
	"encoding/json"
	"regexp"
	"slices"
)

// Dynamic namespaces ---------------------------------------------------
//
// io.of(/^\/org-\d+$/) and io.of((name, auth, next) => next(null, ok)):
// a parent namespace accepts, on its first CONNECT, a namespace no one
// registered; the child is registered then, and the parent's handlers,
// hooks and middleware apply to it.

// OfMatch returns a parent namespace for the names match accepts: a
// CONNECT to a namespace that is not registered makes it, once, a child of
// the first parent whose match accepts its name and the CONNECT's auth.
// Handlers, hooks and middleware registered on the parent (before or after)
// apply to every child, before the child's own (as socket.io's createChild
// copies the parent's middleware first); the parent's Emit and Broadcast reach every child's
// sockets. The parent itself has no sockets and cannot be connected to;
// its Name is "".
func (s *Server) OfMatch(match func(name string, auth json.RawMessage) bool) *Namespace {
	p := s.newNamespace("")
	p.match = match
	s.mu.Lock()
	s.parents = append(s.parents, p)
	s.mu.Unlock()
	return p
}

// OfRegexp is OfMatch for the names re matches (io.of(regexp)).
func (s *Server) OfRegexp(re *regexp.Regexp) *Namespace {
	return s.OfMatch(func(name string, _ json.RawMessage) bool { return re.MatchString(name) })
}

// lookup returns the registered namespace of name, or else the first
// parent that accepts name and auth, or neither.
func (s *Server) lookup(name string, auth json.RawMessage) (*Namespace, *Namespace) {
	s.mu.Lock()
	n, parents := s.nsps[name], s.parents
	s.mu.Unlock()
	if n != nil {
		return n, nil
	}
	for _, p := range parents {
		if p.match(name, auth) {
			return nil, p
		}
	}
	return nil, nil
}

// child returns the namespace of name, made a child of parent unless a
// concurrent CONNECT registered it first. It is called once the session
// has passed the gate: a refused client makes no namespace.
func (s *Server) child(parent *Namespace, name string) *Namespace {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.nsps[name]; n != nil {
		return n
	}
	n := s.newNamespaceLocked(name)
	n.parent = parent
	s.nsps[name] = n
	parent.mu.Lock()
	parent.children = append(parent.children, n)
	parent.mu.Unlock()
	return n
}

// handler returns the handler of event: the namespace's own, or its parent's.
func (n *Namespace) handler(event string) Handler {
	n.mu.RLock()
	h := n.handlers[event]
	n.mu.RUnlock()
	if h == nil && n.parent != nil {
		return n.parent.handler(event)
	}
	return h
}

// hooks returns what runs for a socket of n: the parent's first.
func (n *Namespace) hooks() (mw []Middleware, connect []func(*Socket), disconnecting, disconnect []func(*Socket, string)) {
	if n.parent != nil {
		mw, connect, disconnecting, disconnect = n.parent.hooks()
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	return slices.Concat(mw, n.middleware), slices.Concat(connect, n.onConnect),
		slices.Concat(disconnecting, n.onDisconnecting), slices.Concat(disconnect, n.onDisconnect)
}

// childNamespaces returns a parent's children.
func (n *Namespace) childNamespaces() []*Namespace {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return slices.Clone(n.children)
}
