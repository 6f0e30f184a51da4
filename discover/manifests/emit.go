package manifests

import (
	"unicode/utf8"

	"github.com/stridemap/stridemap/internal/jsonstr"
)

// emitter receives the JSON value the converter makes of an object, one
// token at a time. jsonEmitter writes it as JSON text; valueEmitter decodes
// it straight into a Go value, so that a typed object is not written as
// JSON only to be parsed back (most of the decoding time of a large scan
// went to that second parse).
type emitter interface {
	beginObject()
	key(k string)
	endObject()
	// beginArray starts an array of exactly items values.
	beginArray(items int)
	endArray()
	null()
	boolean(b bool)
	// number is a JSON number: an integer in decimal, or a float as
	// strconv.AppendFloat(…, 'g', -1, 64) writes it.
	number(text []byte)
	str(s string)
}

// jsonEmitter writes the tokens as compact JSON.
type jsonEmitter struct {
	out []byte
	// comma says a value came before at this level: the next key or
	// value is preceded by a comma.
	comma bool
}

func (e *jsonEmitter) reset() { e.out, e.comma = e.out[:0], false }

func (e *jsonEmitter) separate() {
	if e.comma {
		e.out = append(e.out, ',')
	}
}

func (e *jsonEmitter) beginObject() {
	e.separate()
	e.out = append(e.out, '{')
	e.comma = false
}

func (e *jsonEmitter) key(k string) {
	e.separate()
	e.out = jsonstr.Append(e.out, k, false)
	e.out = append(e.out, ':')
	e.comma = false
}

func (e *jsonEmitter) endObject() {
	e.out = append(e.out, '}')
	e.comma = true
}

func (e *jsonEmitter) beginArray(int) {
	e.separate()
	e.out = append(e.out, '[')
	e.comma = false
}

func (e *jsonEmitter) endArray() {
	e.out = append(e.out, ']')
	e.comma = true
}

func (e *jsonEmitter) null() {
	e.separate()
	e.out = append(e.out, "null"...)
	e.comma = true
}

func (e *jsonEmitter) boolean(b bool) {
	e.separate()
	if b {
		e.out = append(e.out, "true"...)
	} else {
		e.out = append(e.out, "false"...)
	}
	e.comma = true
}

func (e *jsonEmitter) number(text []byte) {
	e.separate()
	e.out = append(e.out, text...)
	e.comma = true
}

func (e *jsonEmitter) str(s string) {
	e.separate()
	e.out = jsonstr.Append(e.out, s, false)
	e.comma = true
}

// validUTF8 is s as it reads back from the JSON jsonstr.Append writes:
// each byte that is not part of valid UTF-8 becomes U+FFFD.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	out := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, s[i:i+size]...)
		}
		i += size
	}
	return string(out)
}
