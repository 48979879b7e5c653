package connectsid

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// vectors is testdata/cookies.json: answers of the real npm packages,
// written by node-app/scripts/gen-vectors.js.
type vectors struct {
	Versions map[string]string `json:"versions"`
	Parse    []struct {
		Name    string            `json:"name"`
		Header  string            `json:"header"`
		Cookies map[string]string `json:"cookies"`
	} `json:"parse"`
	Sign []struct {
		Name    string `json:"name"`
		SID     string `json:"sid"`
		Secret  string `json:"secret"`
		Signed  string `json:"signed"`
		Encoded string `json:"encoded"`
	} `json:"sign"`
	Verify []struct {
		Name       string   `json:"name"`
		Header     string   `json:"header"`
		CookieName string   `json:"cookieName"`
		Secrets    []string `json:"secrets"`
		Verdict    string   `json:"verdict"`
		SID        string   `json:"sid"`
	} `json:"verify"`
	SetCookie []struct {
		Name      string   `json:"name"`
		Secrets   []string `json:"secrets"`
		SID       string   `json:"sid"`
		SetCookie string   `json:"setCookie"`
		Value     string   `json:"value"`
	} `json:"setCookie"`
}

func loadVectors(t testing.TB, name string) vectors {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatalf("read vectors (make vectors writes them): %v", err)
	}
	var v vectors
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return v
}

// wire turns a vector's header (a JavaScript string of latin1 characters)
// into the bytes that were sent.
func wire(t testing.TB, s string) string {
	t.Helper()
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xFF {
			t.Fatalf("header holds %U, not a latin1 character", r)
		}
		b = append(b, byte(r))
	}
	return string(b)
}

func TestParseCookiesMatchesNode(t *testing.T) {
	for _, file := range []string{"cookies.json", "cookies-big.json"} {
		v := loadVectors(t, file)
		if len(v.Parse) == 0 {
			t.Fatalf("%s has no parse vectors", file)
		}
		for _, c := range v.Parse {
			t.Run(c.Name, func(t *testing.T) {
				header := wire(t, c.Header)
				got := ParseCookies(header)
				if len(got) != len(c.Cookies) {
					t.Errorf("got %d cookies, cookie.parse gave %d", len(got), len(c.Cookies))
				}
				for name, want := range c.Cookies {
					if got[name] != want {
						t.Errorf("cookie %q = %q, cookie.parse gave %q", name, got[name], want)
					}
					if lv, ok := Lookup(header, name); !ok || lv != want {
						t.Errorf("Lookup(%q) = %q, %v; want %q", name, lv, ok, want)
					}
				}
			})
		}
	}
}

func TestSignMatchesNode(t *testing.T) {
	v := loadVectors(t, "cookies.json")
	if len(v.Sign) < 15 {
		t.Fatalf("only %d sign vectors", len(v.Sign))
	}
	for _, c := range v.Sign {
		t.Run(c.Name, func(t *testing.T) {
			ver, err := NewVerifier(c.Secret)
			if err != nil {
				t.Fatal(err)
			}
			if got := ver.SignRaw(c.SID); got != c.Signed {
				t.Errorf("SignRaw = %q, cookie-signature gave %q", got, c.Signed)
			}
			if got := ver.Sign(c.SID); got != c.Encoded {
				t.Errorf("Sign = %q, express-session writes %q", got, c.Encoded)
			}
			sid, i, err := ver.Unsign(c.Signed)
			if c.SID == "" {
				// express-session treats an empty ID as none ("no SID sent").
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("Unsign of an empty sid = %q, %v; want ErrMalformed", sid, err)
				}
			} else if err != nil || sid != c.SID || i != 0 {
				t.Errorf("Unsign(Sign) = %q, %d, %v", sid, i, err)
			}
		})
	}
}

func TestSetCookieMatchesExpress(t *testing.T) {
	v := loadVectors(t, "cookies.json")
	if len(v.SetCookie) == 0 {
		t.Fatal("no setCookie vectors")
	}
	for _, c := range v.SetCookie {
		t.Run(c.Name, func(t *testing.T) {
			ver, err := NewVerifier(c.Secrets...)
			if err != nil {
				t.Fatal(err)
			}
			if got := ver.Sign(c.SID); got != c.Value {
				t.Errorf("Sign = %q, Express's Set-Cookie holds %q", got, c.Value)
			}
			name, _, _ := strings.Cut(c.SetCookie, "=")
			sid, _, err := ver.FromHeader(c.SetCookie, name)
			if err != nil || sid != c.SID {
				t.Errorf("FromHeader(Set-Cookie) = %q, %v; want %q", sid, err, c.SID)
			}
		})
	}
}

// TestVerifyMatchesExpress holds every verdict of a real express-session
// app against ours. express-session knows three rejections; ErrMalformed
// names a subset of them more precisely.
func TestVerifyMatchesExpress(t *testing.T) {
	v := loadVectors(t, "cookies.json")
	if len(v.Verify) < 60 {
		t.Fatalf("only %d verify vectors", len(v.Verify))
	}
	allowed := map[string][]error{
		"no-cookie":     {ErrNoCookie, ErrMalformed},
		"not-signed":    {ErrNotSigned},
		"bad-signature": {ErrBadSignature, ErrMalformed},
	}
	for _, c := range v.Verify {
		t.Run(c.Name, func(t *testing.T) {
			ver, err := NewVerifier(c.Secrets...)
			if err != nil {
				t.Fatal(err)
			}
			sid, idx, err := ver.FromHeader(wire(t, c.Header), c.CookieName)
			if c.Verdict == "accept" {
				if err != nil || sid != c.SID {
					t.Fatalf("got %q, %v; express-session accepted sid %q", sid, err, c.SID)
				}
				if idx < 0 || idx >= len(c.Secrets) {
					t.Fatalf("secret index %d out of range", idx)
				}
				return
			}
			want, known := allowed[c.Verdict]
			if !known {
				t.Fatalf("unknown verdict %q", c.Verdict)
			}
			if err == nil {
				t.Fatalf("accepted sid %q; express-session said %s", sid, c.Verdict)
			}
			for _, w := range want {
				if errors.Is(err, w) {
					return
				}
			}
			t.Fatalf("error %v; express-session said %s", err, c.Verdict)
		})
	}
}
