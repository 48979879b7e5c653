package connectsid

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DefaultMaxRecordSize bounds a session record before it is decoded. Real
// records are a few hundred bytes; this leaves apps a lot of room while
// keeping a poisoned key from costing the bridge much.
const DefaultMaxRecordSize = 512 << 10

// ErrNoField is returned by Session.Get for a field the record does not hold.
var ErrNoField = errors.New("no such session field")

// Session is one express-session record: its ID, its cookie object and the
// app's own fields, in the order they were stored. Fields the Go code does
// not change are written back exactly as they were read, so a
// read-modify-write loses nothing. A Session is not safe for concurrent
// mutation.
type Session struct {
	id      string
	cookie  Cookie
	members []member // the record's members in order, "cookie" included
	// fieldsOnly: every member is an app field, "cookie" too (DecodeFields).
	fieldsOnly bool
}

// member is one top-level member of the record, as JSON text.
type member struct {
	key    string // decoded
	rawKey string // as stored, quotes included
	raw    string // the value's JSON text
}

// Cookie is the record's cookie object, as express-session's Cookie.toJSON
// writes it. Optional attributes are nil (or "") when the app did not set
// them, because JSON drops undefined values.
type Cookie struct {
	// OriginalMaxAge is the cookie's maxAge in milliseconds when the session
	// was saved; nil for a browser-session cookie.
	OriginalMaxAge *int64
	// Expires is when the cookie expires; nil for a browser-session cookie.
	Expires     *time.Time
	Secure      *bool
	HTTPOnly    *bool
	Partitioned *bool
	Domain      *string
	Path        *string
	Priority    *string
	// SameSite is "lax", "strict" or "none", or "true"/"false" for the
	// boolean forms; "" when absent.
	SameSite string
}

// DecodeBounded is DecodeSession for a record a store has read: one of
// more than max bytes fails with ErrMalformedSession before any decoding.
func DecodeBounded(sid, record string, max int) (*Session, error) {
	if len(record) > max {
		return nil, fmt.Errorf("%w (sid %s): record of %d bytes exceeds %d", ErrMalformedSession, Redact(sid), len(record), max)
	}
	return DecodeSession(sid, record)
}

// DecodeSession decodes a record as connect-redis stores it
// (JSON.stringify of the session). It fails with ErrMalformedSession, naming
// a redacted sid, when the record is not a JSON object or its cookie member
// is missing or not the object express-session writes. The Session refers
// to record's memory; record must not change afterwards (Go strings don't).
func DecodeSession(sid, record string) (*Session, error) {
	bad := func(why string) error {
		return fmt.Errorf("%w (sid %s): %s", ErrMalformedSession, Redact(sid), why)
	}
	// 1. Only valid JSON, so the scan below can trust its input.
	if !json.Valid(bytesOf(record)) {
		return nil, bad("not valid JSON")
	}
	// 2. An object, split into its members.
	members, err := splitObject(record)
	if err != nil {
		return nil, bad(err.Error())
	}
	s := &Session{id: sid, members: members}
	// 3. The cookie object, which express-session cannot do without.
	i := s.index("cookie")
	if i < 0 {
		return nil, bad("no cookie object")
	}
	if s.cookie, err = decodeCookie(members[i].raw); err != nil {
		return nil, bad("cookie: " + err.Error())
	}
	return s, nil
}

// ID returns the session ID.
func (s *Session) ID() string { return s.id }

// Cookie returns the record's cookie object.
func (s *Session) Cookie() Cookie { return s.cookie }

// Expired reports whether the cookie's expiry has passed at now: the one
// rule for that, which the gate (auth.Config.AcceptExpired) and the CLI
// apply. Stores do not: like connect-redis and connect-pg-simple they leave
// it to their TTL. A browser-session cookie (no expiry) never expires
// here: the store's TTL ends it.
func (s *Session) Expired(now time.Time) bool {
	return s.cookie.Expires != nil && !s.cookie.Expires.After(now)
}

// CheckExpiry returns ErrExpired, naming the redacted sid and when, if the
// cookie's expiry has passed at now (Expired), and nil otherwise: the
// gate's wording of that refusal.
func (s *Session) CheckExpiry(now time.Time) error {
	if !s.Expired(now) {
		return nil
	}
	return fmt.Errorf("%w (sid %s) at %s", ErrExpired, Redact(s.id), s.cookie.Expires.UTC().Format(time.RFC3339))
}

// StoreTTL returns the TTL in seconds that connect-redis gives this record
// when saving it at now: ceil((expires - now) / 1s) when the cookie has an
// expiry, def otherwise. A result ≤ 0 means connect-redis deletes the key.
func (s *Session) StoreTTL(now time.Time, def int64) int64 {
	if s.cookie.Expires == nil {
		return def
	}
	return ceilSeconds(s.cookie.Expires.UnixMilli() - now.UnixMilli())
}

// TouchTTL returns the TTL in seconds that connect-redis gives this session
// when express-session touches it: express-session first resets the
// expiry to now + originalMaxAge, so the TTL is ceil(originalMaxAge / 1s),
// or def for a browser-session cookie.
func (s *Session) TouchTTL(def int64) int64 {
	if s.cookie.OriginalMaxAge == nil {
		return def
	}
	return ceilSeconds(*s.cookie.OriginalMaxAge)
}

// ceilSeconds is JavaScript's Math.ceil(ms / 1000) for whole milliseconds.
func ceilSeconds(ms int64) int64 {
	if ms > 0 {
		return (ms + 999) / 1000
	}
	return ms / 1000 // truncation is the ceiling for negatives
}

// ResetMaxAge sets cookie.expires to now + originalMaxAge, as
// express-session's req.session.touch() (resetMaxAge) does on every
// request before it saves the session, and rewrites only the cookie's
// expires member, in its place, as Date.toJSON writes it (milliseconds,
// UTC). A browser-session cookie (no originalMaxAge) is left as it is.
func (s *Session) ResetMaxAge(now time.Time) {
	oma := s.cookie.OriginalMaxAge
	i := s.index("cookie")
	if oma == nil || i < 0 {
		return
	}
	exp := time.UnixMilli(now.UnixMilli() + *oma).UTC()
	members, err := splitObject(s.members[i].raw)
	if err != nil {
		return // decodeCookie split it already: cannot happen
	}
	val := `"` + ISOString(exp) + `"`
	if j := indexOf(members, "expires"); j >= 0 {
		members[j].raw = val
	} else {
		members = append(members, member{key: "expires", rawKey: `"expires"`, raw: val})
	}
	s.members[i].raw = string(appendMembers(nil, members, ""))
	s.cookie.Expires = &exp
}

// ISOString formats t as JavaScript's Date.prototype.toISOString does
// (UTC, milliseconds), for years 0 to 9999: the form express-session
// stores cookie.expires in.
func ISOString(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// Keys returns the names of the app's fields, in stored order, without
// "cookie".
func (s *Session) Keys() []string {
	keys := make([]string, 0, len(s.members))
	for _, m := range s.members {
		if m.key != "cookie" || s.fieldsOnly {
			keys = append(keys, m.key)
		}
	}
	return keys
}

// Raw returns the JSON text of an app field.
func (s *Session) Raw(key string) (json.RawMessage, bool) {
	if i := s.index(key); i >= 0 && (key != "cookie" || s.fieldsOnly) {
		return json.RawMessage(s.members[i].raw), true
	}
	return nil, false
}

// Path returns the JSON text at a path of app fields through nested
// objects: Path("passport", "user") is req.session.passport.user. It
// reports false when a step is missing or not an object. Duplicate keys
// resolve as JSON.parse does: the last value wins.
func (s *Session) Path(path ...string) (json.RawMessage, bool) {
	if len(path) == 0 {
		return nil, false
	}
	raw, ok := s.Raw(path[0])
	for _, key := range path[1:] {
		if !ok || !strings.HasPrefix(string(raw), "{") {
			return nil, false
		}
		// The record passed json.Valid, so its nested objects split cleanly.
		members, err := splitObject(string(raw))
		if err != nil {
			return nil, false
		}
		i := indexOf(members, key)
		if i < 0 {
			return nil, false
		}
		raw, ok = json.RawMessage(members[i].raw), true
	}
	return raw, ok
}

// Get decodes an app field into v, as json.Unmarshal does. It fails with
// ErrNoField when the record has no such field.
func (s *Session) Get(key string, v any) error {
	raw, ok := s.Raw(key)
	if !ok {
		return fmt.Errorf("%w: %q", ErrNoField, key)
	}
	return json.Unmarshal(raw, v)
}

// String returns an app field that holds a JSON string.
func (s *Session) String(key string) (string, bool) {
	i := s.index(key)
	if i < 0 || key == "cookie" || !strings.HasPrefix(s.members[i].raw, `"`) {
		return "", false
	}
	raw := s.members[i].raw
	if strings.IndexByte(raw, '\\') < 0 {
		return raw[1 : len(raw)-1], true
	}
	var v string
	if err := json.Unmarshal(bytesOf(raw), &v); err != nil {
		return "", false
	}
	return v, true
}

// Bool returns an app field that holds a JSON boolean.
func (s *Session) Bool(key string) (value, ok bool) {
	if i := s.index(key); i >= 0 && key != "cookie" {
		switch s.members[i].raw {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	return false, false
}

// Set stores v, encoded as JSON the way JSON.stringify writes it (no HTML
// escaping), in an app field, keeping the field's place or appending it.
// The cookie object cannot be set, nor a field express-session would drop
// on its next load (id, req, save, touch, constructor, …).
func (s *Session) Set(key string, v any) error {
	if key == "cookie" {
		return errors.New("connectsid: the cookie object cannot be set as a field")
	}
	if reservedField(key) {
		return fmt.Errorf("connectsid: field %q would be dropped by express-session, which keeps its own property of that name", key)
	}
	raw, err := marshalJS(v)
	if err != nil {
		return fmt.Errorf("connectsid: set %q: %w", key, err)
	}
	if i := s.index(key); i >= 0 {
		s.members[i].raw = raw
		return nil
	}
	rawKey, _ := marshalJS(key)
	s.members = append(s.members, member{key: key, rawKey: rawKey, raw: raw})
	return nil
}

// reservedField reports whether express-session drops a stored field of
// this name when it loads a record: the Session's own properties and
// methods, and Object.prototype's.
func reservedField(key string) bool {
	switch key {
	case "id", "req", "regenerate", "destroy", "reload", "save", "touch", "resetMaxAge",
		"constructor", "__proto__", "toString", "toLocaleString", "valueOf", "hasOwnProperty",
		"isPrototypeOf", "propertyIsEnumerable", "__defineGetter__", "__defineSetter__",
		"__lookupGetter__", "__lookupSetter__":
		return true
	}
	return false
}

// Delete removes an app field; deleting a missing field does nothing.
func (s *Session) Delete(key string) {
	if i := s.index(key); i >= 0 && key != "cookie" {
		s.members = append(s.members[:i], s.members[i+1:]...)
	}
}

// Encode returns the record as connect-redis would store it. For a record
// written by express-session and not changed since, it returns the same
// bytes that were read.
func (s *Session) Encode() []byte { return s.appendObject(nil, true) }

// MarshalJSON returns Encode's result.
func (s *Session) MarshalJSON() ([]byte, error) { return s.Encode(), nil }

// AppJSON returns the app's fields as one JSON object, without the cookie.
func (s *Session) AppJSON() []byte { return s.appendObject(nil, false) }

func (s *Session) appendObject(b []byte, withCookie bool) []byte {
	skip := ""
	if !withCookie && !s.fieldsOnly {
		skip = "cookie"
	}
	return appendMembers(b, s.members, skip)
}

// appendMembers appends members as one JSON object in their order,
// leaving out the member named skip (none when skip is "").
func appendMembers(b []byte, members []member, skip string) []byte {
	b = append(b, '{')
	first := true
	for _, m := range members {
		if skip != "" && m.key == skip {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, m.rawKey...)
		b = append(b, ':')
		b = append(b, m.raw...)
	}
	return append(b, '}')
}

func (s *Session) index(key string) int { return indexOf(s.members, key) }

// marshalJS encodes v as JSON.stringify would: json.Marshal without the
// HTML escaping that JavaScript does not do.
func marshalJS(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// The cookie object --------------------------------------------------------

// decodeCookie reads the cookie object with the record's own scanner
// instead of reflection: it runs on every handshake. The text was checked by
// json.Valid already.
func decodeCookie(raw string) (Cookie, error) {
	if !strings.HasPrefix(raw, "{") {
		return Cookie{}, errors.New("not an object")
	}
	members, err := splitObject(raw)
	if err != nil {
		return Cookie{}, err
	}
	var c Cookie
	for _, m := range members {
		v := m.raw
		if v == "null" {
			continue // JSON.stringify writes null only for maxAge and expires
		}
		var err error
		switch m.key {
		case "originalMaxAge":
			var f float64
			if f, err = strconv.ParseFloat(v, 64); err == nil {
				ms := int64(f)
				c.OriginalMaxAge = &ms
			}
		case "expires":
			var t time.Time
			if t, err = parseExpires(v); err == nil {
				c.Expires = &t
			}
		case "secure":
			c.Secure, err = jsonBool(v)
		case "httpOnly":
			c.HTTPOnly, err = jsonBool(v)
		case "partitioned":
			c.Partitioned, err = jsonBool(v)
		case "domain":
			c.Domain, err = jsonString(v)
		case "path":
			c.Path, err = jsonString(v)
		case "priority":
			c.Priority, err = jsonString(v)
		case "sameSite":
			switch {
			case v == "true" || v == "false":
				c.SameSite = v
			case strings.HasPrefix(v, `"`):
				var ss *string
				ss, err = jsonString(v)
				if err == nil {
					c.SameSite = *ss
				}
			default:
				err = fmt.Errorf("%s is neither a string nor a boolean", v)
			}
		}
		if err != nil {
			return Cookie{}, fmt.Errorf("%s: %w", m.key, err)
		}
	}
	return c, nil
}

func parseExpires(v string) (time.Time, error) {
	s, err := jsonString(v)
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an ISO date", *s)
	}
	return t, nil
}

func jsonBool(v string) (*bool, error) {
	switch v {
	case "true", "false":
		b := v == "true"
		return &b, nil
	}
	return nil, fmt.Errorf("%.20s is not a boolean", v)
}

func jsonString(v string) (*string, error) {
	if !strings.HasPrefix(v, `"`) {
		return nil, fmt.Errorf("%.20s is not a string", v)
	}
	s := v[1 : len(v)-1]
	if strings.IndexByte(s, '\\') >= 0 {
		if err := json.Unmarshal(bytesOf(v), &s); err != nil {
			return nil, err
		}
	}
	return &s, nil
}

// The object scanner --------------------------------------------------------
// These run only on text that json.Valid accepted, so they need not check
// the grammar, only find where each member starts and ends.

func splitObject(s string) ([]member, error) {
	i := skipWS(s, 0)
	if s[i] != '{' {
		return nil, errors.New("not a JSON object")
	}
	members := make([]member, 0, countMembers(s, i))
	i = skipWS(s, i+1)
	if s[i] == '}' {
		return members, nil
	}
	for {
		kEnd := endOfString(s, i)
		rawKey := s[i:kEnd]
		key := rawKey[1 : len(rawKey)-1]
		if strings.IndexByte(key, '\\') >= 0 {
			if err := json.Unmarshal(bytesOf(rawKey), &key); err != nil {
				return nil, err
			}
		}
		i = skipWS(s, skipWS(s, kEnd)+1) // past ':'
		vEnd := endOfValue(s, i)
		m := member{key: key, rawKey: rawKey, raw: s[i:vEnd]}
		if j := indexOf(members, key); j >= 0 {
			members[j].raw = m.raw // JSON.parse: the last value wins, in the first place
		} else {
			members = append(members, m)
		}
		i = skipWS(s, vEnd)
		if s[i] == '}' {
			return members, nil
		}
		i = skipWS(s, i+1) // past ','
	}
}

// countMembers counts the members of the object at s[i], so that the
// member slice of a session held for a connection's life has no spare room.
func countMembers(s string, i int) int {
	n := 0
	for i = skipWS(s, i+1); i < len(s) && s[i] != '}'; n++ {
		i = skipWS(s, endOfString(s, i))             // past the key
		i = skipWS(s, endOfValue(s, skipWS(s, i+1))) // past ':' and the value
		if i < len(s) && s[i] == ',' {
			i = skipWS(s, i+1)
		}
	}
	return n
}

func indexOf(ms []member, key string) int {
	for i := range ms {
		if ms[i].key == key {
			return i
		}
	}
	return -1
}

func skipWS(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// endOfString returns the index just past the string that starts at s[i].
func endOfString(s string, i int) int {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(s)
}

// endOfValue returns the index just past the value that starts at s[i].
func endOfValue(s string, i int) int {
	switch s[i] {
	case '"':
		return endOfString(s, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(s); j++ {
			switch s[j] {
			case '"':
				j = endOfString(s, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return len(s)
	}
	j := i
	for j < len(s) && !strings.ContainsRune(",}] \t\n\r", rune(s[j])) {
		j++
	}
	return j
}
