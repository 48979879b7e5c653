package socketio

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestDecodeRecoveryAuth: only an object with string pid and offset, of
// those exact keys and within their bound, is a recovery.
func TestDecodeRecoveryAuth(t *testing.T) {
	long := strings.Repeat("x", maxRecoveryField+1)
	for _, tc := range []struct {
		auth        string
		pid, offset string
		ok          bool
	}{
		{`{"pid":"p1","offset":"o1"}`, "p1", "o1", true},
		{`{"token":"t","offset":"o1","pid":"p1"}`, "p1", "o1", true},
		{`{"pid":"p\u0031","offset":"o1"}`, "p1", "o1", true},
		{`{"pid":"p1"}`, "", "", false}, // no offset: the client got no packet with one
		{`{"pid":"p1","offset":null}`, "", "", false},
		{`{"pid":1,"offset":"o1"}`, "", "", false},
		{`{"pid":"p1","offset":["o1"]}`, "", "", false},
		{`{"PID":"p1","Offset":"o1"}`, "", "", false}, // keys are case-sensitive, as in Node
		{`{"pid":"","offset":"o1"}`, "", "", false},
		{`{"pid":"` + long + `","offset":"o1"}`, "", "", false},
		{`{}`, "", "", false},
		{`null`, "", "", false},
		{`[]`, "", "", false},
		{`"pid"`, "", "", false},
		{`{"pid":"p1","offset":"o1"`, "", "", false},
		{``, "", "", false},
	} {
		pid, offset, ok := DecodeRecoveryAuth([]byte(tc.auth))
		if pid != tc.pid || offset != tc.offset || ok != tc.ok {
			t.Errorf("%s: %q %q %v, want %q %q %v", tc.auth, pid, offset, ok, tc.pid, tc.offset, tc.ok)
		}
	}
}

func FuzzDecodeRecoveryAuth(f *testing.F) {
	for _, s := range []string{`{"pid":"p1","offset":"o1"}`, `{"pid":"p1"}`, `{"pid":1,"offset":"o"}`, `null`, `{"a":{"pid":"x"}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, auth []byte) {
		pid, offset, ok := DecodeRecoveryAuth(auth)
		if !ok {
			if pid != "" || offset != "" {
				t.Fatalf("not ok but %q %q", pid, offset)
			}
			return
		}
		if pid == "" || offset == "" || len(pid) > maxRecoveryField || len(offset) > maxRecoveryField {
			t.Fatalf("ok with %q %q", pid, offset)
		}
	})
}

// clockStore is a memory store on a clock of the test's.
func clockStore(cfg RecoveryConfig) (*MemoryRecoveryStore, *time.Time) {
	m := NewMemoryRecoveryStore(cfg)
	now := time.Unix(1_700_000_000, 0)
	m.now = func() time.Time { return now }
	return m, &now
}

func kept(pid, session string, rooms ...Room) *KeptSocket {
	return &KeptSocket{PID: pid, ID: SocketID("id-" + pid), Namespace: "/", Session: session, User: "u-" + session,
		Rooms: append([]Room{Room("id-" + pid)}, rooms...)}
}

func texts(k *KeptSocket) string {
	var out []string
	for _, p := range k.Missed {
		out = append(out, string(p.Text))
	}
	return strings.Join(out, ",")
}

// TestMemoryRecoveryStoreBounds: past the bound of all, or of one
// session, the oldest kept socket goes; a socket that missed more than
// MaxMissedPackets is dropped; one expired is gone.
func TestMemoryRecoveryStoreBounds(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		cfg  RecoveryConfig
		keep []*KeptSocket
		// after each Keep, the clock moves on by step
		step     time.Duration
		claimAt  time.Duration // after the last Keep
		want     map[string]bool
		wantSize int
	}{
		{"under the bounds", RecoveryConfig{MaxKeptSockets: 3}, []*KeptSocket{kept("a", "s1"), kept("b", "s2"), kept("c", "s3")}, 0, 0,
			map[string]bool{"a": true, "b": true, "c": true}, 3},
		{"oldest of all dropped", RecoveryConfig{MaxKeptSockets: 2}, []*KeptSocket{kept("a", "s1"), kept("b", "s2"), kept("c", "s3")}, 0, 0,
			map[string]bool{"a": false, "b": true, "c": true}, 2},
		{"oldest of the session dropped", RecoveryConfig{MaxKeptPerSession: 2},
			[]*KeptSocket{kept("a", "s1"), kept("b", "s2"), kept("c", "s1"), kept("d", "s1")}, 0, 0,
			map[string]bool{"a": false, "b": true, "c": true, "d": true}, 3},
		{"no session: no bound per session", RecoveryConfig{MaxKeptPerSession: 1}, []*KeptSocket{kept("a", ""), kept("b", ""), kept("c", "")}, 0, 0,
			map[string]bool{"a": true, "b": true, "c": true}, 3},
		{"expired", RecoveryConfig{MaxDisconnectionDuration: time.Minute}, []*KeptSocket{kept("a", "s1"), kept("b", "s2")}, 30 * time.Second, 31 * time.Second,
			map[string]bool{"a": false, "b": true}, 1},
		{"at the duration still kept", RecoveryConfig{MaxDisconnectionDuration: time.Minute}, []*KeptSocket{kept("a", "s1")}, 0, time.Minute,
			map[string]bool{"a": true}, 1},
		{"default duration", RecoveryConfig{}, []*KeptSocket{kept("a", "s1")}, 0, DefaultMaxDisconnectionDuration + time.Millisecond,
			map[string]bool{"a": false}, 0},
		{"kept again under its pid", RecoveryConfig{MaxKeptSockets: 2}, []*KeptSocket{kept("a", "s1"), kept("a", "s1"), kept("b", "s2")}, 0, 0,
			map[string]bool{"a": true, "b": true}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, now := clockStore(tc.cfg)
			for _, k := range tc.keep {
				m.Keep(ctx, k)
				*now = now.Add(tc.step)
			}
			*now = now.Add(tc.claimAt - tc.step)
			if tc.claimAt == 0 && tc.step == 0 && m.Len() != tc.wantSize {
				t.Errorf("Len %d, want %d", m.Len(), tc.wantSize)
			}
			for pid, want := range tc.want {
				_, err := m.Claim(ctx, "/", pid, tc.keep[0].Session, "")
				if want {
					// Kept: found, whether handed back or refused to
					// this claim's session or user.
					if errors.Is(err, ErrNotKept) {
						t.Errorf("%s: not kept, want kept", pid)
					}
				} else if !errors.Is(err, ErrNotKept) {
					t.Errorf("%s: %v, want ErrNotKept", pid, err)
				}
			}
		})
	}
}

// TestMemoryRecoveryStoreClaim: the packets recorded for a kept socket are
// those of its rooms, in order, none twice; a claim of another session
// is refused and leaves it kept, another user in its session drops it;
// a claim takes it once.
func TestMemoryRecoveryStoreClaim(t *testing.T) {
	ctx := context.Background()
	m, _ := clockStore(RecoveryConfig{MaxMissedPackets: 3})
	m.Keep(ctx, kept("a", "s1", "red"))
	m.Keep(ctx, kept("b", "s2", "blue"))
	m.Keep(ctx, kept("c", "s3"))
	for _, b := range []struct {
		nsp  string
		opts BroadcastOptions
		text string
	}{
		{"/", BroadcastOptions{}, "all"},
		{"/", BroadcastOptions{Rooms: []Room{"red"}}, "red"},
		{"/", BroadcastOptions{Rooms: []Room{"red", "blue"}}, "red-or-blue"},
		{"/", BroadcastOptions{Except: []Room{"red"}}, "not-red"},
		{"/", BroadcastOptions{Rooms: []Room{"id-b"}}, "to-b"},
		{"/chat", BroadcastOptions{}, "other-namespace"},
	} {
		m.Record(b.nsp, b.opts, &Encoded{Text: []byte(b.text)})
	}
	m.Record("/", BroadcastOptions{Rooms: []Room{"blue"}}, &Encoded{Text: []byte("blue")}) // b's fifth: over 3, dropped

	if _, err := m.Claim(ctx, "/", "a", "s2", "u-s2"); !errors.Is(err, ErrOtherSession) {
		t.Errorf("a by another session: %v, want ErrOtherSession", err)
	}
	k, err := m.Claim(ctx, "/", "a", "s1", "u-s1")
	if err != nil || texts(k) != "all,red,red-or-blue" {
		t.Errorf("a: %v %q", err, texts(k))
	}
	if _, err := m.Claim(ctx, "/", "a", "s1", "u-s1"); !errors.Is(err, ErrNotKept) {
		t.Errorf("a claimed twice: %v", err)
	}
	if _, err := m.Claim(ctx, "/", "b", "s2", "u-s2"); !errors.Is(err, ErrNotKept) {
		t.Errorf("b over MaxMissedPackets: %v, want ErrNotKept", err)
	}
	if _, err := m.Claim(ctx, "/chat", "c", "s3", "u-s3"); !errors.Is(err, ErrNotKept) {
		t.Errorf("c in another namespace: %v, want ErrNotKept", err)
	}
	if _, err := m.Claim(ctx, "/", "c", "s3", "mallory"); !errors.Is(err, ErrOtherSession) {
		t.Errorf("c by another user: %v, want ErrOtherSession", err)
	}
	if _, err := m.Claim(ctx, "/", "c", "s3", "u-s3"); !errors.Is(err, ErrNotKept) {
		t.Errorf("c after another user's claim in its session: %v, want ErrNotKept (dropped)", err)
	}
	m.Keep(ctx, kept("d", "s4"))
	m.Release(ctx, "d")
	if m.Len() != 0 {
		t.Errorf("Len %d after every claim and a release", m.Len())
	}
}

// TestRecoveryRefusedWithAdapter: Recovery beside a NewAdapter (a fleet's)
// is refused, since the broadcasts of other instances would not be kept
// for a disconnected socket.
func TestRecoveryRefusedWithAdapter(t *testing.T) {
	_, err := New(Config{Insecure: true, Recovery: &RecoveryConfig{},
		NewAdapter: func(deliver func(SocketID, *Encoded)) Adapter { return NewMemoryAdapter(deliver) }})
	if !errors.Is(err, ErrRecoveryFleet) {
		t.Fatalf("New: %v, want ErrRecoveryFleet", err)
	}
	if _, err := New(Config{Insecure: true, Recovery: &RecoveryConfig{}}); err != nil {
		t.Fatalf("New without NewAdapter: %v", err)
	}
}
