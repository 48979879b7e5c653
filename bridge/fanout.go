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

// BroadcastLocal queues msg for every open connection of this server's own
// door (not the connections another door, Socket.IO, accepted through
// Accept), on this instance only: a Fanout delivers the other instances'
// broadcasts with it. A connection whose queue is full is closed with 1008.
func (s *Server) BroadcastLocal(msg []byte) {
	n := 0
	s.each(func(c *Conn) {
		if c.door == s.cfg.Door {
			c.Send(msg)
			n++
		}
	})
	if s.cfg.Observer != nil {
		s.cfg.Observer.Broadcast(n)
	}
}
