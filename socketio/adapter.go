package socketio

import (
	"encoding/json"
	"sync"

	eioparser "github.com/expressbridge/expressbridge/engineio/parser"
	"github.com/expressbridge/expressbridge/socketio/parser"
	"github.com/expressbridge/expressbridge/wsconn"
)

// SocketID identifies a socket within its server (socket.id).
type SocketID string

// Room is a named group of sockets in a namespace. Every socket is in the
// room of its own ID.
type Room string

// Encoded is a packet encoded once for every socket it goes to: the text
// of the Socket.IO packet and its binary attachments. Use it through a
// pointer, and do not change it once it is sent.
type Encoded struct {
	Text        []byte
	Attachments [][]byte
	// Volatile drops the packet for a socket whose transport cannot take
	// it at once (engineio.Session.Writable), as socket.io's volatile flag.
	Volatile bool
	// NoCompress sends the packet uncompressed even where permessage-deflate
	// was negotiated (socket.io's compress(false); Config.PerMessageDeflate).
	NoCompress bool

	once sync.Once
	wire *wsconn.Message // the Engine.IO MESSAGE: '4' then Text, framed once for every socket

	decodeOnce sync.Once
	name       string            // the event's name, for OnAnyOutgoing listeners
	args       []json.RawMessage // its arguments, shared by every socket's listeners
	isEvent    bool
}

// event returns the event Text carries, decoded once however many
// sockets' OnAnyOutgoing listeners hear it; false when Text is not an
// event with a name.
func (p *Encoded) event() (name string, args []json.RawMessage, ok bool) {
	p.decodeOnce.Do(func() {
		pk, err := parser.Decode(p.Text)
		if err != nil || len(pk.Args) == 0 || json.Unmarshal(pk.Args[0], &p.name) != nil {
			return
		}
		p.args, p.isEvent = pk.Args[1:], true
	})
	return p.name, p.args, p.isEvent
}

// engineMessage returns the Engine.IO MESSAGE packet that carries Text,
// encoded once however many sockets it goes to, and on WebSocket framed
// (and compressed) once too.
func (p *Encoded) engineMessage() *wsconn.Message {
	p.once.Do(func() {
		msg := eioparser.AppendText(make([]byte, 0, 1+len(p.Text)), eioparser.Packet{Type: eioparser.Message, Data: p.Text})
		p.wire = wsconn.NewMessage(msg, !p.NoCompress)
	})
	return p.wire
}

// BroadcastOptions choose the sockets of a broadcast, as socket.io's
// to(…) and except(…) do: the sockets in any of Rooms (every socket of the
// namespace when empty), minus those in any of Except; with Local, those
// of this instance only (socket.io's local flag: a ClusterAdapter does not
// publish it). With Volatile a socket whose transport cannot take the
// packet at once does not get it (socket.io's volatile flag, which a
// ClusterAdapter carries).
type BroadcastOptions struct {
	Rooms    []Room
	Except   []Room
	Local    bool
	Volatile bool
	// NoCompress sends the broadcast uncompressed (socket.io's
	// compress(false), carried across the fleet as flags.compress false);
	// the zero value is socket.io's default, compressed where
	// permessage-deflate was negotiated and from its threshold on.
	NoCompress bool
}

// Adapter keeps a namespace's rooms and delivers its broadcasts, as
// socket.io-adapter does. The memory adapter serves one instance; an
// adapter that spans instances (Redis) adds publishing to Broadcast and
// keeps the same contract. Methods may be called concurrently.
type Adapter interface {
	// AddAll puts the socket in each room.
	AddAll(id SocketID, rooms []Room)
	// Del takes the socket out of room.
	Del(id SocketID, room Room)
	// DelAll takes the socket out of every room: it has left.
	DelAll(id SocketID)
	// SocketRooms returns the rooms the socket is in.
	SocketRooms(id SocketID) []Room
	// Broadcast delivers p, at most once, to each local socket opts
	// chooses at the moment of the call.
	Broadcast(p *Encoded, opts BroadcastOptions)
}

// MemoryAdapter is the in-process Adapter (socket.io-adapter's
// Adapter): rooms → sockets and sockets → rooms.
type MemoryAdapter struct {
	deliver func(SocketID, *Encoded)

	mu    sync.RWMutex
	rooms map[Room]map[SocketID]struct{}
	sids  map[SocketID]map[Room]struct{}
}

// NewMemoryAdapter returns an empty adapter that hands each broadcast
// packet to deliver, once per socket.
func NewMemoryAdapter(deliver func(SocketID, *Encoded)) *MemoryAdapter {
	return &MemoryAdapter{
		deliver: deliver,
		rooms:   make(map[Room]map[SocketID]struct{}),
		sids:    make(map[SocketID]map[Room]struct{}),
	}
}

// AddAll implements Adapter.
func (a *MemoryAdapter) AddAll(id SocketID, rooms []Room) {
	a.mu.Lock()
	defer a.mu.Unlock()
	mine := a.sids[id]
	if mine == nil {
		mine = make(map[Room]struct{}, len(rooms))
		a.sids[id] = mine
	}
	for _, r := range rooms {
		mine[r] = struct{}{}
		in := a.rooms[r]
		if in == nil {
			in = make(map[SocketID]struct{})
			a.rooms[r] = in
		}
		in[id] = struct{}{}
	}
}

// Del implements Adapter.
func (a *MemoryAdapter) Del(id SocketID, room Room) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.sids[id], room)
	a.delLocked(id, room)
}

func (a *MemoryAdapter) delLocked(id SocketID, room Room) {
	if in := a.rooms[room]; in != nil {
		delete(in, id)
		if len(in) == 0 {
			delete(a.rooms, room)
		}
	}
}

// DelAll implements Adapter.
func (a *MemoryAdapter) DelAll(id SocketID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for r := range a.sids[id] {
		a.delLocked(id, r)
	}
	delete(a.sids, id)
}

// SocketRooms implements Adapter.
func (a *MemoryAdapter) SocketRooms(id SocketID) []Room {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := make([]Room, 0, len(a.sids[id]))
	for r := range a.sids[id] {
		out = append(out, r)
	}
	return out
}

// Broadcast implements Adapter: the sockets are chosen under the lock and
// delivered to outside it.
func (a *MemoryAdapter) Broadcast(p *Encoded, opts BroadcastOptions) {
	for _, id := range a.Sockets(opts) {
		a.deliver(id, p)
	}
}

// Sockets returns the sockets opts chooses now.
func (a *MemoryAdapter) Sockets(opts BroadcastOptions) []SocketID {
	a.mu.RLock()
	defer a.mu.RUnlock()
	except := func(id SocketID) bool {
		for _, r := range opts.Except {
			if _, ok := a.rooms[r][id]; ok {
				return true
			}
		}
		return false
	}
	var out []SocketID
	if len(opts.Rooms) == 0 {
		for id := range a.sids {
			if !except(id) {
				out = append(out, id)
			}
		}
		return out
	}
	seen := make(map[SocketID]struct{})
	for _, r := range opts.Rooms {
		for id := range a.rooms[r] {
			if _, dup := seen[id]; dup || except(id) {
				continue
			}
			seen[id] = struct{}{}
			out = append(out, id)
		}
	}
	return out
}
