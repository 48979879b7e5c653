package wsconn

// poller tells the server which connections have input.
type poller interface {
	add(c *Conn) error    // watch c; its reader runs when input arrives
	rearm(c *Conn)        // watch c again after its reader has read all there was
	remove(c *Conn)       // forget c, before its descriptor is closed
	pending(c *Conn) bool // whether c has unread input now
	close()
}

// blockingPoller gives each connection a reader goroutine that waits in a
// read, as gorilla's chat example does: the fallback where there is no
// epoll, or no descriptor to give it.
type blockingPoller struct{}

func (blockingPoller) add(c *Conn) error {
	go c.readReady()
	return nil
}

func (blockingPoller) rearm(*Conn)  {}
func (blockingPoller) remove(*Conn) {}
func (blockingPoller) close()       {}

// pending is always true: the reader waits for the next frame itself.
func (blockingPoller) pending(*Conn) bool { return true }
