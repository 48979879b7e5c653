package cookiesession

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strings"
	"unicode/utf8"

	"github.com/expressbridge/expressbridge/connectsid"
)

// DefaultName is cookie-session's default name option.
const DefaultName = "session"

// The algorithms keygrip is given by the apps this package serves: SHA1 is
// keygrip's default; the others are new Keygrip(keys, "sha256") and
// new Keygrip(keys, "sha512").
const (
	SHA1   = "sha1"
	SHA256 = "sha256"
	SHA512 = "sha512"
)

// Errors about the cookie. They describe untrusted input, never the system.
// Each wraps the connectsid sentinel of the same step, so the gate's codes
// are connectsid's (not-signed, bad-signature, malformed-session).
var (
	// ErrNoSignature means the session cookie came without its ".sig"
	// cookie, or with an empty one: cookie-session then sees no session.
	ErrNoSignature = fmt.Errorf("no .sig cookie beside the session cookie: %w", connectsid.ErrNotSigned)
	// ErrBadSignature means no key of the list produced the ".sig" cookie's
	// signature of the session cookie: cookie-session then sees no session
	// (and the cookies package clears the .sig cookie).
	ErrBadSignature = fmt.Errorf("cookie-session signature invalid: %w", connectsid.ErrBadSignature)
	// ErrMalformedSession means the signature verified but the value is not
	// base64 of a JSON object as cookie-session writes one.
	ErrMalformedSession = fmt.Errorf("cookie-session value is not base64 of a JSON object: %w", connectsid.ErrMalformedSession)
)

// ErrConfig is a usage error of New: no key, an empty key, an algorithm
// that is not one of SHA1, SHA256, SHA512, or a name the cookies package
// refuses.
var ErrConfig = errors.New("cookiesession: bad config")

// Config is what the app passes to cookieSession({name, keys}) and to
// keygrip.
type Config struct {
	// Name is the session cookie's name (DefaultName); its signature is
	// in Name + ".sig".
	Name string
	// Keys are the app's keys option, in its order: the first signs, any
	// verifies. Used as their UTF-8 bytes, as Node uses a JavaScript string.
	Keys []string
	// Algorithm is keygrip's algorithm (SHA1 when empty).
	Algorithm string
}

// Codec verifies, decodes, encodes and signs cookie-session cookies. It is
// immutable and safe for concurrent use.
type Codec struct {
	name, sigName string
	alg           string
	newHash       func() hash.Hash
	keys          [][]byte
	sigLen        int
}

// New returns a Codec for cfg. It fails with ErrConfig.
func New(cfg Config) (*Codec, error) {
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	if cfg.Algorithm == "" {
		cfg.Algorithm = SHA1
	}
	c := &Codec{name: cfg.Name, sigName: cfg.Name + ".sig", alg: cfg.Algorithm}
	switch cfg.Algorithm {
	case SHA1:
		c.newHash = sha1.New
	case SHA256:
		c.newHash = sha256.New
	case SHA512:
		c.newHash = sha512.New
	default:
		return nil, fmt.Errorf("%w: algorithm %q: use sha1, sha256 or sha512, as the app's new Keygrip(keys, algorithm)", ErrConfig, cfg.Algorithm)
	}
	// The cookies package refuses to set a cookie of such a name.
	for i := 0; i < len(cfg.Name); i++ {
		if b := cfg.Name[i]; b < 0x20 && b != '\t' || b == 0x7f || b >= 0x80 || b == ';' || b == '=' {
			return nil, fmt.Errorf("%w: cookie name %q: the cookies package refuses it", ErrConfig, cfg.Name)
		}
	}
	if len(cfg.Keys) == 0 {
		return nil, fmt.Errorf("%w: no key given (cookie-session's keys option)", ErrConfig)
	}
	for i, k := range cfg.Keys {
		if k == "" {
			return nil, fmt.Errorf("%w: key %d of %d is empty", ErrConfig, i+1, len(cfg.Keys))
		}
		c.keys = append(c.keys, []byte(k))
	}
	c.sigLen = base64.RawURLEncoding.EncodedLen(c.newHash().Size())
	return c, nil
}

// Name returns the session cookie's name.
func (c *Codec) Name() string { return c.name }

// Algorithm returns keygrip's algorithm.
func (c *Codec) Algorithm() string { return c.alg }

// Keys returns how many keys the Codec holds.
func (c *Codec) Keys() int { return len(c.keys) }

// FromHeader finds the session cookie and its signature in a Cookie header
// (Node joins repeated headers with "; "), verifies and decodes them, as
// cookie-session does on a request:
//
//  1. the session cookie: absent or empty is connectsid.ErrNoCookie;
//  2. its ".sig" cookie: absent or empty is ErrNoSignature;
//  3. the signature, with each key in turn: ErrBadSignature when none;
//  4. the value, base64 of a JSON object: ErrMalformedSession otherwise.
//
// It returns the session's ID (ID), the index of the key that verified
// (0: the signing key; more: a rotation is in progress) and the session.
// Errors never hold the value, the signature or a key.
func (c *Codec) FromHeader(header string) (sid string, keyIndex int, sess *connectsid.Session, err error) {
	value, ok := Lookup(header, c.name)
	if !ok || value == "" {
		return "", -1, nil, fmt.Errorf("%w: %q", connectsid.ErrNoCookie, c.name)
	}
	sig, ok := Lookup(header, c.sigName)
	if !ok || sig == "" {
		return "", -1, nil, ErrNoSignature
	}
	return c.Open(value, sig)
}

// Open verifies sig against value (both as Lookup returns them) and
// decodes the session: FromHeader's steps 3 and 4.
func (c *Codec) Open(value, sig string) (sid string, keyIndex int, sess *connectsid.Session, err error) {
	if len(value) > connectsid.MaxValueLen || len(sig) > connectsid.MaxValueLen {
		return "", -1, nil, fmt.Errorf("%w: over %d bytes", ErrBadSignature, connectsid.MaxValueLen)
	}
	if keyIndex = c.Verify(value, sig); keyIndex < 0 {
		return "", -1, nil, fmt.Errorf("%w (%s tried)", ErrBadSignature, keysN(len(c.keys)))
	}
	sid = ID(value)
	sess, err = Decode(sid, value)
	if err != nil {
		return "", keyIndex, nil, err
	}
	return sid, keyIndex, sess, nil
}

// Verify returns the index of the first key whose signature of value is
// sig, as keygrip's index(name + "=" + value, sig), or -1. Signatures are
// compared in constant time.
func (c *Codec) Verify(value, sig string) int {
	if len(sig) != c.sigLen {
		return -1 // no key makes a signature of another length
	}
	data := c.signedData(value)
	for i, k := range c.keys {
		if hmac.Equal(c.mac(k, data), []byte(sig)) {
			return i
		}
	}
	return -1
}

// Sign returns the ".sig" cookie's value for value: keygrip's sign with
// the first key.
func (c *Codec) Sign(value string) string {
	return string(c.mac(c.keys[0], c.signedData(value)))
}

// Cookies returns the two cookies cookie-session sets for a session whose
// JSON.stringify is record: the value (Encode) and its signature.
func (c *Codec) Cookies(record []byte) (value, sig string) {
	value = Encode(record)
	return value, c.Sign(value)
}

// Header returns a Cookie header that carries the session record, as a
// browser sends it back: "session=<value>; session.sig=<sig>".
func (c *Codec) Header(record []byte) string {
	value, sig := c.Cookies(record)
	return c.name + "=" + value + "; " + c.sigName + "=" + sig
}

// signedData is the text keygrip signs: name=value, the value as Node's
// HTTP parser hands it to JavaScript (latin1) and as crypto's update
// encodes a string (UTF-8).
func (c *Codec) signedData(value string) []byte {
	b := make([]byte, 0, len(c.name)+1+len(value))
	b = append(b, c.name...)
	b = append(b, '=')
	for i := 0; i < len(value); i++ {
		if v := value[i]; v < utf8.RuneSelf {
			b = append(b, v)
		} else {
			b = utf8.AppendRune(b, rune(v))
		}
	}
	return b
}

// mac is keygrip's sign: HMAC, base64, then "/"→"_", "+"→"-", "=" dropped.
func (c *Codec) mac(key, data []byte) []byte {
	h := hmac.New(c.newHash, key)
	h.Write(data)
	sum := h.Sum(nil)
	out := make([]byte, base64.RawURLEncoding.EncodedLen(len(sum)))
	base64.RawURLEncoding.Encode(out, sum)
	return out
}

// Lookup finds the cookie called name in a Cookie header as the cookies
// package's get does: the first match of /(?:^|;) *NAME=([^;]*)/, then,
// when the value starts with a double quote, the value without its first
// and last characters. Nothing is percent-decoded or trimmed: keygrip
// signs the text as it is.
func Lookup(header, name string) (string, bool) {
	for start := 0; start <= len(header); {
		i := start
		for i < len(header) && header[i] == ' ' {
			i++
		}
		if strings.HasPrefix(header[i:], name) && strings.HasPrefix(header[i+len(name):], "=") {
			v := header[i+len(name)+1:]
			if end := strings.IndexByte(v, ';'); end >= 0 {
				v = v[:end]
			}
			if len(v) > 0 && v[0] == '"' {
				v = v[1 : len(v)-1+boolInt(len(v) == 1)]
			}
			return v, true
		}
		next := strings.IndexByte(header[start:], ';')
		if next < 0 {
			break
		}
		start += next + 1
	}
	return "", false
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Encode is cookie-session's encode: base64 of the session's
// JSON.stringify (record), with padding.
func Encode(record []byte) string { return base64.StdEncoding.EncodeToString(record) }

// Decode is cookie-session's decode of a verified value into a session
// with the given ID: base64 (with or without its padding, as
// cookie-session writes it: Node's decoder is more lenient, but the value
// has been signed by the app, which writes only that form), then UTF-8,
// then a JSON object. It fails with ErrMalformedSession: a value of
// another form, invalid UTF-8 (never written by JSON.stringify), or JSON
// that is not an object (cookie-session would make an empty or odd
// session of it; the bridge refuses it). Fields cookie-session drops on
// load (its own properties, Object.prototype's) are left out.
func Decode(sid, value string) (*connectsid.Session, error) {
	raw, err := base64.StdEncoding.DecodeString(value)
	if err != nil {
		raw, err = base64.RawStdEncoding.DecodeString(value)
	}
	if err != nil {
		return nil, fmt.Errorf("%w (sid %s): not base64", ErrMalformedSession, connectsid.Redact(sid))
	}
	if !utf8.Valid(raw) {
		return nil, fmt.Errorf("%w (sid %s): not UTF-8", ErrMalformedSession, connectsid.Redact(sid))
	}
	sess, err := connectsid.DecodeFields(sid, string(raw), dropped)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedSession, err)
	}
	return sess, nil
}

// dropped reports whether cookie-session's Session constructor skips a
// field of this name (`if (!(key in this))`): its own properties and
// getters, and Object.prototype's.
func dropped(key string) bool {
	switch key {
	case "_ctx", "isChanged", "isNew", "isPopulated",
		"constructor", "__proto__", "toString", "toLocaleString", "valueOf", "hasOwnProperty",
		"isPrototypeOf", "propertyIsEnumerable", "__defineGetter__", "__defineSetter__",
		"__lookupGetter__", "__lookupSetter__":
		return true
	}
	return false
}

// idLen is how many bytes of SHA-256 name a session: 128 bits.
const idLen = 16

// ID returns the name the bridge gives the session a cookie value holds:
// the unpadded URL-safe base64 of the first 16 bytes of its SHA-256. The
// same value always has the same ID; a session changed by the app (a new
// value) has a new one. It reveals nothing of the value.
func ID(value string) string {
	sum := sha256.Sum256([]byte(value))
	return base64.RawURLEncoding.EncodeToString(sum[:idLen])
}

func keysN(n int) string {
	if n == 1 {
		return "1 key"
	}
	return fmt.Sprintf("%d keys", n)
}
