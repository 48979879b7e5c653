package auth

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/expressbridge/expressbridge/connectsid"
)

// Field is a dotted path through a session's nested objects, as an Express
// app reads it: "passport.user" is req.session.passport.user. A Field is
// immutable and safe for concurrent use.
type Field struct {
	name string
	path []string
}

// ParseField splits a dotted path. Every segment must be non-empty.
func ParseField(name string) (Field, error) {
	path := strings.Split(name, ".")
	for _, p := range path {
		if p == "" {
			return Field{}, &usageError{"field " + strconv.Quote(name) + " has an empty segment: write a dotted path such as passport.user"}
		}
	}
	return Field{name: name, path: path}, nil
}

// String returns the path as it was written.
func (f Field) String() string { return f.name }

// Raw returns the JSON text at the path, or false when it is missing.
func (f Field) Raw(sess *connectsid.Session) (json.RawMessage, bool) {
	if len(f.path) == 1 { // the common case, without Path's walk
		return sess.Raw(f.path[0])
	}
	return sess.Path(f.path...)
}

// Truthy reports whether JSON text is truthy as JavaScript sees the parsed
// value: what `if (req.session.passport && req.session.passport.user)`
// tests. false, null, 0, -0 and "" are falsy; every other number, string,
// object and array, and true, are truthy. Missing (nil) is falsy.
func Truthy(raw json.RawMessage) bool {
	s := strings.Trim(string(raw), jsonSpace)
	if s == "" {
		return false
	}
	switch s[0] {
	case 't', '{', '[':
		return true
	case 'f', 'n':
		return false
	case '"':
		return len(s) > 2 // `""` is the only empty string: escapes are never empty
	}
	f, err := strconv.ParseFloat(s, 64)
	// A number too large for float64 is ±Infinity in JavaScript: truthy.
	return err != nil || f != 0
}

// Text returns a JSON string or number as JavaScript's String() writes it:
// a string as it is, a number as JSON.stringify wrote it (42, not 42.0).
// Other values (and missing ones) give false.
func Text(raw json.RawMessage) (string, bool) {
	s := strings.Trim(string(raw), jsonSpace)
	if s == "" {
		return "", false
	}
	switch c := s[0]; {
	case c == '"':
		if strings.IndexByte(s, '\\') < 0 && utf8.ValidString(s) {
			return s[1 : len(s)-1], true
		}
		var v string
		if json.Unmarshal([]byte(s), &v) != nil {
			return "", false
		}
		return v, true
	case c == '-' || (c >= '0' && c <= '9'):
		return jsNumber(s), true
	}
	return "", false
}

// jsonSpace is JSON's white space; values cut from a record carry none,
// but a Store may hand over text that does.
const jsonSpace = " \t\n\r"

// jsNumber writes a JSON number as JavaScript's String(Number(s)) would:
// the text Node wrote is already that form, so only other writers' forms
// (42.0, 1E3) are rewritten.
func jsNumber(s string) string {
	if !strings.ContainsAny(s, ".eE") {
		return s // an integer as Node writes it; big ones stay exact, as ids should
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64) // JavaScript's plain integer form
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// usageError is a mistake of the caller's configuration.
type usageError struct{ msg string }

func (e *usageError) Error() string { return "auth: " + e.msg }
