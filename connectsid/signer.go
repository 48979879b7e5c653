package connectsid

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"hash"
	"net/url"
	"strings"
	"sync"
	"unsafe"
)

// MaxValueLen bounds a cookie value before any work is done on it. Node
// refuses request headers over 16 KiB, so no longer value can reach
// express-session either.
const MaxValueLen = 16 << 10

// SignatureLen is the length of cookie-signature's signature: base64 of
// an HMAC-SHA256 with its "=" padding removed.
const SignatureLen = 43

var b64 = base64.StdEncoding.WithPadding(base64.NoPadding)

// Verifier signs and verifies connect.sid values with a list of secrets, as
// express-session does with its secret option: the first secret signs,
// every secret verifies. It is safe for concurrent use.
type Verifier struct {
	keys []*key
}

// key holds ready-keyed HMAC states for one secret, so a verification
// neither rebuilds the key schedule nor allocates.
type key struct {
	pool sync.Pool // of *macState
}

type macState struct {
	h   hash.Hash
	sum [sha256.Size]byte
	enc [SignatureLen + 1]byte
}

// NewVerifier returns a verifier for secrets, in express-session's order:
// secrets[0] signs new cookies and every secret verifies. It fails with
// ErrEmptySecret when the list is empty or holds an empty secret. Secrets
// are used as their UTF-8 bytes, as Node uses a JavaScript string.
func NewVerifier(secrets ...string) (*Verifier, error) {
	if len(secrets) == 0 {
		return nil, fmt.Errorf("%w: no secret given", ErrEmptySecret)
	}
	v := &Verifier{keys: make([]*key, len(secrets))}
	for i, s := range secrets {
		if s == "" {
			return nil, fmt.Errorf("%w: secret %d of %d is empty", ErrEmptySecret, i+1, len(secrets))
		}
		secret := []byte(s)
		v.keys[i] = &key{pool: sync.Pool{New: func() any {
			return &macState{h: hmac.New(sha256.New, secret)}
		}}}
	}
	return v, nil
}

// Secrets returns how many secrets the verifier holds.
func (v *Verifier) Secrets() int { return len(v.keys) }

// Unsign verifies a decoded cookie value ("s:" + sid + "." + signature) and
// returns the session ID and the index of the secret that signed it. It
// accepts exactly the values express-session accepts, in the same order of
// secrets. Errors wrap ErrNotSigned, ErrMalformed or ErrBadSignature; they
// never hold the value, the signature or a secret. Signatures are compared
// in constant time. Unsign does not allocate on success.
func (v *Verifier) Unsign(value string) (sid string, secretIndex int, err error) {
	// 1. Bound the work.
	if len(value) > MaxValueLen {
		return "", -1, fmt.Errorf("%w: value of %d bytes exceeds %d", ErrMalformed, len(value), MaxValueLen)
	}
	// 2. Only signed values, as express-session's raw.substr(0, 2) === 's:'.
	if !strings.HasPrefix(value, "s:") {
		return "", -1, ErrNotSigned
	}
	// 3. Split at the last ".", as cookie-signature's unsign does.
	sid, mac, ok := SplitSigned(value)
	if !ok {
		return "", -1, fmt.Errorf("%w: no signature", ErrMalformed)
	}
	if sid == "" {
		// Verifies or not, express-session treats an empty ID as no ID.
		return "", -1, fmt.Errorf("%w: empty session ID", ErrMalformed)
	}
	// 4. A signature of another length can match no secret.
	if len(mac) != SignatureLen {
		return "", -1, fmt.Errorf("%w (sid %s)", ErrBadSignature, Redact(sid))
	}
	// 5. Try each secret in turn.
	for i, k := range v.keys {
		if k.verify(sid, mac) {
			return sid, i, nil
		}
	}
	return "", -1, fmt.Errorf("%w (sid %s, %s tried)", ErrBadSignature, Redact(sid), secretsN(len(v.keys)))
}

// SplitSigned splits a decoded signed value ("s:" + sid + "." + signature)
// at its last ".", as Unsign does, without verifying anything. ok is false
// when the value does not start with "s:" or has no ".".
func SplitSigned(value string) (sid, signature string, ok bool) {
	body, signed := strings.CutPrefix(value, "s:")
	dot := strings.LastIndexByte(body, '.')
	if !signed || dot < 0 {
		return "", "", false
	}
	return body[:dot], body[dot+1:], true
}

// LooksSigned reports whether a decoded cookie value has the shape of a
// signed session ID: "s:", a non-empty ID, "." and a signature of
// SignatureLen characters. It verifies nothing: it tells which cookie of a
// header is likely the session's.
func LooksSigned(value string) bool {
	sid, mac, ok := SplitSigned(value)
	return ok && sid != "" && len(mac) == SignatureLen
}

// FromHeader finds the cookie called name in a Cookie header, decodes it as
// express-session's cookie parser does and unsigns it. It fails with
// ErrNoCookie when the cookie is absent or empty, otherwise as Unsign.
func (v *Verifier) FromHeader(header, name string) (sid string, secretIndex int, err error) {
	raw, ok := Lookup(header, name)
	if !ok || raw == "" {
		return "", -1, fmt.Errorf("%w: %q", ErrNoCookie, name)
	}
	return v.Unsign(raw)
}

// Sign returns the cookie value express-session would write for sid, signed
// with the first secret and encoded as encodeURIComponent encodes it
// ("s%3A…"). sid should be valid UTF-8, as every JavaScript string is.
func (v *Verifier) Sign(sid string) string {
	return encodeURIComponent(v.SignRaw(sid))
}

// SignRaw returns the signed value before encoding: "s:" + sid + "." + mac,
// as express-session passes it to cookie.serialize.
func (v *Verifier) SignRaw(sid string) string {
	m := v.keys[0].get()
	defer v.keys[0].pool.Put(m)
	return "s:" + sid + "." + string(m.mac(sid))
}

func (k *key) get() *macState { return k.pool.Get().(*macState) }

// verify reports whether mac is this key's signature of sid.
func (k *key) verify(sid, mac string) bool {
	m := k.get()
	ok := subtle.ConstantTimeCompare(m.mac(sid), bytesOf(mac)) == 1
	k.pool.Put(m)
	return ok
}

// mac returns the unpadded base64 HMAC-SHA256 of sid, in m's own buffer.
func (m *macState) mac(sid string) []byte {
	m.h.Reset()
	m.h.Write(bytesOf(sid))
	b64.Encode(m.enc[:], m.h.Sum(m.sum[:0]))
	return m.enc[:SignatureLen]
}

// bytesOf views s as bytes without copying. Only for callers that never
// write to the slice nor keep it (hash.Write and comparisons).
func bytesOf(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// encodeURIComponent percent-encodes s as ECMAScript's encodeURIComponent:
// every byte except A–Z a–z 0–9 and - _ . ! ~ * ' ( ), upper-case hex.
func encodeURIComponent(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if uriUnreserved(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

func uriUnreserved(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-_.!~*'()", c) >= 0
}

func secretsN(n int) string {
	if n == 1 {
		return "1 secret"
	}
	return fmt.Sprintf("%d secrets", n)
}

// RedactURL returns a store URL without its password, for logs and
// errors; a URL that does not parse is not shown at all.
func RedactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Redact returns a prefix of a session ID that is safe to log: enough to
// tell sessions apart in a log, too little to use.
func Redact(sid string) string {
	n := min(6, len(sid)/4)
	return sid[:n] + "…"
}
