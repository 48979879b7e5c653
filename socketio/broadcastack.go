package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Broadcasts with acknowledgements ---------------------------------------
//
// io.timeout(…).emit(event, …, callback): every socket chosen, here and on
// the other instances, gets the event with an ack id; the callback gets
// one answer per client once every instance has said how many clients it
// reached and that many answers came, or the answers so far at the
// timeout.

// NewArgs returns the arguments raw, binary placeholders standing for
// bins (as Args holds a client's): for a ClusterAdapter that hands on an
// acknowledgement that came from another instance.
func NewArgs(raw []json.RawMessage, bins [][]byte) Args { return Args{raw: raw, bin: bins} }

// BroadcastWithAck sends event and args (encoded as Emit's) to the sockets
// opts chooses, here and, with a ClusterAdapter, on every other instance,
// each with an ack id, as io.timeout(…).emit(…, callback) does. It returns
// one acknowledgement per client once every instance has counted its
// clients and each of them has answered; an acknowledgement from another
// instance carries only its first argument (the adapters carry one). When
// ctx ends first (DefaultAckTimeout when it has no deadline) it returns
// the acknowledgements received and an error wrapping ctx's (and
// ErrAckTimeout on a deadline). Clients answer until then only. When the
// other instances cannot be asked (Redis down), it waits for the local
// clients only and returns their acknowledgements with that error.
func (n *Namespace) BroadcastWithAck(ctx context.Context, opts BroadcastOptions, event string, args ...any) ([]Args, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultAckTimeout)
		defer cancel()
	}
	dl, _ := ctx.Deadline()
	timeout := time.Until(dl)
	if timeout <= 0 {
		return nil, fmt.Errorf("%w: %w", ErrAckTimeout, context.DeadlineExceeded)
	}
	var remoteErr error
	c := newAckCollector()
	local, err := Local{n}.BroadcastWithAck(opts, timeout,
		func(id uint64) (*Encoded, error) { return encodeEvent(n.name, event, args, &id) }, c.ack)
	if err != nil {
		return nil, err
	}
	servers := 1
	if ca := n.clusterFor(opts); ca != nil {
		p, err := encodeEvent(n.name, event, args, nil)
		if err == nil {
			var others int
			others, remoteErr = ca.RemoteBroadcastWithAck(ctx, p, opts, timeout, c.count, c.ack)
			servers += others
		} else {
			remoteErr = err
		}
	}
	c.count(local)
	c.expect(servers)
	select {
	case <-c.done:
		return c.answers(), remoteErr
	case <-ctx.Done():
		err := fmt.Errorf("socketio: broadcast with acks: %s: %w", c.progress(), ctx.Err())
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("%w: %w", ErrAckTimeout, err)
		}
		return c.answers(), errors.Join(err, remoteErr)
	}
}

// ackCollector gathers a broadcast's acknowledgements as socket.io's
// BroadcastOperator does: done once every server has counted its clients
// (servers known) and as many answers came.
type ackCollector struct {
	mu       sync.Mutex
	servers  int // servers that will count, -1 until known
	counted  int // servers that have counted
	clients  int // clients they counted
	received []Args
	done     chan struct{}
	closed   bool
}

func newAckCollector() *ackCollector {
	return &ackCollector{servers: -1, done: make(chan struct{})}
}

// count records one server's number of clients.
func (c *ackCollector) count(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counted++
	c.clients += n
	c.check()
}

// ack records one client's acknowledgement.
func (c *ackCollector) ack(a Args) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.received = append(c.received, a)
	}
	c.check()
}

// expect sets how many servers count.
func (c *ackCollector) expect(servers int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.servers = servers
	c.check()
}

func (c *ackCollector) check() {
	if !c.closed && c.servers == c.counted && len(c.received) == c.clients {
		c.closed = true
		close(c.done)
	}
}

// answers returns the acknowledgements received so far; later ones are
// not kept.
func (c *ackCollector) answers() []Args {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return c.received
}

func (c *ackCollector) progress() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprintf("%d of %d servers counted, %d of %d acknowledgements", c.counted, c.servers, len(c.received), c.clients)
}
