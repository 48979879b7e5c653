package cookiesession_test

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/cookiesession"
)

// vectors is testdata/vectors.json, which
// node-app/scripts/gen-cookiesession-vectors.js writes with the real npm
// packages (make vectors).
type vectors struct {
	Apps map[string]struct {
		Keys      []string `json:"keys"`
		Algorithm string   `json:"algorithm"`
		Name      string   `json:"name"`
	} `json:"apps"`
	Sign []struct {
		Name, App, Record, Value, Sig string
	} `json:"sign"`
	See []struct {
		Name, App, Header string
		Accepted          bool
		JSON              string `json:"json"`
		Resigned          bool
		Bridge            string `json:"bridge"`
	} `json:"see"`
}

func load(t *testing.T) (*vectors, map[string]*cookiesession.Codec) {
	t.Helper()
	data, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	codecs := map[string]*cookiesession.Codec{}
	for name, a := range v.Apps {
		c, err := cookiesession.New(cookiesession.Config{Name: a.Name, Keys: a.Keys, Algorithm: a.Algorithm})
		if err != nil {
			t.Fatal(err)
		}
		codecs[name] = c
	}
	return &v, codecs
}

// TestVectorsSign: the cookies Go writes for a session are the ones
// cookie-session sets for it, byte for byte, with every algorithm.
func TestVectorsSign(t *testing.T) {
	v, codecs := load(t)
	for _, tc := range v.Sign {
		t.Run(tc.Name, func(t *testing.T) {
			value, sig := codecs[tc.App].Cookies([]byte(tc.Record))
			if value != tc.Value || sig != tc.Sig {
				t.Fatalf("Cookies(%s) = %q, %q; cookie-session set %q, %q", tc.Record, value, sig, tc.Value, tc.Sig)
			}
		})
	}
}

// TestVectorsSee: a Cookie header is accepted exactly when the real app
// sees a session in it, with the same fields, and the key that verified is
// an older one exactly when the cookies package re-signs .sig; where the
// bridge is stricter (the vector says so), the signature verifies and the
// value is refused malformed.
func TestVectorsSee(t *testing.T) {
	v, codecs := load(t)
	accepted := 0
	for _, tc := range v.See {
		t.Run(tc.Name, func(t *testing.T) {
			header := latin1(tc.Header)
			sid, idx, sess, err := codecs[tc.App].FromHeader(header)
			if tc.Bridge != "" {
				if !tc.Accepted || !errors.Is(err, cookiesession.ErrMalformedSession) || idx < 0 {
					t.Fatalf("%s: err %v (key %d); want the signature verified and the value malformed", tc.Bridge, err, idx)
				}
				return
			}
			if !tc.Accepted {
				if err == nil {
					t.Fatalf("accepted %s; cookie-session sees no session", sess.AppJSON())
				}
				if connectsid.ErrorCode(err) == "" {
					t.Fatalf("err %v wraps no connectsid sentinel", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v; cookie-session sees %s", err, tc.JSON)
			}
			accepted++
			var got, want any
			if err := json.Unmarshal(sess.AppJSON(), &got); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tc.JSON), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("fields %s; cookie-session sees %s", sess.AppJSON(), tc.JSON)
			}
			value, _ := cookiesession.Lookup(header, codecs[tc.App].Name())
			if sid != cookiesession.ID(value) || sid == "" || strings.Contains(tc.Header, sid) {
				t.Fatalf("sid %q is not ID(value)", sid)
			}
			// cookie-session re-saves a value it would not write; otherwise
			// a new .sig comes only from the cookies package, for an older key.
			if cookiesession.Encode([]byte(tc.JSON)) == value && tc.Resigned != (idx > 0) {
				t.Fatalf("key %d verified; the cookies package re-signed: %v", idx, tc.Resigned)
			}
		})
	}
	if accepted < 10 {
		t.Fatalf("only %d accepted vectors", accepted)
	}
}

// latin1 is the header's bytes: each character of the vector's string is
// one byte, as the script sends it (Buffer.from(header, 'latin1')).
func latin1(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		b = append(b, byte(r))
	}
	return string(b)
}
