package cookiesession_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/cookiesession"
)

func TestFromHeaderErrors(t *testing.T) {
	c, err := cookiesession.New(cookiesession.Config{Keys: []string{"new", "old"}})
	if err != nil {
		t.Fatal(err)
	}
	old, _ := cookiesession.New(cookiesession.Config{Keys: []string{"old"}})
	other, _ := cookiesession.New(cookiesession.Config{Keys: []string{"other"}, Algorithm: cookiesession.SHA256})
	rec := []byte(`{"loggedIn":true,"username":"alice"}`)
	value, sig := c.Cookies(rec)
	for _, tc := range []struct {
		name, header string
		want         []error
		key          int
	}{
		{"first key", c.Header(rec), nil, 0},
		{"second key", old.Header(rec), nil, 1},
		{"no cookie", "a=1", []error{connectsid.ErrNoCookie}, -1},
		{"no sig", "session=" + value, []error{cookiesession.ErrNoSignature, connectsid.ErrNotSigned}, -1},
		{"empty sig", "session=" + value + "; session.sig=", []error{cookiesession.ErrNoSignature}, -1},
		{"bad sig", "session=" + value + "; session.sig=" + strings.Repeat("A", len(sig)), []error{cookiesession.ErrBadSignature, connectsid.ErrBadSignature}, -1},
		{"other algorithm", other.Header(rec), []error{cookiesession.ErrBadSignature}, -1},
		{"malformed", c.Header([]byte(`{"a":`)), []error{cookiesession.ErrMalformedSession, connectsid.ErrMalformedSession}, 0},
		{"not an object", c.Header([]byte(`[1]`)), []error{cookiesession.ErrMalformedSession}, 0},
		{"huge", "session=" + strings.Repeat("A", connectsid.MaxValueLen+1) + "; session.sig=" + sig, []error{cookiesession.ErrBadSignature}, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sid, key, sess, err := c.FromHeader(tc.header)
			if key != tc.key {
				t.Errorf("key %d, want %d", key, tc.key)
			}
			if tc.want == nil {
				if err != nil || sess == nil || sid != cookiesession.ID(value) {
					t.Fatalf("err %v, sid %q", err, sid)
				}
				if u, _ := sess.String("username"); u != "alice" {
					t.Fatalf("username %q", u)
				}
				return
			}
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("err %v is not %v", err, w)
				}
			}
			if err != nil && (strings.Contains(err.Error(), value) || strings.Contains(err.Error(), sig)) {
				t.Errorf("err %q holds the cookie", err)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	for _, cfg := range []cookiesession.Config{
		{},
		{Keys: []string{""}},
		{Keys: []string{"k"}, Algorithm: "md5"},
		{Keys: []string{"k"}, Name: "a;b"},
		{Keys: []string{"k"}, Name: "a=b"},
	} {
		if _, err := cookiesession.New(cfg); !errors.Is(err, cookiesession.ErrConfig) {
			t.Errorf("New(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
}

func TestLookup(t *testing.T) {
	for _, tc := range []struct {
		header, name, want string
		ok                 bool
	}{
		{"session=a", "session", "a", true},
		{"session.sig=s; session=a", "session", "a", true},
		{"x=1;  session=a b ;y", "session", "a b ", true},
		{"\tsession=a", "session", "", false},
		{`session="ab"`, "session", "ab", true},
		{`session="ab`, "session", "a", true},
		{`session="`, "session", "", true},
		{"xsession=a", "session", "", false},
		{"session=a;session=b", "session", "a", true},
		{"session=", "session", "", true},
		{"", "session", "", false},
	} {
		got, ok := cookiesession.Lookup(tc.header, tc.name)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Lookup(%q, %q) = %q, %v; want %q, %v", tc.header, tc.name, got, ok, tc.want, tc.ok)
		}
	}
}
