package cookiesession_test

import (
	"errors"
	"testing"

	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/cookiesession"
)

// FuzzFromHeader: any Cookie header is a session or a refusal wrapping a
// connectsid sentinel, never a panic; whatever is accepted encodes back to
// a record that decodes to the same fields.
func FuzzFromHeader(f *testing.F) {
	c, err := cookiesession.New(cookiesession.Config{Keys: []string{"k1", "k2"}})
	if err != nil {
		f.Fatal(err)
	}
	for _, rec := range []string{`{"loggedIn":true,"username":"a"}`, `{}`, `[1]`, `{"a":`, `{"__proto__":1,"cookie":{}}`, `"x"`} {
		f.Add(c.Header([]byte(rec)))
	}
	f.Add("session=; session.sig=")
	f.Add(`session="eyJ9"; session.sig="x"`)
	f.Fuzz(func(t *testing.T, header string) {
		_, _, sess, err := c.FromHeader(header)
		if err != nil {
			if connectsid.ErrorCode(err) == "" {
				t.Fatalf("err %v wraps no connectsid sentinel", err)
			}
			return
		}
		again, err := cookiesession.Decode("x", cookiesession.Encode(sess.Encode()))
		if err != nil {
			t.Fatalf("re-encoded %s: %v", sess.Encode(), err)
		}
		if string(again.Encode()) != string(sess.Encode()) {
			t.Fatalf("%s != %s", again.Encode(), sess.Encode())
		}
	})
}

// FuzzDecode: any value decodes to a session or fails with
// ErrMalformedSession.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{cookiesession.Encode([]byte(`{"a":1}`)), "e30", "!!", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		if _, err := cookiesession.Decode("x", value); err != nil && !errors.Is(err, cookiesession.ErrMalformedSession) {
			t.Fatalf("err %v", err)
		}
	})
}
