package wire_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/adapter/redisadapter/wire"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// exactCases are event arguments as a client writes them, with what a Node
// server relaying them through the adapter writes to its own clients
// (JSON.parse, notepack.io, JSON.stringify): keys in order, integers
// beyond 2^53 rounded, beyond ±2^63 wrapped as notepack.io wraps them, -0
// as 0, array-index keys first, a repeated key's last value.
var exactCases = []struct{ in, want string }{
	{`{"order":1,"text":"hi","from":"a"}`, `{"order":1,"text":"hi","from":"a"}`},
	{`{"z":{"y":[{"x":1,"w":2}],"v":null},"u":true}`, `{"z":{"y":[{"x":1,"w":2}],"v":null},"u":true}`},
	{`9007199254740993`, `9007199254740992`},
	{`12345678901234567890`, `12345678901234567000`},
	{`18446744073709551615`, `0`},
	{`123456789012345678901234567890`, `14083846750322295000`},
	{`-9223372036854775809`, `-9223372036854776000`},
	{`-123456789012345678901234567890`, `4362897323387257000`},
	{`1e300`, `0`},
	{`-0`, `0`},
	{`-0.0`, `0`},
	{`1.0`, `1`},
	{`1e21`, `3875820019684212700`},
	{`1e-7`, `1e-7`},
	{`0.1`, `0.1`},
	{`[1.5,-2.25,4294967296,-2147483649,-2147483648,4294967295]`, `[1.5,-2.25,4294967296,-2147483649,-2147483648,4294967295]`},
	{`{"b":1,"2":2,"a":3,"1":4,"01":5,"4294967295":6,"4294967294":7}`, `{"1":4,"2":2,"4294967294":7,"b":1,"a":3,"01":5,"4294967295":6}`},
	{`{"a":1,"a":2,"b":3}`, `{"a":2,"b":3}`},
	{`"\u2028<>&\u0001\"é\/"`, `"` + "\u2028" + `<>&\u0001\"é/"`},
	{`1e999`, `null`},
	{`[[],{},"",[[[]]]]`, `[[],{},"",[[[]]]]`},
}

// TestConversionMatchesNotepack: for each case, Go's MessagePack is the
// bytes notepack.io writes for the value JSON.parse gives (Go→Node), Go
// decodes notepack.io's bytes and writes the JSON Node writes (Node→Go),
// and Go→Go gives the same text; the real notepack.io, through
// node-app/scripts/notepack-roundtrip.js, is the reference.
func TestConversionMatchesNotepack(t *testing.T) {
	node := notepackRoundTrip(t, exactCases)
	for i, tc := range exactCases {
		ref := node[i]
		if ref.JSON != tc.want {
			t.Errorf("%s: Node writes %s, the table says %s", tc.in, ref.JSON, tc.want)
		}
		v, err := wire.DecodeJSONValue([]byte(tc.in))
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		b, err := wire.EncodeMsgpackValue(v)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if hex.EncodeToString(b) != ref.Msgpack {
			t.Errorf("%s: Go writes %x, notepack.io %s", tc.in, b, ref.Msgpack)
		}
		nodeBytes, _ := hex.DecodeString(ref.Msgpack)
		for dir, payload := range map[string][]byte{"Go→Go": b, "Node→Go": nodeBytes} {
			back, err := wire.DecodeMsgpackValue(payload)
			if err != nil {
				t.Fatalf("%s %s: %v", dir, tc.in, err)
			}
			out, err := wire.AppendJSON(nil, back, nil)
			if err != nil || string(out) != ref.JSON {
				t.Errorf("%s %s: Go writes %s (%v), Node %s", dir, tc.in, out, err, ref.JSON)
			}
		}
	}
}

type notepackResult struct {
	Msgpack string `json:"msgpack"`
	JSON    string `json:"json"`
}

// notepackRoundTrip runs the cases through the real notepack.io.
func notepackRoundTrip(t *testing.T, cases []struct{ in, want string }) []notepackResult {
	t.Helper()
	testenv.EnsureNodeModules(t)
	var in strings.Builder
	for _, tc := range cases {
		in.WriteString(tc.in + "\n")
	}
	cmd := exec.Command(testenv.Node(t), filepath.Join("scripts", "notepack-roundtrip.js"))
	cmd.Dir = filepath.Join(testenv.RepoRoot(t), "node-app")
	cmd.Stdin = strings.NewReader(in.String())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("notepack-roundtrip.js: %v\n%s", err, stderr.String())
	}
	var res []notepackResult
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r notepackResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("notepack-roundtrip.js wrote %q: %v", sc.Text(), err)
		}
		res = append(res, r)
	}
	if len(res) != len(cases) {
		t.Fatalf("notepack-roundtrip.js answered %d of %d cases", len(res), len(cases))
	}
	return res
}

// TestObjectBinaryAndDates: binary nested anywhere stays binary in its
// place through MessagePack, and AppendJSON hands each to bin depth first
// (or writes a Buffer's toJSON); a time.Time is a timestamp on the wire and
// a Date's toJSON in JSON.
func TestObjectBinaryAndDates(t *testing.T) {
	when := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)
	v := wire.Object{
		{"z", []byte{1}},
		{"list", []any{[]byte{2}, wire.Object{{"deep", []any{[]byte{3}}}}}},
		{"when", when},
		{"a", int64(1)},
	}
	b, err := wire.EncodeMsgpackValue(v)
	if err != nil {
		t.Fatal(err)
	}
	back, err := wire.DecodeMsgpackValue(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, v) {
		t.Errorf("through MessagePack: %#v, want %#v", back, v)
	}
	var bins [][]byte
	out, err := wire.AppendJSON(nil, back, func(dst, b []byte) []byte {
		bins = append(bins, b)
		return append(dst, '#')
	})
	if want := `{"z":#,"list":[#,{"deep":[#]}],"when":"2026-01-02T03:04:05.006Z","a":1}`; err != nil || string(out) != want {
		t.Errorf("AppendJSON = %s, %v; want %s", out, err, want)
	}
	if !reflect.DeepEqual(bins, [][]byte{{1}, {2}, {3}}) {
		t.Errorf("binary handed over as %v", bins)
	}
	out, _ = wire.AppendJSON(nil, wire.Object{{"b", []byte{7, 8}}}, nil)
	if want := `{"b":{"type":"Buffer","data":[7,8]}}`; string(out) != want {
		t.Errorf("AppendJSON without bin = %s, want %s", out, want)
	}
	// A Go map keeps encoding/json's sorted order, an Object its own.
	out, _ = wire.AppendJSON(nil, map[string]any{"b": 1, "a": wire.Object{{"y", 1}, {"x", 2}}}, nil)
	if want := `{"a":{"y":1,"x":2},"b":1}`; string(out) != want {
		t.Errorf("AppendJSON of a map = %s, want %s", out, want)
	}
	if m, _ := json.Marshal(wire.Object{{"k", "v"}, {"a", nil}}); string(m) != `{"k":"v","a":null}` {
		t.Errorf("json.Marshal(Object) = %s", m)
	}
}
