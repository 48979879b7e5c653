package socketio

import (
	"slices"
	"sync"
	"testing"
)

func TestMemoryAdapter(t *testing.T) {
	var mu sync.Mutex
	got := map[SocketID]int{}
	a := NewMemoryAdapter(func(id SocketID, _ *Encoded) {
		mu.Lock()
		got[id]++
		mu.Unlock()
	})
	// Each socket in its own room, as connect does; then some shared ones.
	for _, id := range []SocketID{"a", "b", "c", "d"} {
		a.AddAll(id, []Room{Room(id)})
	}
	a.AddAll("a", []Room{"red", "blue"})
	a.AddAll("b", []Room{"red"})
	a.AddAll("c", []Room{"blue"})

	tests := []struct {
		name string
		opts BroadcastOptions
		want []SocketID
	}{
		{"everyone", BroadcastOptions{}, []SocketID{"a", "b", "c", "d"}},
		{"one room", BroadcastOptions{Rooms: []Room{"red"}}, []SocketID{"a", "b"}},
		{"two rooms, a once", BroadcastOptions{Rooms: []Room{"red", "blue"}}, []SocketID{"a", "b", "c"}},
		{"except a room", BroadcastOptions{Except: []Room{"blue"}}, []SocketID{"b", "d"}},
		{"room except a socket", BroadcastOptions{Rooms: []Room{"red"}, Except: []Room{"a"}}, []SocketID{"b"}},
		{"unknown room", BroadcastOptions{Rooms: []Room{"green"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clear(got)
			a.Broadcast(&Encoded{}, tt.opts)
			var ids []SocketID
			for id, n := range got {
				if n != 1 {
					t.Errorf("%s delivered %d times", id, n)
				}
				ids = append(ids, id)
			}
			slices.Sort(ids)
			if !slices.Equal(ids, tt.want) {
				t.Errorf("delivered to %v, want %v", ids, tt.want)
			}
		})
	}

	rooms := a.SocketRooms("a")
	slices.Sort(rooms)
	if !slices.Equal(rooms, []Room{"a", "blue", "red"}) {
		t.Errorf("SocketRooms(a) = %v", rooms)
	}
	a.Del("a", "red")
	if ids := a.Sockets(BroadcastOptions{Rooms: []Room{"red"}}); !slices.Equal(ids, []SocketID{"b"}) {
		t.Errorf("after Del, red = %v", ids)
	}
	a.DelAll("b")
	if ids := a.Sockets(BroadcastOptions{Rooms: []Room{"red"}}); len(ids) != 0 {
		t.Errorf("after DelAll(b), red = %v", ids)
	}
	if _, ok := a.rooms["red"]; ok {
		t.Error("an empty room is kept")
	}
	if rooms := a.SocketRooms("b"); len(rooms) != 0 {
		t.Errorf("after DelAll, b is in %v", rooms)
	}
}
