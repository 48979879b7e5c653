package connectsid

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
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
		if n := CountCookies(header, name); (n > 0) != ok {
			t.Fatalf("CountCookies(%q) = %d, Lookup found it: %v", name, n, ok)
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
		if err == nil && !LooksSigned(value) {
			t.Fatalf("Unsign accepted %q, which LooksSigned does not", value)
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
		// The cookie reads as encoding/json reads it.
		checkCookieAgainstReflection(t, s)
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

// checkCookieAgainstReflection decodes the record's cookie object with
// encoding/json, the way the decoder worked before it was hand-written,
// and compares.
func checkCookieAgainstReflection(t *testing.T, s *Session) {
	t.Helper()
	var raw string
	for _, m := range s.members {
		if m.key == "cookie" {
			raw = m.raw
		}
	}
	// encoding/json matches names regardless of case; JavaScript, and so
	// express-session and our decoder, do not ("eXpires" is not expires).
	inner, _ := splitObject(raw)
	for _, m := range inner {
		for _, f := range []string{"originalMaxAge", "expires", "secure", "httpOnly", "partitioned", "domain", "path", "priority", "sameSite"} {
			if m.key != f && strings.EqualFold(m.key, f) {
				return
			}
		}
	}
	var j struct {
		OriginalMaxAge *float64        `json:"originalMaxAge"`
		Expires        *string         `json:"expires"`
		Secure         *bool           `json:"secure"`
		HTTPOnly       *bool           `json:"httpOnly"`
		Partitioned    *bool           `json:"partitioned"`
		Domain         *string         `json:"domain"`
		Path           *string         `json:"path"`
		Priority       *string         `json:"priority"`
		SameSite       json.RawMessage `json:"sameSite"`
	}
	if err := json.Unmarshal([]byte(raw), &j); err != nil {
		t.Fatalf("our decoder took a cookie encoding/json refuses: %s: %v", raw, err)
	}
	want := Cookie{Secure: j.Secure, HTTPOnly: j.HTTPOnly, Partitioned: j.Partitioned,
		Domain: j.Domain, Path: j.Path, Priority: j.Priority}
	if j.OriginalMaxAge != nil {
		ms := int64(*j.OriginalMaxAge)
		want.OriginalMaxAge = &ms
	}
	if j.Expires != nil {
		e, err := time.Parse(time.RFC3339Nano, *j.Expires)
		if err != nil {
			t.Fatalf("our decoder took expires %q", *j.Expires)
		}
		want.Expires = &e
	}
	if ss := string(j.SameSite); ss == "true" || ss == "false" {
		want.SameSite = ss
	} else if len(ss) > 0 && ss != "null" {
		json.Unmarshal(j.SameSite, &want.SameSite)
	}
	if !reflect.DeepEqual(s.Cookie(), want) {
		t.Fatalf("cookie %s: decoded %+v, encoding/json says %+v", raw, s.Cookie(), want)
	}
}
