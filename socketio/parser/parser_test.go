package parser

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		in      string
		want    Packet
		nargs   int
		wantErr error
	}{
		{in: "0", want: Packet{Type: Connect, Namespace: "/"}},
		{in: `0{"token":"123"}`, want: Packet{Type: Connect, Namespace: "/", Data: json.RawMessage(`{"token":"123"}`)}},
		{in: "0/custom,", want: Packet{Type: Connect, Namespace: "/custom"}},
		{in: `0/custom,{"token":"abc"}`, want: Packet{Type: Connect, Namespace: "/custom", Data: json.RawMessage(`{"token":"abc"}`)}},
		{in: "0/random", want: Packet{Type: Connect, Namespace: "/random"}},
		{in: "1", want: Packet{Type: Disconnect, Namespace: "/"}},
		{in: "1/custom,", want: Packet{Type: Disconnect, Namespace: "/custom"}},
		{in: `2["message",1,"2",{"3":[true]}]`, nargs: 4, want: Packet{Type: Event, Namespace: "/", Data: json.RawMessage(`["message",1,"2",{"3":[true]}]`)}},
		{in: `2456["message-with-ack",1]`, nargs: 2, want: Packet{Type: Event, Namespace: "/", ID: 456, HasID: true, Data: json.RawMessage(`["message-with-ack",1]`)}},
		{in: `2/admin,7["x"]`, nargs: 1, want: Packet{Type: Event, Namespace: "/admin", ID: 7, HasID: true, Data: json.RawMessage(`["x"]`)}},
		{in: `2[1]`, nargs: 1, want: Packet{Type: Event, Namespace: "/", Data: json.RawMessage(`[1]`)}},
		{in: `3456[1,"2"]`, nargs: 2, want: Packet{Type: Ack, Namespace: "/", ID: 456, HasID: true, Data: json.RawMessage(`[1,"2"]`)}},
		{in: `3456[]`, want: Packet{Type: Ack, Namespace: "/", ID: 456, HasID: true, Data: json.RawMessage(`[]`)}},
		{in: `4{"message":"Invalid namespace"}`, want: Packet{Type: ConnectError, Namespace: "/", Data: json.RawMessage(`{"message":"Invalid namespace"}`)}},
		{in: `4"oops"`, want: Packet{Type: ConnectError, Namespace: "/", Data: json.RawMessage(`"oops"`)}},
		{in: `52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, nargs: 3,
			want: Packet{Type: BinaryEvent, Namespace: "/", Attachments: 2, Data: json.RawMessage(`["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)}},
		{in: `61-/x,9[{"_placeholder":true,"num":0}]`, nargs: 1,
			want: Packet{Type: BinaryAck, Namespace: "/x", ID: 9, HasID: true, Attachments: 1, Data: json.RawMessage(`[{"_placeholder":true,"num":0}]`)}},

		{in: "", wantErr: ErrUnknownType},
		{in: "abc", wantErr: ErrUnknownType},
		{in: "7", wantErr: ErrUnknownType},
		{in: `5["a"]`, wantErr: ErrBadAttachments},
		{in: `5x-["a"]`, wantErr: ErrBadAttachments},
		{in: `51001-["a"]`, wantErr: ErrBadAttachments},
		{in: `2{}`, wantErr: ErrBadPayload},
		{in: `2abc["message-with-ack",1]`, wantErr: ErrBadPayload},
		{in: `2[]`, wantErr: ErrBadPayload},
		{in: `2`, wantErr: ErrBadPayload},
		{in: `2[{}]`, wantErr: ErrBadPayload},
		{in: `2["connect"]`, wantErr: ErrBadPayload},
		{in: `2["disconnect",1]`, wantErr: ErrBadPayload},
		{in: `0[1]`, wantErr: ErrBadPayload},
		{in: `0"x"`, wantErr: ErrBadPayload},
		{in: `1{}`, wantErr: ErrBadPayload},
		{in: `4`, wantErr: ErrBadPayload},
		{in: `3{}`, wantErr: ErrBadPayload},
		{in: `29007199254740992["a"]`, wantErr: ErrBadID},
		{in: `2["a"`, wantErr: ErrBadPayload},
		{in: `2null`, wantErr: ErrBadPayload},
		{in: `2 [ "a" , [1,2] , {"b":","} ]`, nargs: 3, want: Packet{Type: Event, Namespace: "/", Data: json.RawMessage(` [ "a" , [1,2] , {"b":","} ]`)}},
		{in: `2["a","\"]\\",1]`, nargs: 3, want: Packet{Type: Event, Namespace: "/", Data: json.RawMessage(`["a","\"]\\",1]`)}},
		{in: `2["a"` + strings.Repeat(",0", MaxArgs-1) + `]`, nargs: MaxArgs,
			want: Packet{Type: Event, Namespace: "/", Data: json.RawMessage(`["a"` + strings.Repeat(",0", MaxArgs-1) + `]`)}},
		{in: `2["a"` + strings.Repeat(",0", MaxArgs) + `]`, wantErr: ErrTooManyArgs},
		{in: `3[0` + strings.Repeat(",0", MaxArgs) + `]`, wantErr: ErrTooManyArgs},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Decode([]byte(tt.in))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Decode(%q) error %v, want %v", tt.in, err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			if got.Type != tt.want.Type || got.Namespace != tt.want.Namespace || got.ID != tt.want.ID ||
				got.HasID != tt.want.HasID || string(got.Data) != string(tt.want.Data) || got.Attachments != tt.want.Attachments {
				t.Errorf("Decode(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			if len(got.Args) != tt.nargs {
				t.Errorf("Decode(%q): %d args, want %d", tt.in, len(got.Args), tt.nargs)
			}
		})
	}
}

func TestAppend(t *testing.T) {
	for _, tc := range []struct {
		p    Packet
		want string
	}{
		{Packet{Type: Connect, Namespace: "/", Data: json.RawMessage(`{"sid":"x"}`)}, `0{"sid":"x"}`},
		{Packet{Type: Connect, Namespace: "/custom", Data: json.RawMessage(`{"sid":"x"}`)}, `0/custom,{"sid":"x"}`},
		{Packet{Type: ConnectError, Namespace: "/random", Data: json.RawMessage(`{"message":"Invalid namespace"}`)}, `4/random,{"message":"Invalid namespace"}`},
		{Packet{Type: Disconnect}, `1`},
		{Packet{Type: Ack, ID: 456, HasID: true, Data: EncodeArray(nil, []json.RawMessage{json.RawMessage(`1`), json.RawMessage(`"2"`)})}, `3456[1,"2"]`},
		{Packet{Type: BinaryAck, ID: 789, HasID: true, Attachments: 2, Data: EncodeArray(nil, []json.RawMessage{Placeholder(0), Placeholder(1)})},
			`62-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`},
		{Packet{Type: Event, Data: json.RawMessage(`[]`)}, `2[]`},
	} {
		if got := string(Append(nil, tc.p)); got != tc.want {
			t.Errorf("Append(%+v) = %s, want %s", tc.p, got, tc.want)
		}
	}
}

func TestPlaceholderNum(t *testing.T) {
	for raw, want := range map[string]int{`{"_placeholder":true,"num":0}`: 0, `{"num":3,"_placeholder":true}`: 3} {
		if n, ok := PlaceholderNum(json.RawMessage(raw)); !ok || n != want {
			t.Errorf("PlaceholderNum(%s) = %d, %v", raw, n, ok)
		}
	}
	for _, raw := range []string{`{"_placeholder":false,"num":0}`, `{"_placeholder":true}`, `{"_placeholder":true,"num":-1}`, `[]`, `"x"`, ``} {
		if _, ok := PlaceholderNum(json.RawMessage(raw)); ok {
			t.Errorf("PlaceholderNum(%s) is a placeholder", raw)
		}
	}
}

// TestDecodeManyArgs: 1 MB of [0,0,0,…] is refused before its elements
// are made.
func TestDecodeManyArgs(t *testing.T) {
	in := []byte(`2[0` + strings.Repeat(",0", 500_000) + `]`)
	var err error
	allocs := testing.AllocsPerRun(5, func() { _, err = Decode(in) })
	if !errors.Is(err, ErrTooManyArgs) {
		t.Fatalf("Decode of 500,001 arguments: %v, want ErrTooManyArgs", err)
	}
	if allocs > 5 {
		t.Errorf("Decode of 500,001 arguments: %v allocations, want a few", allocs)
	}
}

// FuzzArrayLen: arrayLen counts what encoding/json decodes, for any
// valid JSON.
func FuzzArrayLen(f *testing.F) {
	for _, s := range []string{`[]`, ` [ ] `, `[1]`, `[1,[2,3],{"a":[4,5]}]`, `["\\",","]`, `["\"],"]`, `{}`, `null`, `"x"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if !json.Valid(in) {
			return
		}
		var want []json.RawMessage
		isArray := json.Unmarshal(in, &want) == nil && want != nil
		n, ok := arrayLen(in)
		if ok != isArray || (ok && n != len(want)) {
			t.Fatalf("arrayLen(%q) = %d, %v; encoding/json: %d elements, an array: %v", in, n, ok, len(want), isArray)
		}
		var m map[string]json.RawMessage
		if isObj := json.Unmarshal(in, &m) == nil && m != nil; isObject(in) != isObj {
			t.Fatalf("isObject(%q) = %v, encoding/json: %v", in, !isObj, isObj)
		}
	})
}

// FuzzDecode: never panics; what decodes encodes back to a packet that
// decodes the same.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{"0", `0/custom,{"a":1}`, `2["m",1]`, `2456["m"]`, `3456[1]`, `52-["m",{"_placeholder":true,"num":0}]`,
		`4{"message":"x"}`, "1/x,", "42abc", `2["connect"]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := Decode(in)
		if err != nil {
			return
		}
		out := Append(nil, p)
		q, err := Decode(out)
		if err != nil {
			t.Fatalf("Decode(%q) ok, but its encoding %q fails: %v", in, out, err)
		}
		if q.Type != p.Type || q.Namespace != p.Namespace || q.ID != p.ID || q.HasID != p.HasID ||
			string(q.Data) != string(p.Data) || q.Attachments != p.Attachments {
			t.Fatalf("round trip of %q: %+v then %+v", in, p, q)
		}
	})
}
