package socketio

import (
	"log/slog"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Rate limits on the events a client sends: one token bucket per socket,
// and one per user shared by that user's sockets on this server. An event
// takes a token from both before its handler runs; without one it is
// dropped and counted. A socket that goes on sending while it is over the
// limit (more than Config.MaxDroppedEvents dropped within dropWindow) is
// disconnected with ReasonRateLimited, its whole Engine.IO session with it.

// ReasonRateLimited is the disconnect reason (OnDisconnect, and the
// Observer's close reason) of a socket that kept sending over its rate
// limit.
const ReasonRateLimited = "rate-limited"

// dropWindow is the window MaxDroppedEvents counts drops in: long enough
// that a client sending at twice its rate is disconnected within seconds,
// short enough that the odd overflow of a real page never adds up.
const dropWindow = 10 * time.Second

// bucket is a token bucket: up to burst tokens, refilled at rate per
// second. It is not safe for concurrent use.
type bucket struct {
	rate, burst, tokens float64
	last                time.Time
}

func newBucket(rate float64, burst int, now time.Time) *bucket {
	return &bucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: now}
}

// refill adds the tokens earned since the last call, up to burst, and
// reports whether there is one to take.
func (b *bucket) refill(now time.Time) bool {
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(b.burst, b.tokens+d.Seconds()*b.rate)
		b.last = now
	}
	return b.tokens >= 1
}

// userLimit is the bucket of one user's sockets on this server, kept while
// the user has one.
type userLimit struct {
	mu   sync.Mutex
	b    *bucket
	refs int // sockets; guarded by userLimits.mu
}

// userLimits are the buckets of the users with a socket here.
type userLimits struct {
	mu    sync.Mutex
	users map[string]*userLimit
}

// join returns user's bucket, making it for the first of its sockets.
func (u *userLimits) join(user string, rate float64, burst int) *userLimit {
	u.mu.Lock()
	defer u.mu.Unlock()
	l := u.users[user]
	if l == nil {
		if u.users == nil {
			u.users = make(map[string]*userLimit)
		}
		l = &userLimit{b: newBucket(rate, burst, time.Now())}
		u.users[user] = l
	}
	l.refs++
	return l
}

// leave lets go of user's bucket for one socket; the last one drops it.
func (u *userLimits) leave(user string, l *userLimit) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if l.refs--; l.refs == 0 && u.users[user] == l {
		delete(u.users, user)
	}
}

// allowEvent takes a token for one event from the socket's bucket and its
// user's, or none when either is empty. It runs on the session's Message
// goroutine, the only one that touches the socket's bucket.
func (so *Socket) allowEvent(now time.Time) bool {
	if so.limit != nil && !so.limit.refill(now) {
		return false
	}
	if u := so.user; u != nil {
		u.mu.Lock()
		ok := u.b.refill(now)
		if ok {
			u.b.tokens--
		}
		u.mu.Unlock()
		if !ok {
			return false
		}
	}
	if so.limit != nil {
		so.limit.tokens--
	}
	return true
}

// dropped counts an event dropped over the limit, and disconnects the
// socket's session when it has dropped more than MaxDroppedEvents within
// dropWindow. It runs on the session's Message goroutine.
func (c *client) dropped(so *Socket, now time.Time) {
	c.s.droppedEvents.Add(1)
	c.s.eio.LimitHit(LimitEventDropped, "")
	if now.Sub(so.dropsSince) > dropWindow {
		so.dropsSince, so.drops = now, 0
	}
	so.drops++
	if max := c.s.cfg.MaxDroppedEvents; max >= 0 && so.drops > max {
		c.s.eio.LimitHit(LimitRateLimited, "")
		c.s.log.Info("socket.io client disconnected: over its event rate limit",
			slog.String("user", so.User()), slog.Int("dropped", so.drops), slog.Duration("within", now.Sub(so.dropsSince)))
		c.rateLimited()
	}
}

// rateLimited ends the session of a client that kept sending over its
// limit: each socket gets DISCONNECT (socket.io-client does not reconnect
// after "io server disconnect") and its handlers ReasonRateLimited; the
// session takes nothing more from the client and closes, a WebSocket
// with 1008 "rate-limited" once the DISCONNECT is written (wsconn then
// reads and drops what the client still sends until it closes too, so
// that it reads both).
func (c *client) rateLimited() {
	c.mu.Lock()
	c.over = true // no CONNECT again, nothing more dispatched
	sockets := make([]*Socket, 0, len(c.sockets))
	for _, so := range c.sockets {
		sockets = append(sockets, so)
	}
	c.mu.Unlock()
	msgs := make([][]byte, 0, len(sockets))
	for _, so := range sockets {
		msgs = append(msgs, disconnectPacket(so.ns.name).engineMessage().Data())
	}
	_ = c.e.Goodbye(msgs) // fails only when the session is closing already; CloseWith is then moot
	for _, so := range sockets {
		c.remove(so, ReasonRateLimited)
	}
	c.e.CloseWith(websocket.ClosePolicyViolation, ReasonRateLimited)
}

// limit gives a new socket its bucket, and its user's.
func (s *Server) limit(so *Socket) {
	now := time.Now()
	if s.cfg.MaxEventsPerSecond >= 0 {
		so.limit = newBucket(s.cfg.MaxEventsPerSecond, s.cfg.EventBurst, now)
	}
	if user := so.User(); user != "" && s.cfg.MaxUserEventsPerSecond >= 0 {
		so.user = s.users.join(user, s.cfg.MaxUserEventsPerSecond, s.cfg.UserEventBurst)
	}
}
