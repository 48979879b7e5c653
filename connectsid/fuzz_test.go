package connectsid

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParseCookies(f *testing.F) {
	for _, s := range []string{"a=1; b=2", `a="x"; a=2`, "a=%E9; b=%C3%A9", "x;y=;=z", "\t a = 1 ;", "a=\"", "a=%", "\xff=\xfe"} {
		f.Add(s, "a")
	}
	f.Fuzz(func(t *testing.T, header, name string) {
		all := ParseCookies(header)
		v, ok := Lookup(header, name)
		if want, has := all[name]; has != ok && name != "__proto__" || has && want != v {
			t.Fatalf("Lookup(%q) = %q, %v; ParseCookies has %q, %v", name, v, ok, want, has)
		}
		for k, val := range all {
			if !utf8.ValidString(k) || !utf8.ValidString(val) {
				t.Fatalf("results must be UTF-8 as JavaScript strings are: %q=%q", k, val)
			}
		}
	})
}

func FuzzUnsign(f *testing.F) {
	v := mustVerifier(f, "fuzz-secret", "second")
	for _, s := range []string{testSID, "a.b.c", "x", "é", ""} {
		f.Add(s, v.SignRaw(s))
	}
	f.Add("", "s:")
	f.Add("", "s:.")
	f.Fuzz(func(t *testing.T, sid, value string) {
		got, idx, err := v.Unsign(value)
		if err == nil && (got == "" || idx != 0 && idx != 1 || !strings.HasPrefix(value, "s:"+got+".")) {
			t.Fatalf("Unsign(%q) = %q, %d", value, got, idx)
		}
		if err != nil && ErrorCode(err) == "" {
			t.Fatalf("error without code: %v", err)
		}
		// Every sid express-session could write (non-empty UTF-8 within the
		// limit) comes back from its own signature, through the encoding too.
		if sid == "" || !utf8.ValidString(sid) || len(sid) > MaxValueLen-64 {
			return
		}
		if got, _, err := v.Unsign(v.SignRaw(sid)); err != nil || got != sid {
			t.Fatalf("Unsign(SignRaw(%q)) = %q, %v", sid, got, err)
		}
		if got, _, err := v.FromHeader("connect.sid="+v.Sign(sid), "connect.sid"); err != nil || got != sid {
			t.Fatalf("FromHeader(Sign(%q)) = %q, %v", sid, got, err)
		}
	})
}

func FuzzDecodeSession(f *testing.F) {
	f.Add(expressRecord)
	f.Add(`{"cookie":{},"a":"\u00e9\"","b":[{"c":{}}]}`)
	f.Add(`{"cookie":{"expires":null}, "x" : 1 }`)
	f.Fuzz(func(t *testing.T, record string) {
		s, err := DecodeSession(testSID, record)
		if err != nil {
			if ErrorCode(err) != CodeMalformedSession {
				t.Fatalf("error %v is not ErrMalformedSession", err)
			}
			return
		}
		// What we write back must decode to the same fields.
		again, err := DecodeSession(testSID, string(s.Encode()))
		if err != nil {
			t.Fatalf("re-decoding our own encoding: %v\n%s", err, s.Encode())
		}
		if string(again.Encode()) != string(s.Encode()) {
			t.Fatalf("encoding is not stable:\n%s\n%s", s.Encode(), again.Encode())
		}
	})
}
