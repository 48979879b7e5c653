package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Connection state recovery ----------------------------------------------
//
// socket.io 4.6+'s connectionStateRecovery, on the wire as socket.io 4.8
// does it: the CONNECT answer carries a pid; each event broadcast (and
// each non-volatile Emit without an ack) carries its offset as a last
// argument; a socket that lost its transport is kept (id, rooms, data)
// with the packets broadcast to its rooms meanwhile; a CONNECT whose auth
// is {pid, offset} within MaxDisconnectionDuration gets them back, and
// socket.recovered is true on the client.
//
// Beyond Node: the reconnect's Engine.IO handshake has passed the gate
// (a session logged out or expired meanwhile is refused with its code
// before any recovery), and the kept socket is handed back only to the
// same Express session and user (CodeRecoveryOtherSession otherwise). As
// Node's skipMiddlewares (its default), a recovered socket skips the
// namespace's middleware; the gate is never skipped.

// Defaults of RecoveryConfig's zero fields.
const (
	// DefaultMaxDisconnectionDuration is socket.io's own: how long a
	// socket is kept after it lost its transport.
	DefaultMaxDisconnectionDuration = 2 * time.Minute
	// DefaultMaxKeptSockets bounds the sockets kept on one server: at
	// ~100 missed packets of ~200 bytes each, 10,000 kept sockets hold
	// about 200 MB at worst.
	DefaultMaxKeptSockets = 10000
	// DefaultMaxKeptPerSession bounds the sockets one Express session may
	// have kept (DefaultMaxSessionsPerLogin tabs, one namespace each).
	DefaultMaxKeptPerSession = DefaultMaxSessionsPerLogin
	// DefaultMaxMissedPackets bounds the packets kept for one socket: a
	// socket that missed more is dropped and reconnects without recovery
	// (as Node's does when its offset has left the adapter's log).
	DefaultMaxMissedPackets = 1000
)

// RecoveryConfig turns connection state recovery on (Config.Recovery;
// nil is off, as in Node). Zero fields take the defaults named beside them.
// With it on, an event's handlers on the client get one more argument,
// its offset (a string), as with Node's connectionStateRecovery.
type RecoveryConfig struct {
	// MaxDisconnectionDuration is how long a socket is kept
	// (DefaultMaxDisconnectionDuration).
	MaxDisconnectionDuration time.Duration
	// MaxKeptSockets bounds the kept sockets in all (DefaultMaxKeptSockets);
	// past it the oldest is dropped.
	MaxKeptSockets int
	// MaxKeptPerSession bounds the kept sockets of one Express session
	// (DefaultMaxKeptPerSession); past it the session's oldest is dropped.
	// Sockets without a session (Config.Insecure) have no such bound.
	MaxKeptPerSession int
	// MaxMissedPackets bounds the packets kept for one socket
	// (DefaultMaxMissedPackets); past it the socket is dropped.
	MaxMissedPackets int
	// Store keeps the sockets (a MemoryRecoveryStore of these bounds when
	// nil). The memory store serves one instance.
	Store RecoveryStore
}

// Errors of a RecoveryStore.
var (
	// ErrNotKept means no socket is kept for that pid and namespace: never
	// kept, expired, dropped past a bound, or claimed already. The client
	// connects afresh, as in Node.
	ErrNotKept = errors.New("socketio: no socket kept for that pid")
	// ErrOtherSession means the socket kept for that pid belongs to
	// another Express session or user than the claim's: the CONNECT is
	// refused (CodeRecoveryOtherSession).
	ErrOtherSession = errors.New("socketio: the kept socket belongs to another session")
	// ErrRecoveryFleet refuses Config.Recovery beside a Config.NewAdapter:
	// a kept socket is sent the broadcasts made on this server only, so
	// with a fleet's adapter it would be recovered missing the other
	// instances' and say it missed nothing.
	ErrRecoveryFleet = errors.New("socketio: connection state recovery keeps this instance's broadcasts only, and Config.NewAdapter is set")
)

// CodeRecoveryOtherSession is the connect_error message of a CONNECT
// whose pid was kept for another Express session or user; its data says
// {"step":"recovery",…}.
const CodeRecoveryOtherSession = "recovery-other-session"

// KeptSocket is a socket kept after it lost its transport.
type KeptSocket struct {
	PID       string
	ID        SocketID
	Namespace string
	// Session and User are the Express session's ID and user when the
	// socket disconnected ("" on an Insecure server).
	Session, User string
	Rooms         []Room
	Data          any
	// Missed are the packets broadcast to the socket's rooms since, in
	// order, each carrying its offset.
	Missed         []*Encoded
	DisconnectedAt time.Time
}

// RecoveryStore keeps the sockets that lost their transport until they
// are claimed back or expire. Methods may be called concurrently.
type RecoveryStore interface {
	// Keep keeps k under k.PID, replacing any socket kept under it. Past
	// a bound, the oldest kept socket (of all, or of k.Session) is dropped.
	Keep(ctx context.Context, k *KeptSocket) error
	// Record adds p, broadcast in namespace to the sockets opts chooses,
	// to the missed packets of each kept socket it would have reached. It
	// must not block: it is on every broadcast's path.
	Record(namespace string, opts BroadcastOptions, p *Encoded)
	// Claim takes the socket kept under pid in namespace, for the Express
	// session and user given. ErrNotKept when there is none (or it
	// expired); ErrOtherSession when it belongs to another session or
	// user, in which case it stays kept for its own (unless only the user
	// changed, in the same session: then it is dropped). Other errors are
	// the store's.
	Claim(ctx context.Context, namespace, pid, session, user string) (*KeptSocket, error)
	// Release drops the socket kept under pid, if any.
	Release(ctx context.Context, pid string) error
}

// MemoryRecoveryStore is the in-process RecoveryStore, for one instance.
// Record looks at every kept socket under one lock: a broadcast costs
// nothing more while none is kept, and at most MaxKeptSockets comparisons
// of rooms when many are.
type MemoryRecoveryStore struct {
	cfg RecoveryConfig
	now func() time.Time

	mu   sync.Mutex
	kept map[string]*KeptSocket // by pid
	// order is the pids in the order they were kept; a pid replaced or
	// claimed stays until it reaches the front (its entry is stale then).
	order []keptEntry
}

type keptEntry struct {
	pid string
	k   *KeptSocket
}

// NewMemoryRecoveryStore returns an empty store of cfg's bounds and
// duration (cfg.Store is ignored).
func NewMemoryRecoveryStore(cfg RecoveryConfig) *MemoryRecoveryStore {
	cfg.setDefaults()
	return &MemoryRecoveryStore{cfg: cfg, now: time.Now, kept: make(map[string]*KeptSocket)}
}

func (cfg *RecoveryConfig) setDefaults() {
	if cfg.MaxDisconnectionDuration <= 0 {
		cfg.MaxDisconnectionDuration = DefaultMaxDisconnectionDuration
	}
	if cfg.MaxKeptSockets <= 0 {
		cfg.MaxKeptSockets = DefaultMaxKeptSockets
	}
	if cfg.MaxKeptPerSession <= 0 {
		cfg.MaxKeptPerSession = DefaultMaxKeptPerSession
	}
	if cfg.MaxMissedPackets <= 0 {
		cfg.MaxMissedPackets = DefaultMaxMissedPackets
	}
}

// Len returns how many sockets are kept now, expired ones included until
// the next Keep or Claim sweeps them.
func (m *MemoryRecoveryStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.kept)
}

// Keep implements RecoveryStore.
func (m *MemoryRecoveryStore) Keep(_ context.Context, k *KeptSocket) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	k.DisconnectedAt = now
	m.sweepLocked(now)
	m.kept[k.PID] = k
	m.order = append(m.order, keptEntry{k.PID, k})
	// 1. The session's bound: its oldest go first. Sockets without a
	// session (an Insecure server's) have only the bound of all.
	n := 0
	for i := len(m.order) - 1; i >= 0 && k.Session != ""; i-- {
		e := m.order[i]
		if m.kept[e.pid] != e.k || e.k.Session != k.Session {
			continue
		}
		if n++; n > m.cfg.MaxKeptPerSession {
			delete(m.kept, e.pid)
		}
	}
	// 2. The bound of all.
	for len(m.kept) > m.cfg.MaxKeptSockets && len(m.order) > 0 {
		m.dropFrontLocked()
	}
	m.compactLocked()
	return nil
}

// sweepLocked drops the kept sockets that expired, oldest first.
func (m *MemoryRecoveryStore) sweepLocked(now time.Time) {
	for len(m.order) > 0 {
		e := m.order[0]
		if m.kept[e.pid] == e.k && now.Sub(e.k.DisconnectedAt) <= m.cfg.MaxDisconnectionDuration {
			return
		}
		m.dropFrontLocked()
	}
}

func (m *MemoryRecoveryStore) dropFrontLocked() {
	e := m.order[0]
	m.order[0] = keptEntry{}
	m.order = m.order[1:]
	if m.kept[e.pid] == e.k {
		delete(m.kept, e.pid)
	}
}

// compactLocked bounds order's stale entries to as many as the live ones.
func (m *MemoryRecoveryStore) compactLocked() {
	if len(m.order) <= 2*len(m.kept)+16 {
		return
	}
	live := make([]keptEntry, 0, len(m.kept))
	for _, e := range m.order {
		if m.kept[e.pid] == e.k {
			live = append(live, e)
		}
	}
	m.order = live
}

// Record implements RecoveryStore: a kept socket is reached when it was
// in one of opts.Rooms (or opts.Rooms is empty) and in none of
// opts.Except, as socket.io-adapter's shouldIncludePacket.
func (m *MemoryRecoveryStore) Record(namespace string, opts BroadcastOptions, p *Encoded) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for pid, k := range m.kept {
		if k.Namespace != namespace || !reaches(k.Rooms, opts) {
			continue
		}
		if len(k.Missed) >= m.cfg.MaxMissedPackets {
			delete(m.kept, pid) // it could not miss nothing: a clean connect
			continue
		}
		k.Missed = append(k.Missed, p)
	}
}

func reaches(rooms []Room, opts BroadcastOptions) bool {
	in := len(opts.Rooms) == 0
	for _, r := range rooms {
		for _, x := range opts.Except {
			if r == x {
				return false
			}
		}
		for _, x := range opts.Rooms {
			if r == x {
				in = true
			}
		}
	}
	return in
}

// Claim implements RecoveryStore.
func (m *MemoryRecoveryStore) Claim(_ context.Context, namespace, pid, session, user string) (*KeptSocket, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepLocked(m.now())
	k := m.kept[pid]
	if k == nil || k.Namespace != namespace {
		return nil, ErrNotKept
	}
	if k.Session != session {
		return nil, ErrOtherSession
	}
	delete(m.kept, pid)
	if k.User != user {
		return nil, ErrOtherSession
	}
	return k, nil
}

// Release implements RecoveryStore.
func (m *MemoryRecoveryStore) Release(_ context.Context, pid string) error {
	m.mu.Lock()
	delete(m.kept, pid)
	m.mu.Unlock()
	return nil
}

// The recovery auth ------------------------------------------------------

// maxRecoveryField bounds the pid and offset of a recovery auth: ours are
// ~20 characters, Node's base64id 20 and yeast ~10.
const maxRecoveryField = 64

// DecodeRecoveryAuth reads the pid and offset socket.io-client 4.8 puts in
// a reconnect's CONNECT auth ({"pid":…,"offset":…} beside the app's own
// fields). ok is false, and the CONNECT is a fresh one, unless auth is a
// JSON object whose "pid" and "offset" (exact, case-sensitive keys, as in
// Node) are both strings of 1 to 64 characters.
func DecodeRecoveryAuth(auth []byte) (pid, offset string, ok bool) {
	// 1. An object at all (the CONNECT's auth bound applies before).
	var fields map[string]json.RawMessage
	if json.Unmarshal(auth, &fields) != nil || fields == nil {
		return "", "", false
	}
	// 2. Both fields strings, within their bound.
	str := func(raw json.RawMessage) (string, bool) {
		var s string
		if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil || s == "" || len(s) > maxRecoveryField {
			return "", false
		}
		return s, true
	}
	pid, ok1 := str(fields["pid"])
	offset, ok2 := str(fields["offset"])
	if !ok1 || !ok2 {
		return "", "", false
	}
	return pid, offset, true
}

// The server's side ------------------------------------------------------

// recoverableReasons are the disconnect reasons that keep a socket, as
// socket.io's RECOVERABLE_DISCONNECT_REASONS: the transport's end, not
// the client's or the server's decision.
var recoverableReasons = map[string]bool{
	"transport error":      true,
	ReasonTransportClose:   true,
	"forced close":         true,
	ReasonPingTimeout:      true,
	"server shutting down": true,
	"forced server close":  true,
}

// recovery is a server's recovery state.
type recovery struct {
	store   RecoveryStore
	offsets atomic.Uint64 // the last offset given out
}

func newRecovery(cfg *RecoveryConfig) *recovery {
	c := *cfg
	c.setDefaults()
	r := &recovery{store: c.Store}
	if r.store == nil {
		r.store = NewMemoryRecoveryStore(c)
	}
	// Offsets grow from the start time, so that a restarted server's do
	// not repeat its predecessor's.
	r.offsets.Store(uint64(time.Now().UnixNano()))
	return r
}

// nextOffset returns a new offset: unique on this server, increasing.
func (r *recovery) nextOffset() string {
	return strconv.FormatUint(r.offsets.Add(1), 36)
}

// withOffset returns args with a new offset as a last argument when
// recovery is on.
func (s *Server) withOffset(args []any) []any {
	if s.recovery == nil {
		return args
	}
	return append(args[:len(args):len(args)], s.recovery.nextOffset())
}

// Recovered reports whether the socket's state was recovered after a
// disconnection (socket.recovered): its ID, rooms and Data are those it
// had, and it was sent the packets it missed before its OnConnection
// handlers ran.
func (so *Socket) Recovered() bool { return so.recovered }

// keptLocked is what to keep of the socket for recovery, or nil when
// recovery is off or reason does not allow it; so.mu is held and the
// socket still in its rooms.
func (so *Socket) keptLocked(reason string) *KeptSocket {
	if so.ns.s.recovery == nil || so.pid == "" || !recoverableReasons[reason] {
		return nil
	}
	k := &KeptSocket{PID: so.pid, ID: so.id, Namespace: so.ns.name, Rooms: so.ns.adapter.SocketRooms(so.id), Data: so.data}
	if sess := so.Session(); sess != nil {
		k.Session, k.User = sess.ID, sess.User
	}
	return k
}

// keep hands k to the store, outside the socket's lock (a store may
// block).
func (so *Socket) keep(k *KeptSocket) {
	if err := so.ns.s.recovery.store.Keep(context.Background(), k); err != nil {
		so.ns.s.log.Warn("socket.io: keeping a socket for recovery", "err", err)
	}
}
