package parser

import (
	"bytes"
	"errors"
	"testing"
)

func TestDecodePayload(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Packet
		wantErr error
	}{
		{"one text packet", "4hello", []Packet{{Type: Message, Data: []byte("hello")}}, nil},
		{"three text packets", "4test1\x1e4test2\x1e4test3", []Packet{
			{Type: Message, Data: []byte("test1")}, {Type: Message, Data: []byte("test2")}, {Type: Message, Data: []byte("test3")}}, nil},
		{"text and binary", "4hello\x1ebAQIDBA==", []Packet{
			{Type: Message, Data: []byte("hello")}, {Type: Message, Data: []byte{1, 2, 3, 4}, Binary: true}}, nil},
		{"pong", "3", []Packet{{Type: Pong, Data: []byte{}}}, nil},
		{"close", "1", []Packet{{Type: Close, Data: []byte{}}}, nil},
		{"empty binary", "b", []Packet{{Type: Message, Data: []byte{}, Binary: true}}, nil},
		{"empty payload", "", nil, ErrEmpty},
		{"empty packet between", "4a\x1e\x1e4b", nil, ErrEmpty},
		{"trailing separator", "4a\x1e", nil, ErrEmpty},
		{"unknown type", "abc", nil, ErrUnknownType},
		{"type 7", "7", nil, ErrUnknownType},
		{"bad base64", "b!!", nil, ErrBadBase64},
		{"unpadded base64", "bAQIDBA", nil, ErrBadBase64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodePayload([]byte(tt.in), 0)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("DecodePayload(%q) error %v, want %v", tt.in, err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			if len(got) != len(tt.want) {
				t.Fatalf("DecodePayload(%q) = %d packets, want %d", tt.in, len(got), len(tt.want))
			}
			for i := range got {
				if got[i].Type != tt.want[i].Type || got[i].Binary != tt.want[i].Binary || !bytes.Equal(got[i].Data, tt.want[i].Data) {
					t.Errorf("packet %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
			if back := AppendPayload(nil, got); string(back) != tt.in {
				t.Errorf("AppendPayload = %q, want %q", back, tt.in)
			}
		})
	}
}

func TestDecodePayloadLimit(t *testing.T) {
	if _, err := DecodePayload([]byte("4hello"), 5); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("6 bytes with a limit of 5: %v, want ErrTooLarge", err)
	}
	if _, err := DecodePayload([]byte("4hello"), 6); err != nil {
		t.Fatalf("6 bytes with a limit of 6: %v", err)
	}
}

// TestDecodePayloadPackets: MaxPackets packets decode, one more is
// refused before any is.
func TestDecodePayloadPackets(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want error
	}{
		{1, nil},
		{MaxPackets, nil},
		{MaxPackets + 1, ErrTooManyPackets},
		{500_000, ErrTooManyPackets},
	} {
		in := bytes.Repeat([]byte("6\x1e"), tc.n)
		in = in[:len(in)-1]
		ps, err := DecodePayload(in, 0)
		if !errors.Is(err, tc.want) || (err == nil && len(ps) != tc.n) {
			t.Errorf("%d NOOPs: %d packets, %v; want %v", tc.n, len(ps), err, tc.want)
		}
	}
}

// TestFit: engine.io-client's rule for a payload under maxPayload: stop
// before the packet that would pass it, and always take one.
func TestFit(t *testing.T) {
	msg := func(n int) Packet { return Packet{Type: Message, Data: bytes.Repeat([]byte("x"), n)} }
	bin := Packet{Type: Message, Data: []byte{1, 2, 3, 4}, Binary: true} // "bAQIDBA==": 9 bytes
	for _, tc := range []struct {
		name string
		ps   []Packet
		max  int
		want int
	}{
		{"none", nil, 10, 0},
		{"one over the limit", []Packet{msg(100)}, 10, 1},
		{"exactly the limit", []Packet{msg(4), msg(4)}, 11, 2}, // "4xxxx\x1e4xxxx"
		{"one byte over", []Packet{msg(4), msg(4)}, 10, 1},
		{"the rest waits", []Packet{msg(3), msg(3), msg(3), msg(3)}, 10, 2},
		{"binary by its base64", []Packet{msg(0), bin}, 11, 2},
		{"binary one byte over", []Packet{msg(0), bin}, 10, 1},
		{"no limit", []Packet{msg(100), msg(100)}, 0, 2},
	} {
		got := Fit(tc.ps, tc.max)
		if got != tc.want {
			t.Errorf("%s: Fit = %d, want %d", tc.name, got, tc.want)
		}
		if n := PayloadLen(tc.ps[:got]); got > 1 && n > tc.max && tc.max > 0 {
			t.Errorf("%s: a payload of %d bytes, over %d", tc.name, n, tc.max)
		}
		if n, want := PayloadLen(tc.ps), len(AppendPayload(nil, tc.ps)); n != want {
			t.Errorf("%s: PayloadLen = %d, AppendPayload wrote %d", tc.name, n, want)
		}
	}
}

func TestDecodeText(t *testing.T) {
	for _, tc := range []struct {
		in   string
		typ  Type
		data string
		err  error
	}{
		{"2probe", Ping, "probe", nil},
		{"3probe", Pong, "probe", nil},
		{"5", Upgrade, "", nil},
		{"6", Noop, "", nil},
		{"40", Message, "0", nil},
		{"", 0, "", ErrEmpty},
		{"x", 0, "", ErrUnknownType},
		{"/", 0, "", ErrUnknownType},
	} {
		p, err := DecodeText([]byte(tc.in))
		if !errors.Is(err, tc.err) || (err == nil && (p.Type != tc.typ || string(p.Data) != tc.data || p.Binary)) {
			t.Errorf("DecodeText(%q) = %+v, %v; want type %c data %q err %v", tc.in, p, err, tc.typ, tc.data, tc.err)
		}
	}
	if p := DecodeBinary([]byte{1, 2}); p.Type != Message || !p.Binary || !bytes.Equal(p.Data, []byte{1, 2}) {
		t.Errorf("DecodeBinary = %+v", p)
	}
}

func TestOpenPacket(t *testing.T) {
	p := OpenPacket(Handshake{SID: "abc", PingInterval: 25000, PingTimeout: 20000, MaxPayload: 1e6})
	want := `0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`
	if got := string(AppendText(nil, p)); got != want {
		t.Errorf("OpenPacket = %s, want %s", got, want)
	}
	for v, ok := range map[string]bool{"4": true, "3": false, "abc": false, "": false, "04": true} {
		if _, got := ParseVersion(v); got != ok {
			t.Errorf("ParseVersion(%q) ok = %v, want %v", v, got, ok)
		}
	}
}

// FuzzDecodePayload: never panics, and what decodes encodes back to the
// same bytes (the encoding is canonical).
func FuzzDecodePayload(f *testing.F) {
	for _, s := range []string{"4hello", "4a\x1e4b", "4hello\x1ebAQIDBA==", "b", "1", "", "abc", "b!!", "2probe"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		ps, err := DecodePayload(in, 1<<20)
		if err != nil {
			return
		}
		out := AppendPayload(nil, ps)
		again, err := DecodePayload(out, 0)
		if err != nil || len(again) != len(ps) {
			t.Fatalf("re-decoding %q: %v (%d packets, want %d)", out, err, len(again), len(ps))
		}
		for i := range ps {
			if again[i].Type != ps[i].Type || again[i].Binary != ps[i].Binary || !bytes.Equal(again[i].Data, ps[i].Data) {
				t.Fatalf("packet %d changed: %+v then %+v", i, ps[i], again[i])
			}
		}
	})
}
