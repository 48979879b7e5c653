package bridge

// Fanout carries a server's broadcasts to the other instances of a fleet
// (adapter/redisadapter's Relay, through Redis), which hand them to
// BroadcastLocal there. Delivery to other instances is the Fanout's: at
// most once for Redis Pub/Sub.
type Fanout interface {
	// Publish hands msg, broadcast on this instance, to the others. It is
	// called on the broadcasting goroutine and must not block for long.
	Publish(msg []byte)
}

// BroadcastLocal sends msg as a text message to every open connection of
// the server's own protocol (Config.Protocol) on this instance only;
// connections that another door accepted with its own protocol (Accept)
// speak another language and are left out. A Fanout delivers the other
// instances' broadcasts with it. It is framed once and written at once to
// each connection that has nothing else to write and whose socket takes
// it; the others get it queued, as Send does. A connection whose queue is
// full is closed with 1008 instead of slowing the others.
func (s *Server) BroadcastLocal(msg []byte) {
	n := s.hub.Broadcast(msg)
	if s.cfg.Observer != nil {
		s.cfg.Observer.Broadcast(n)
	}
}
