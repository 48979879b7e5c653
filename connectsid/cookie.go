package connectsid

import (
	"strings"
	"unicode/utf8"
	"unsafe"
)

// Cookie header parsing, as the npm cookie package 0.7 (the one
// express-session 1.19 requires) does it.
//
// Node hands header values to JavaScript as latin1 strings: every byte is
// one character. Results here are the UTF-8 encoding of the string that
// JavaScript would hold, so a raw byte 0xE9 comes back as "é" (C3 A9), and
// %C3%A9 also as "é". The sid, its HMAC and its Redis key all use that
// encoding, exactly as in Node.

// ParseCookies returns every cookie of a Cookie header, as cookie.parse
// returns them: the first pair of a name wins, names and values are trimmed
// of spaces and tabs, one pair of surrounding double quotes is removed,
// values holding a "%" are decoded with decodeURIComponent's rules (a value
// that fails to decode is kept as it was), and pieces without "=" are
// ignored. A cookie named __proto__ is dropped, as JavaScript drops it.
func ParseCookies(header string) map[string]string {
	out := make(map[string]string)
	scanCookies(header, func(name, value string) bool {
		name = jsString(name)
		if _, seen := out[name]; !seen && name != "__proto__" {
			out[name] = DecodeValue(value)
		}
		return true
	})
	return out
}

// Lookup returns the value of the first cookie called name in a Cookie
// header, decoded as ParseCookies decodes it, without building a map.
// ok is false when there is no such cookie.
func Lookup(header, name string) (value string, ok bool) {
	scanCookies(header, func(n, v string) bool {
		if jsEqual(n, name) {
			value, ok = DecodeValue(v), true
			return false
		}
		return true
	})
	return value, ok
}

// CountCookies returns how many pairs of a Cookie header are called name,
// split as ParseCookies splits them. More than one means cookies of the
// same name from several domains or paths: Lookup, like Express, reads the
// first.
func CountCookies(header, name string) int {
	n := 0
	scanCookies(header, func(k, _ string) bool {
		if jsEqual(k, name) {
			n++
		}
		return true
	})
	return n
}

// DecodeValue decodes a raw cookie value as the cookie package does: with
// decodeURIComponent when it holds a "%", and as it was when that fails.
func DecodeValue(raw string) string {
	if strings.IndexByte(raw, '%') < 0 {
		return jsString(raw)
	}
	if s, ok := decodeURIComponent(raw); ok {
		return s
	}
	return jsString(raw)
}

// scanCookies walks the pairs of a Cookie header in order, with the exact
// index arithmetic of cookie 0.7.2's parse, and stops when yield returns
// false. Names are trimmed; values are trimmed and unquoted, not decoded.
func scanCookies(str string, yield func(name, value string) bool) {
	n := len(str)
	if n < 2 {
		return
	}
	index := 0
	for index < n {
		eq := strings.IndexByte(str[index:], '=')
		if eq < 0 {
			return
		}
		eq += index
		end := strings.IndexByte(str[index:], ';')
		if end < 0 {
			end = n
		} else if end += index; eq > end {
			// A piece without "=": resume after the last ";" before this "=".
			index = strings.LastIndexByte(str[:eq], ';') + 1
			continue
		}
		ks := skipSpace(str, index, eq)
		name := str[ks:trimSpace(str, eq, ks)]
		vs := skipSpace(str, eq+1, end)
		ve := trimSpace(str, end, vs)
		if vs < n && str[vs] == '"' && ve > 0 && str[ve-1] == '"' {
			vs++
			ve--
		}
		value := ""
		if vs < ve {
			value = str[vs:ve]
		}
		if !yield(name, value) {
			return
		}
		index = end + 1
	}
}

// skipSpace returns the index of the first byte in [i, max) that is not a
// space or tab, or max.
func skipSpace(s string, i, max int) int {
	for ; i < max; i++ {
		if s[i] != ' ' && s[i] != '\t' {
			return i
		}
	}
	return max
}

// trimSpace returns the end, no lower than min, of s[:i] without trailing
// spaces and tabs.
func trimSpace(s string, i, min int) int {
	for ; i > min; i-- {
		if s[i-1] != ' ' && s[i-1] != '\t' {
			return i
		}
	}
	return min
}

// jsString returns the UTF-8 encoding of the JavaScript string that Node
// builds from the header bytes s (latin1: one byte, one character).
// ASCII input is returned as it is, without allocating.
func jsString(s string) string {
	i := 0
	for i < len(s) && s[i] < utf8.RuneSelf {
		i++
	}
	if i == len(s) {
		return s
	}
	b := make([]byte, 0, len(s)+len(s)-i)
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		b = utf8.AppendRune(b, rune(s[i]))
	}
	return string(b)
}

// jsEqual reports whether header bytes h, read as latin1, equal the UTF-8
// string name.
func jsEqual(h, name string) bool {
	if len(h) == len(name) {
		// Equal bytes are equal strings only in ASCII: a byte over 0x7F
		// reads as two UTF-8 bytes, so its string is longer than name.
		return h == name && isASCII(h)
	}
	if len(name) < len(h) {
		return false // latin1 → UTF-8 never shrinks
	}
	j := 0
	for i := 0; i < len(h); i++ {
		var buf [2]byte
		enc := utf8.AppendRune(buf[:0], rune(h[i]))
		if j+len(enc) > len(name) || name[j:j+len(enc)] != string(enc) {
			return false
		}
		j += len(enc)
	}
	return j == len(name)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// decodeURIComponent applies ECMAScript's decodeURIComponent to the latin1
// string s. ok is false where JavaScript would throw a URIError: a "%" not
// followed by two hex digits, or escapes that are not the UTF-8 encoding of
// one code point (overlong forms and surrogates included).
func decodeURIComponent(s string) (string, bool) {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '%' {
			b = utf8.AppendRune(b, rune(c))
			i++
			continue
		}
		lead, ok := unhex2(s, i)
		if !ok {
			return "", false
		}
		i += 3
		if lead < 0x80 {
			b = append(b, lead)
			continue
		}
		n := leadingOnes(lead)
		if n == 1 || n > 4 {
			return "", false
		}
		var octets [4]byte
		octets[0] = lead
		for k := 1; k < n; k++ {
			if i >= len(s) || s[i] != '%' {
				return "", false
			}
			o, ok := unhex2(s, i)
			if !ok || o&0xC0 != 0x80 {
				return "", false
			}
			octets[k] = o
			i += 3
		}
		if _, size := utf8.DecodeRune(octets[:n]); size != n {
			return "", false
		}
		b = append(b, octets[:n]...)
	}
	if len(b) == 0 {
		return "", true
	}
	return unsafe.String(&b[0], len(b)), true // b is never written again
}

// unhex2 decodes the two hex digits after the "%" at s[i].
func unhex2(s string, i int) (byte, bool) {
	if i+2 >= len(s) {
		return 0, false
	}
	hi, ok1 := unhex(s[i+1])
	lo, ok2 := unhex(s[i+2])
	return hi<<4 | lo, ok1 && ok2
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func leadingOnes(b byte) int {
	n := 0
	for b&0x80 != 0 {
		n++
		b <<= 1
	}
	return n
}
