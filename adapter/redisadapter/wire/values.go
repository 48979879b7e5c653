package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// MessagePack ------------------------------------------------------------

// notepack.io's extension types.
const (
	extTimestamp = -1 // a Date
	extUndefined = 0  // legacy undefined: fixext 1, type 0, data 0
)

// decodeMsgpack decodes one whole MessagePack payload into a value.
func decodeMsgpack(data []byte) (any, error) {
	// 1. Size, before any work.
	if len(data) > MaxMessageSize {
		return nil, malformed("%d bytes exceed %d", len(data), MaxMessageSize)
	}
	// 2. Structure: every declared length within the payload, depth
	// bounded. The library allocates what a string or bin header declares,
	// so this comes before it sees the bytes.
	if err := checkMsgpack(data); err != nil {
		return nil, err
	}
	r := bytes.NewReader(data)
	d := msgpack.NewDecoder(r)
	// 3. One value.
	v, err := decodeValue(d, 0)
	if err != nil {
		return nil, err
	}
	if r.Len() != 0 { // checkMsgpack found none; kept for safety
		return nil, malformed("%d bytes after the message", r.Len())
	}
	return v, nil
}

// checkMsgpack walks one MessagePack value without decoding it: every
// length a header declares must fit in what remains, arrays and maps may
// nest MaxDepth deep, and nothing may follow the value.
func checkMsgpack(data []byte) error {
	i := 0
	// size reads a big-endian length of w bytes at i.
	size := func(w int) (int, error) {
		if w > len(data)-i {
			return 0, malformed("truncated header")
		}
		n := 0
		for _, b := range data[i : i+w] {
			n = n<<8 | int(b)
		}
		i += w
		return n, nil
	}
	stack := []int{1} // values still to read, per level
	for len(stack) > 0 {
		if stack[len(stack)-1] == 0 {
			stack = stack[:len(stack)-1]
			continue
		}
		stack[len(stack)-1]--
		if i >= len(data) {
			return malformed("truncated")
		}
		c := data[i]
		i++
		skip, children, err := 0, 0, error(nil)
		switch {
		case c <= 0x7f || c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3: // fixint, nil, bool
		case c&0xf0 == 0x80:
			children = 2 * int(c&0x0f)
		case c&0xf0 == 0x90:
			children = int(c & 0x0f)
		case c&0xe0 == 0xa0:
			skip = int(c & 0x1f)
		case c == 0xc4 || c == 0xd9: // bin 8, str 8
			skip, err = size(1)
		case c == 0xc5 || c == 0xda:
			skip, err = size(2)
		case c == 0xc6 || c == 0xdb:
			skip, err = size(4)
		case c >= 0xc7 && c <= 0xc9: // ext 8/16/32: length, then type
			skip, err = size(1 << (c - 0xc7))
			skip++
		case c == 0xca || c == 0xce || c == 0xd2:
			skip = 4
		case c == 0xcb || c == 0xcf || c == 0xd3:
			skip = 8
		case c == 0xcc || c == 0xd0:
			skip = 1
		case c == 0xcd || c == 0xd1:
			skip = 2
		case c >= 0xd4 && c <= 0xd8: // fixext 1..16, plus the type byte
			skip = 1<<(c-0xd4) + 1
		case c == 0xdc:
			children, err = size(2)
		case c == 0xdd:
			children, err = size(4)
		case c == 0xde:
			children, err = size(2)
			children *= 2
		case c == 0xdf:
			children, err = size(4)
			children *= 2
		default:
			return malformed("code 0x%02x", c)
		}
		if err != nil {
			return err
		}
		if skip > len(data)-i {
			return malformed("a value declares %d bytes, %d remain", skip, len(data)-i)
		}
		i += skip
		if children > 0 {
			if children > len(data)-i { // every value takes a byte at least
				return malformed("%d values declared, %d bytes remain", children, len(data)-i)
			}
			if len(stack) > MaxDepth {
				return malformed("nested deeper than %d", MaxDepth)
			}
			stack = append(stack, children)
		}
	}
	if i != len(data) {
		return malformed("%d bytes after the message", len(data)-i)
	}
	return nil
}

func decodeValue(d *msgpack.Decoder, depth int) (any, error) {
	if depth > MaxDepth {
		return nil, malformed("nested deeper than %d", MaxDepth)
	}
	c, err := d.PeekCode()
	if err != nil {
		return nil, malformed("truncated: %v", err)
	}
	switch {
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		n, err := d.DecodeMapLen()
		if err != nil {
			return nil, malformed("map: %v", err)
		}
		var b objectBuilder
		b.o = make(Object, 0, min(n, 16)) // n is untrusted
		for range n {
			k, err := decodeValue(d, depth+1)
			if err != nil {
				return nil, err
			}
			ks, ok := k.(string)
			if !ok {
				return nil, malformed("map key of type %T", k)
			}
			v, err := decodeValue(d, depth+1)
			if err != nil {
				return nil, err
			}
			b.set(ks, v)
		}
		return b.done(), nil
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		n, err := d.DecodeArrayLen()
		if err != nil {
			return nil, malformed("array: %v", err)
		}
		a := make([]any, 0, min(n, 16))
		for range n {
			v, err := decodeValue(d, depth+1)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		return a, nil
	case msgpcode.IsExt(c):
		id, n, err := d.DecodeExtHeader()
		if err != nil {
			return nil, malformed("ext: %v", err)
		}
		if n > 12 {
			return nil, malformed("ext type %d of %d bytes", id, n)
		}
		b := make([]byte, n)
		if err := d.ReadFull(b); err != nil {
			return nil, malformed("ext: %v", err)
		}
		return decodeExt(id, b)
	}
	if msgpcode.IsBin(c) { // a Buffer; DecodeInterfaceLoose would give a string
		b, err := d.DecodeBytes()
		if err != nil {
			return nil, malformed("bin: %v", err)
		}
		return b, nil
	}
	v, err := d.DecodeInterfaceLoose()
	if err != nil {
		return nil, malformed("%v", err)
	}
	if f, ok := v.(float32); ok {
		return float64(f), nil
	}
	return v, nil
}

// decodeExt decodes the extensions notepack.io writes: timestamps (Dates)
// and its legacy undefined.
func decodeExt(id int8, b []byte) (any, error) {
	switch {
	case id == extUndefined && len(b) == 1 && b[0] == 0:
		return nil, nil
	case id != extTimestamp:
	case len(b) == 4:
		return time.Unix(int64(binary.BigEndian.Uint32(b)), 0).UTC(), nil
	case len(b) == 8:
		x := binary.BigEndian.Uint64(b)
		return time.Unix(int64(x&(1<<34-1)), int64(x>>34)).UTC(), nil
	case len(b) == 12:
		return time.Unix(int64(binary.BigEndian.Uint64(b[4:])), int64(binary.BigEndian.Uint32(b))).UTC(), nil
	}
	return nil, malformed("unknown ext type %d of %d bytes", id, len(b))
}

// newEncoder returns a MessagePack encoder writing as notepack.io does:
// integers in their smallest form, the keys of a Go map sorted for stable
// bytes (an Object keeps its order).
func newEncoder(w io.Writer) *msgpack.Encoder {
	e := msgpack.NewEncoder(w)
	e.UseCompactInts(true)
	e.SetSortMapKeys(true)
	return e
}

// encodeValue writes v; numbers as notepack.io writes the float64 Node
// holds for them (encodeNumber), an Object's members in order.
func encodeValue(e *msgpack.Encoder, v any) error {
	switch v := v.(type) {
	case float64:
		return encodeNumber(e, v)
	case float32:
		return encodeNumber(e, float64(v))
	case int64:
		return encodeInt(e, v)
	case int:
		return encodeInt(e, int64(v))
	case uint64:
		return encodeUint(e, v)
	case Object:
		if err := e.EncodeMapLen(len(v)); err != nil {
			return err
		}
		for _, m := range v {
			if err := e.EncodeString(m.Key); err != nil {
				return err
			}
			if err := encodeValue(e, m.Value); err != nil {
				return err
			}
		}
		return nil
	case []any:
		if err := e.EncodeArrayLen(len(v)); err != nil {
			return err
		}
		for _, x := range v {
			if err := encodeValue(e, x); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		return encodeMap(e, v)
	case json.Number:
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return err
		}
		return encodeNumber(e, f) // JSON.parse's value
	case time.Time:
		return e.EncodeTime(v)
	}
	return e.Encode(v)
}

// encodeMap writes m with sorted keys.
func encodeMap(e *msgpack.Encoder, m map[string]any) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if err := e.EncodeMapLen(len(keys)); err != nil {
		return err
	}
	for _, k := range keys {
		if err := e.EncodeString(k); err != nil {
			return err
		}
		if err := encodeValue(e, m[k]); err != nil {
			return err
		}
	}
	return nil
}

// JSON -------------------------------------------------------------------

// decodeJSON decodes one whole JSON payload into a value, objects as
// Objects in order, numbers as int64 when integral, float64 otherwise.
func decodeJSON(data []byte) (any, error) {
	if len(data) > MaxMessageSize {
		return nil, malformed("%d bytes exceed %d", len(data), MaxMessageSize)
	}
	if err := jsonDepth(data); err != nil {
		return nil, err
	}
	v, err := decodeJSONOrdered(data)
	if err != nil {
		return nil, malformed("json: %v", err)
	}
	return v, nil
}

// jsonDepth fails when brackets nest deeper than MaxDepth (strings
// skipped), before encoding/json recurses.
func jsonDepth(data []byte) error {
	depth, inString, escaped := 0, false, false
	for _, c := range data {
		switch {
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case inString && c == '"':
			inString = false
		case inString:
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			if depth++; depth > MaxDepth+1 {
				return malformed("nested deeper than %d", MaxDepth)
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return nil
}

// Writing JSON as JSON.stringify does -------------------------------------
//
// encoding/json refuses ±Inf and NaN (a JSON payload decodes 1e999 to
// +Inf, as JSON.parse does, and MessagePack carries them) and writes a
// time.Time its own way (a MessagePack timestamp decodes to one). The JSON
// encoders write what JSON.stringify writes for the value Node holds: null
// for a number that is not finite, a Date's toJSON for a time.

// maxJSDate bounds a JavaScript Date: ±8.64e15 ms from the epoch.
const maxJSDate = 8_640_000_000_000 // seconds

// JSONDate is t as JSON.stringify writes a Date (Date.prototype.toJSON):
// "2006-01-02T15:04:05.000Z" in UTC, a year outside 0..9999 as ±YYYYYY,
// and nil (null) beyond what a Date holds (an Invalid Date).
func JSONDate(t time.Time) any {
	if sec := t.Unix(); sec > maxJSDate || sec < -maxJSDate {
		return nil
	}
	t = t.UTC()
	rest := t.Format("-01-02T15:04:05.000Z")
	switch y := t.Year(); {
	case y >= 0 && y <= 9999:
		return fmt.Sprintf("%04d", y) + rest
	case y < 0:
		return fmt.Sprintf("-%06d", -y) + rest
	default:
		return fmt.Sprintf("+%06d", y) + rest
	}
}

// unlikeStringify reports whether v holds a value encoding/json writes
// otherwise than JSON.stringify: a number that is not finite, a time.
func unlikeStringify(v any) bool {
	switch v := v.(type) {
	case float64:
		return math.IsInf(v, 0) || math.IsNaN(v)
	case time.Time:
		return true
	case []any:
		return slices.ContainsFunc(v, unlikeStringify)
	case map[string]any:
		for _, x := range v {
			if unlikeStringify(x) {
				return true
			}
		}
	case Object:
		for _, x := range v {
			if unlikeStringify(x.Value) {
				return true
			}
		}
	case []SocketInfo:
		for _, s := range v {
			if unlikeStringify(s.Data) || unlikeStringify(s.Handshake) {
				return true
			}
		}
	}
	return false
}

// asStringify returns a copy of v that encoding/json writes as
// JSON.stringify would: numbers that are not finite as nil, times as
// JSONDate.
func asStringify(v any) any {
	switch v := v.(type) {
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return nil
		}
	case time.Time:
		return JSONDate(v)
	case []any:
		if v == nil {
			return v
		}
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = asStringify(x)
		}
		return out
	case map[string]any:
		if v == nil {
			return v
		}
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = asStringify(x)
		}
		return out
	case Object:
		out := make(Object, len(v))
		for i, x := range v {
			out[i] = Member{x.Key, asStringify(x.Value)}
		}
		return out
	case []SocketInfo:
		out := make([]SocketInfo, len(v))
		for i, s := range v {
			h, _ := asStringify(s.Handshake).(map[string]any)
			out[i] = SocketInfo{ID: s.ID, Handshake: h, Rooms: s.Rooms, Data: asStringify(s.Data)}
		}
		return out
	}
	return v
}

// decodeAny decodes JSON when the payload starts with '{', as the adapter
// does, MessagePack otherwise.
func decodeAny(data []byte) (v any, isJSON bool, err error) {
	if len(data) > 0 && data[0] == '{' {
		v, err = decodeJSON(data)
		return v, true, err
	}
	v, err = decodeMsgpack(data)
	return v, false, err
}

// DecodeJSONValue decodes one JSON value as the decoders decode the values
// inside messages (numbers as int64 when integral, float64 otherwise),
// with their limits: an error wrapping ErrMalformed when data is over
// MaxMessageSize, nests deeper than MaxDepth or is not one JSON value.
func DecodeJSONValue(data []byte) (any, error) { return decodeJSON(data) }

// EncodeMsgpackValue returns v as notepack.io writes the value Node holds
// for it: an Object's members in order, numbers by notepack.io's rules
// (see encodeNumber), []byte as bin, time.Time as a timestamp.
func EncodeMsgpackValue(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := encodeValue(newEncoder(&buf), v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// DecodeMsgpackValue decodes one MessagePack value as the decoders decode
// the values inside messages (maps as Objects in order), with their limits:
// an error wrapping ErrMalformed when data is over MaxMessageSize, nests
// deeper than MaxDepth or is not one value.
func DecodeMsgpackValue(data []byte) (any, error) { return decodeMsgpack(data) }
