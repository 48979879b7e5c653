package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
)

// Objects in their order ------------------------------------------------
//
// A JavaScript object keeps its keys in order, and a payload that crosses
// the fleet must arrive as the sender wrote it: the decoders give every
// map inside a payload as an Object, the encoders write an Object's
// members in order (a Go map[string]any keeps encoding/json's sorted
// order), and AppendJSON writes any value as JSON.stringify writes the one
// Node holds. These are the one conversion between JSON, MessagePack and
// Go values that every path of the adapter uses.

// Object is a JavaScript object: its members in the order Node enumerates
// them (array-index keys first in ascending order, then the others in
// insertion order; a repeated key keeps its first place and its last
// value, as JSON.parse and notepack.io do).
type Object []Member

// Member is one key and value of an Object.
type Member struct {
	Key   string
	Value any
}

// Get returns the value of key and whether o has it.
func (o Object) Get(key string) (any, bool) {
	for i := range o {
		if o[i].Key == key {
			return o[i].Value, true
		}
	}
	return nil, false
}

// MarshalJSON writes o as JSON.stringify does, members in order, binary as
// a Buffer's toJSON.
func (o Object) MarshalJSON() ([]byte, error) { return AppendJSON(nil, o, nil) }

// objectBuilder collects the members of one decoded object with
// JavaScript's rules for repeated and array-index keys.
type objectBuilder struct {
	o       Object
	index   map[string]int // built once the object is large, so that repeated keys stay linear
	indices bool           // some key is an array index
}

func (b *objectBuilder) set(k string, v any) {
	if b.index == nil && len(b.o) >= 32 {
		b.index = make(map[string]int, 2*len(b.o))
		for i, m := range b.o {
			b.index[m.Key] = i
		}
	}
	if b.index != nil {
		if i, ok := b.index[k]; ok {
			b.o[i].Value = v
			return
		}
		b.index[k] = len(b.o)
	} else {
		for i := range b.o {
			if b.o[i].Key == k {
				b.o[i].Value = v
				return
			}
		}
	}
	if _, ok := arrayIndex(k); ok {
		b.indices = true
	}
	b.o = append(b.o, Member{k, v})
}

func (b *objectBuilder) done() Object {
	if b.o == nil {
		return Object{}
	}
	if b.indices {
		slices.SortStableFunc(b.o, func(x, y Member) int {
			xi, xok := arrayIndex(x.Key)
			yi, yok := arrayIndex(y.Key)
			switch {
			case xok && yok:
				return int(xi - yi)
			case xok:
				return -1
			case yok:
				return 1
			}
			return 0
		})
	}
	return b.o
}

// arrayIndex reports whether k is a canonical array index (0 ≤ n < 2^32-1
// written without leading zeros), the keys JavaScript enumerates first.
func arrayIndex(k string) (int64, bool) {
	if k == "" || len(k) > 10 || (len(k) > 1 && k[0] == '0') {
		return 0, false
	}
	var n int64
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, n < 1<<32-1
}

// asMap returns the members of a decoded object (the last value of a
// repeated key), for reading a message's own fields.
func asMap(v any) (map[string]any, bool) {
	switch v := v.(type) {
	case map[string]any:
		return v, true
	case Object:
		m := make(map[string]any, len(v))
		for _, x := range v {
			m[x.Key] = x.Value
		}
		return m, true
	}
	return nil, false
}

// plainMaps returns v with every Object turned into a map[string]any, for
// the fields whose Go API is maps (a handshake, a socket's data).
func plainMaps(v any) any {
	switch v := v.(type) {
	case Object:
		m := make(map[string]any, len(v))
		for _, x := range v {
			m[x.Key] = plainMaps(x.Value)
		}
		return m
	case []any:
		for i := range v {
			v[i] = plainMaps(v[i])
		}
	}
	return v
}

// Numbers as notepack.io writes them --------------------------------------
//
// Node holds every number as a float64: JSON.parse rounds an integer
// beyond 2^53 to the nearest one, and notepack.io 3 writes a number without
// a fraction as the smallest integer form that holds it (-0 as 0), from
// 2^32 up and -2^31 down as a uint64 / int64 of two 32-bit halves that it
// takes with JavaScript's ToInt32 and ToUint32, with no upper bound (so a
// value beyond ±2^63 or 2^64 wraps, on every Node server alike); any other
// number as a float64. Go keeps decoded integers exact (int64, uint64),
// writes those within 2^53 as they are and the others as the float64 Node
// would hold.

// maxExact is the magnitude below which every integer is a float64.
const maxExact = 1 << 53

// encodeNumber writes f as notepack.io writes a JavaScript number.
func encodeNumber(e *msgpack.Encoder, f float64) error {
	switch {
	case f != math.Trunc(f) || math.IsInf(f, 0):
		return e.EncodeFloat64(f) // NaN too: NaN != Trunc(NaN)
	case f >= 0 && f < 1<<32:
		return e.EncodeUint(uint64(f))
	case f < 0 && f >= -1<<31:
		return e.EncodeInt(int64(f))
	case f > 0: // hi = (value / 2^32) >> 0, lo = value >>> 0
		return e.EncodeUint64(uint64(uint32Of(math.Trunc(f/(1<<32))))<<32 | uint64(uint32Of(f)))
	}
	// hi = Math.floor(value / 2^32), written with >> (ToInt32); lo = value >>> 0
	return e.EncodeInt64(int64(uint64(uint32Of(math.Floor(f/(1<<32))))<<32 | uint64(uint32Of(f))))
}

// uint32Of is JavaScript's ToUint32 of an integral f: f modulo 2^32 (the
// same 32 bits ToInt32 gives).
func uint32Of(f float64) uint32 {
	m := math.Mod(f, 1<<32) // exact
	if m < 0 {
		m += 1 << 32
	}
	return uint32(m)
}

// encodeInt writes an exact integer as notepack.io writes the float64 Node
// would hold for it.
func encodeInt(e *msgpack.Encoder, n int64) error {
	if n > -maxExact && n < maxExact {
		return e.EncodeInt(n)
	}
	return encodeNumber(e, float64(n))
}

func encodeUint(e *msgpack.Encoder, n uint64) error {
	if n < maxExact {
		return e.EncodeUint(n)
	}
	return encodeNumber(e, float64(n))
}

// appendNumber writes f as JSON.stringify does: the shortest form that
// reads back to f, exponent from 1e21 and below 1e-6 (encoding/json's
// float64 form is ECMAScript's), -0 as 0, NaN and ±Inf as null.
func appendNumber(dst []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 0) || math.IsNaN(f):
		return append(dst, "null"...)
	case f == 0:
		return append(dst, '0')
	}
	abs, format := math.Abs(f), byte('f')
	if abs < 1e-6 || abs >= 1e21 {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' { // e-07 → e-7, as ECMAScript writes it
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// JSON as JSON.stringify writes it ---------------------------------------

// AppendJSON appends v as JSON.stringify writes the value Node holds for
// it: Object members in order, map[string]any keys sorted (encoding/json's
// order, Go's own), numbers as appendNumber writes them (integers beyond
// 2^53 as the float64 Node holds), a time.Time as JSONDate, strings
// escaped as JSON.stringify escapes them. A []byte is written by bin, or
// as a Buffer's toJSON ({"type":"Buffer","data":[…]}) when bin is nil. A
// value of another type goes through encoding/json.
func AppendJSON(dst []byte, v any, bin func(dst, b []byte) []byte) ([]byte, error) {
	return appendJSON(dst, v, bin, 0)
}

func appendJSON(dst []byte, v any, bin func(dst, b []byte) []byte, depth int) ([]byte, error) {
	if depth > MaxDepth+1 {
		return dst, errors.New("wire: value nested deeper than " + strconv.Itoa(MaxDepth))
	}
	var err error
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		return strconv.AppendBool(dst, v), nil
	case string:
		return appendString(dst, v), nil
	case float64:
		return appendNumber(dst, v), nil
	case float32:
		return appendNumber(dst, float64(v)), nil
	case int64:
		if v > -maxExact && v < maxExact {
			return strconv.AppendInt(dst, v, 10), nil
		}
		return appendNumber(dst, float64(v)), nil
	case int:
		return appendJSON(dst, int64(v), bin, depth)
	case uint64:
		if v < maxExact {
			return strconv.AppendUint(dst, v, 10), nil
		}
		return appendNumber(dst, float64(v)), nil
	case json.Number:
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return dst, err
		}
		return appendNumber(dst, f), nil // JSON.parse's value
	case time.Time:
		if d := JSONDate(v); d != nil {
			return appendString(dst, d.(string)), nil
		}
		return append(dst, "null"...), nil
	case []byte:
		if bin != nil {
			return bin(dst, v), nil
		}
		dst = append(dst, `{"type":"Buffer","data":[`...)
		for i, b := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendUint(dst, uint64(b), 10)
		}
		return append(dst, "]}"...), nil
	case []any:
		dst = append(dst, '[')
		for i, x := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = appendJSON(dst, x, bin, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case Object:
		dst = append(dst, '{')
		for i, m := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(appendString(dst, m.Key), ':')
			if dst, err = appendJSON(dst, m.Value, bin, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(appendString(dst, k), ':')
			if dst, err = appendJSON(dst, v[k], bin, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case json.RawMessage:
		return append(dst, v...), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

// appendString writes s as JSON.stringify does: quote, backslash and
// control characters escaped (\b \f \n \r \t, the others as \u00xx),
// everything else as it is; bytes that are not UTF-8 as U+FFFD, as Node
// decodes them.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
			dst = append(append(dst, s[start:i]...), "\uFFFD"...)
			i++
			start = i
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		i++
		start = i
	}
	return append(append(dst, s[start:]...), '"')
}

// Decoding JSON in order ----------------------------------------------------
//
// A small recursive-descent reader rather than encoding/json's Token API,
// which allocates per token: objects as Objects, numbers as int64 when
// integral and within int64, float64 otherwise (as JSON.parse reads them),
// strings without escapes sliced once. Depth is checked by jsonDepth first.

// jsonReader reads one JSON text.
type jsonReader struct {
	data []byte
	i    int
}

var errJSONSyntax = errors.New("invalid JSON")

func (r *jsonReader) space() {
	for r.i < len(r.data) {
		switch r.data[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

func (r *jsonReader) literal(word string, v any) (any, error) {
	if !bytes.HasPrefix(r.data[r.i:], []byte(word)) {
		return nil, errJSONSyntax
	}
	r.i += len(word)
	return v, nil
}

func (r *jsonReader) value() (any, error) {
	r.space()
	if r.i >= len(r.data) {
		return nil, errJSONSyntax
	}
	switch c := r.data[r.i]; {
	case c == '{':
		r.i++
		var b objectBuilder
		r.space()
		if r.i < len(r.data) && r.data[r.i] == '}' {
			r.i++
			return b.done(), nil
		}
		for {
			r.space()
			if r.i >= len(r.data) || r.data[r.i] != '"' {
				return nil, errJSONSyntax
			}
			k, err := r.str()
			if err != nil {
				return nil, err
			}
			r.space()
			if r.i >= len(r.data) || r.data[r.i] != ':' {
				return nil, errJSONSyntax
			}
			r.i++
			v, err := r.value()
			if err != nil {
				return nil, err
			}
			b.set(k, v)
			r.space()
			if r.i >= len(r.data) {
				return nil, errJSONSyntax
			}
			r.i++
			switch r.data[r.i-1] {
			case ',':
				continue
			case '}':
				return b.done(), nil
			}
			return nil, errJSONSyntax
		}
	case c == '[':
		r.i++
		a := []any{}
		r.space()
		if r.i < len(r.data) && r.data[r.i] == ']' {
			r.i++
			return a, nil
		}
		for {
			v, err := r.value()
			if err != nil {
				return nil, err
			}
			a = append(a, v)
			r.space()
			if r.i >= len(r.data) {
				return nil, errJSONSyntax
			}
			r.i++
			switch r.data[r.i-1] {
			case ',':
				continue
			case ']':
				return a, nil
			}
			return nil, errJSONSyntax
		}
	case c == '"':
		return r.str()
	case c == 't':
		return r.literal("true", true)
	case c == 'f':
		return r.literal("false", false)
	case c == 'n':
		return r.literal("null", nil)
	case c == '-' || (c >= '0' && c <= '9'):
		return r.number()
	}
	return nil, errJSONSyntax
}

// str reads a string at r.i (a quote): sliced when it has no escape and
// is UTF-8, through encoding/json otherwise (its \u and surrogate rules,
// U+FFFD for bytes that are not UTF-8).
func (r *jsonReader) str() (string, error) {
	start, escaped, ascii := r.i, false, true
	for j := start + 1; j < len(r.data); j++ {
		switch c := r.data[j]; {
		case c == '"':
			r.i = j + 1
			if seg := r.data[start+1 : j]; !escaped && (ascii || utf8.Valid(seg)) {
				return string(seg), nil
			}
			var s string
			if err := json.Unmarshal(r.data[start:j+1], &s); err != nil {
				return "", errJSONSyntax
			}
			return s, nil
		case c == '\\':
			escaped = true
			j++ // the escaped byte, checked by encoding/json
		case c < 0x20:
			return "", errJSONSyntax
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", errJSONSyntax
}

// number reads a number with JSON's grammar.
func (r *jsonReader) number() (any, error) {
	d, start := r.data, r.i
	j := start
	if d[j] == '-' {
		j++
	}
	digits := func() int {
		n := 0
		for j < len(d) && d[j] >= '0' && d[j] <= '9' {
			j++
			n++
		}
		return n
	}
	switch {
	case j < len(d) && d[j] == '0':
		j++
	case digits() == 0:
		return nil, errJSONSyntax
	}
	integral := true
	if j < len(d) && d[j] == '.' {
		j++
		integral = false
		if digits() == 0 {
			return nil, errJSONSyntax
		}
	}
	if j < len(d) && (d[j] == 'e' || d[j] == 'E') {
		j++
		integral = false
		if j < len(d) && (d[j] == '+' || d[j] == '-') {
			j++
		}
		if digits() == 0 {
			return nil, errJSONSyntax
		}
	}
	r.i = j
	text := string(d[start:j]) // strconv does not keep it: no allocation
	if integral {
		if n, err := strconv.ParseInt(text, 10, 64); err == nil {
			return n, nil
		}
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, errJSONSyntax
	}
	return f, nil // beyond float64: ±Inf, as JSON.parse gives
}

// decodeJSONOrdered decodes one whole JSON payload (its size and depth
// already checked).
func decodeJSONOrdered(data []byte) (any, error) {
	r := jsonReader{data: data}
	v, err := r.value()
	if err != nil {
		return nil, err
	}
	if r.space(); r.i != len(data) {
		return nil, errors.New("data after the message")
	}
	return v, nil
}
