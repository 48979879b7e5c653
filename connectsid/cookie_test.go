package connectsid

import (
	"maps"
	"testing"
)

// The rules of cookie 0.7.2, one line each; the vectors from the real
// package (vectors_test.go) are the authority, these name the rules.
func TestParseCookiesRules(t *testing.T) {
	tests := []struct {
		name, header string
		want         map[string]string
	}{
		{"too short", "a", map[string]string{}},
		{"first wins", "a=1; a=2", map[string]string{"a": "1"}},
		{"trims spaces and tabs", " \ta \t= \t1 \t", map[string]string{"a": "1"}},
		{"unquotes", `a="x y"`, map[string]string{"a": "x y"}},
		{"lone quote", `a="`, map[string]string{"a": ""}},
		{"decodes with %", "a=%C3%A9", map[string]string{"a": "é"}},
		{"bad escape kept", "a=%E9x", map[string]string{"a": "%E9x"}},
		{"surrogate kept", "a=%ED%A0%80", map[string]string{"a": "%ED%A0%80"}},
		{"no = ignored", "junk; a=1", map[string]string{"a": "1"}},
		{"= in value", "a=b=c", map[string]string{"a": "b=c"}},
		{"empty name", "=x; a=1", map[string]string{"": "x", "a": "1"}},
		{"latin1 bytes", "a=\xe9", map[string]string{"a": "é"}},
		{"__proto__ dropped", "__proto__=x; a=1", map[string]string{"a": "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseCookies(tt.header); !maps.Equal(got, tt.want) {
				t.Fatalf("ParseCookies(%q) = %q, want %q", tt.header, got, tt.want)
			}
		})
	}
}

func TestCountCookies(t *testing.T) {
	for _, tt := range []struct {
		header, name string
		want         int
	}{
		{"connect.sid=a; x=1;connect.sid=b", "connect.sid", 2},
		{"connect.sid=a", "connect.sid", 1},
		{"x=1; y=2", "connect.sid", 0},
		{"", "connect.sid", 0},
		{" connect.sid = a ;\tconnect.sid=", "connect.sid", 2}, // trimmed, empty values count
		{"connect.sid; connect.sid=a", "connect.sid", 1},       // a piece without "=" is no pair
		{"\xe9=1; é=2", "é", 1},                                // latin1: 0xE9 is é, C3 A9 is Ã©
		{"Connect.sid=a", "connect.sid", 0},                    // names are case-sensitive
	} {
		if got := CountCookies(tt.header, tt.name); got != tt.want {
			t.Errorf("CountCookies(%q, %q) = %d, want %d", tt.header, tt.name, got, tt.want)
		}
	}
}
