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
