package auth

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/expressbridge/expressbridge/connectsid"
)

// TestTruthy holds the rule to JavaScript's: what `if (value)` does with
// the value JSON.parse gives.
func TestTruthy(t *testing.T) {
	tests := []struct {
		raw  string
		want bool
	}{
		{"", false}, // missing
		{"true", true},
		{"false", false},
		{"null", false},
		{"0", false},
		{"-0", false},
		{"0.0", false},
		{"0e10", false},
		{"-0.0E-3", false},
		{"1", true},
		{"42", true},
		{"-1", true},
		{"0.5", true},
		{"1e-400", false}, // underflows to 0 in JavaScript too
		{"1e400", true},   // Infinity
		{`""`, false},
		{`"0"`, true},
		{`"false"`, true},
		{`" "`, true},
		{`"\u0000"`, true},
		{"{}", true},
		{"[]", true},
		{`{"id":42}`, true},
	}
	for _, tc := range tests {
		if got := Truthy(json.RawMessage(tc.raw)); got != tc.want {
			t.Errorf("Truthy(%s) = %v, want %v", tc.raw, got, tc.want)
		}
	}
}

// TestText is the user's name as JavaScript's String() writes the value.
func TestText(t *testing.T) {
	tests := []struct {
		raw  string
		want string
		ok   bool
	}{
		{`"alice"`, "alice", true},
		{`"Zo\u00eb \ud83d\ude80"`, "Zoë 🚀", true},
		{`""`, "", true},
		{"42", "42", true},
		{"-7", "-7", true},
		{"42.0", "42", true},
		{"4.2e1", "42", true},
		{"12345678901234567890123", "12345678901234567890123", true}, // Node writes 1.2345678901234568e+22; as stored, kept
		{"0.5", "0.5", true},
		{"true", "", false},
		{"null", "", false},
		{"{}", "", false},
		{"[]", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		got, ok := Text(json.RawMessage(tc.raw))
		if got != tc.want || ok != tc.ok {
			t.Errorf("Text(%s) = %q, %v; want %q, %v", tc.raw, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseField(t *testing.T) {
	for _, bad := range []string{"", ".", "a.", ".a", "a..b"} {
		if _, err := ParseField(bad); err == nil {
			t.Errorf("ParseField(%q) accepted", bad)
		}
	}
	sess, err := connectsid.DecodeSession("sid", `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},`+
		`"passport":{"user":42},"a":{"b":{"c":"deep"}},"dup":{"x":1,"x":2},"s":"str","loggedIn":true}`)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path, want string
		ok         bool
	}{
		{"passport.user", "42", true},
		{"passport", `{"user":42}`, true},
		{"a.b.c", `"deep"`, true},
		{"dup.x", "2", true}, // JSON.parse: the last wins
		{"loggedIn", "true", true},
		{"passport.user.id", "", false},
		{"s.length", "", false}, // not an object
		{"cookie", "", false},   // the cookie is not an app field
		{"cookie.path", "", false},
		{"missing.user", "", false},
	}
	for _, tc := range tests {
		f, err := ParseField(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		raw, ok := f.Raw(sess)
		if string(raw) != tc.want || ok != tc.ok {
			t.Errorf("%s: %s, %v; want %s, %v", tc.path, raw, ok, tc.want, tc.ok)
		}
	}
}

// FuzzTruthyText checks the two rules against encoding/json's reading of
// the same JSON value: they must never panic, and must agree with it.
func FuzzTruthyText(f *testing.F) {
	for _, s := range []string{"0", "-0.0", "1e400", `""`, `"a\"b"`, "42", "42.0", "{}", "null", "true", `"\ud800"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		raw := json.RawMessage(s)
		if !json.Valid(raw) {
			return // the record passed json.Valid before any rule sees it
		}
		var v any
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		if dec.Decode(&v) != nil {
			return
		}
		truthy := Truthy(raw)
		text, ok := Text(raw)
		switch x := v.(type) {
		case nil:
			if truthy || ok {
				t.Fatalf("%s: null is falsy and no text", s)
			}
		case bool:
			if truthy != x || ok {
				t.Fatalf("%s: Truthy %v, Text ok %v", s, truthy, ok)
			}
		case string:
			if truthy != (x != "") || !ok || text != x {
				t.Fatalf("%s: Truthy %v, Text %q %v", s, truthy, text, ok)
			}
		case json.Number:
			fv, err := strconv.ParseFloat(string(x), 64)
			if err == nil && truthy != (fv != 0) {
				t.Fatalf("%s: Truthy %v for %v", s, truthy, fv)
			}
			if !ok || text == "" {
				t.Fatalf("%s: a number has a text", s)
			}
			if tv, err := strconv.ParseFloat(text, 64); err == nil && !math.IsInf(fv, 0) && tv != fv {
				t.Fatalf("%s: text %q is another number", s, text)
			}
		default: // object or array
			if !truthy || ok {
				t.Fatalf("%s: objects are truthy, without text", s)
			}
		}
	})
}
