package pgstore

import (
	"testing"

	"github.com/expressbridge/expressbridge/connectsid"
)

func TestParsePayload(t *testing.T) {
	tests := []struct {
		payload, sid string
		op           connectsid.Op
		ok           bool
	}{
		{"del:abc", "abc", OpDel, true},
		{"set:a:b:c", "a:b:c", OpSet, true},
		{"expired:", "", OpExpired, true},
		{"touch:abc", "", "", false},
		{"abc", "", "", false},
		{"", "", "", false},
		{"DEL:abc", "", "", false},
	}
	for _, tt := range tests {
		sid, op, ok := parsePayload(tt.payload)
		if sid != tt.sid || op != tt.op || ok != tt.ok {
			t.Errorf("parsePayload(%q) = %q, %q, %v; want %q, %q, %v", tt.payload, sid, op, ok, tt.sid, tt.op, tt.ok)
		}
	}
}

// FuzzParsePayload: whatever arrives on the channel, a reported event
// rebuilds the payload exactly, and its operation is one Watch documents.
func FuzzParsePayload(f *testing.F) {
	for _, s := range []string{"del:abc", "set:a:b", "expired:", ":x", "x:", "", "set"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, payload string) {
		sid, op, ok := parsePayload(payload)
		if !ok {
			return
		}
		if string(op)+":"+sid != payload || op != OpDel && op != OpSet && op != OpExpired {
			t.Fatalf("parsePayload(%q) = %q, %q", payload, sid, op)
		}
	})
}
