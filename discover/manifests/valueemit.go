package manifests

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strconv"
)

// valueEmitter decodes the converter's tokens straight into a Go value, as
// encoding/json decodes their JSON text into it: struct fields by their
// json tags (embedded structs included), pointers, maps with string keys,
// slices, strings, numbers, booleans, empty interfaces, and the types that
// decode themselves (json.Unmarshaler: quantities, times, int-or-strings),
// which are handed the JSON text of their value.
//
// It only takes the path of a value that decodes without error and
// without encoding/json's rarer rules. On anything else (a type mismatch,
// a key that names a field only ignoring case, an encoding.TextUnmarshaler,
// a ",string" field, an Unmarshaler that refuses its value) it gives up,
// and the decoder decodes the object through JSON as before, so every
// problem reads as it did. It is meant for zero values: a new object.
type valueEmitter struct {
	root   reflect.Value
	info   *typeInfo // the root's
	stack  []valueFrame
	failed bool
	// skip counts the open objects and arrays of a value no field takes.
	skip int
	// capture collects the JSON text of a value captureTo decodes itself;
	// captureDepth counts its open objects and arrays.
	capture      jsonEmitter
	capturing    bool
	captureDepth int
	captureTo    json.Unmarshaler
	// maps, when set, shares the small maps decoded with other objects.
	maps *SharedMaps
	keys mapKeys
}

type frameKind uint8

const (
	structFrame    frameKind = iota
	mapFrame                 // a map with string keys
	sliceFrame               // a slice, its length grown value by value
	anyObjectFrame           // a map[string]any for an empty interface
	anyArrayFrame            // a []any for an empty interface
)

// valueFrame is one object or array being filled.
type valueFrame struct {
	kind frameKind
	v    reflect.Value // the struct, map or slice filled in place
	// next is where the next value goes: the struct field its key names,
	// or the map element to be stored under key once it is complete;
	// nextInfo is its type's, for a slice the element type's.
	next     reflect.Value
	nextInfo *typeInfo
	skipNext bool // the key named no field: its value is skipped
	key      string
	fields   *structFields
	anyMap   map[string]any
	anyList  []any
	anyDest  reflect.Value // where an any frame's value goes, when not into a parent any frame
	keyIsStr bool          // the map's key type is string itself
}

// route says what the next value token is for.
type route uint8

const (
	routeIgnore  route = iota // failed: nothing more is decoded
	routeSkip                 // a value no field takes
	routeCapture              // JSON text for an Unmarshaler
	routeAny                  // a value inside an empty interface's map or slice
	routeValue                // a reflect.Value to set
)

// start prepares to decode into root, a non-nil pointer.
func (b *valueEmitter) start(root reflect.Value) {
	b.root, b.info = root, infoOf(root.Type())
	clear(b.stack)
	b.stack = b.stack[:0]
	b.failed, b.skip, b.capturing, b.captureDepth, b.captureTo = false, 0, false, 0, nil
}

// ok reports whether the value was decoded; the caller decodes it
// through JSON when not.
func (b *valueEmitter) ok() bool { return !b.failed }

func (b *valueEmitter) fail() { b.failed = true }

// route finds where the next value goes, following and allocating
// pointers as encoding/json does (its indirect), and starts a capture
// when an Unmarshaler takes the value.
func (b *valueEmitter) route(null bool) (reflect.Value, *typeInfo, route) {
	switch {
	case b.failed:
		return reflect.Value{}, nil, routeIgnore
	case b.capturing:
		return reflect.Value{}, nil, routeCapture
	case b.skip > 0:
		return reflect.Value{}, nil, routeSkip
	}
	v, info := b.root, b.info
	if n := len(b.stack); n > 0 {
		f := &b.stack[n-1]
		switch f.kind {
		case anyObjectFrame, anyArrayFrame:
			return reflect.Value{}, nil, routeAny
		case structFrame:
			if f.skipNext {
				return reflect.Value{}, nil, routeSkip
			}
			v, info = f.next, f.nextInfo
		case mapFrame:
			v, info = f.next, f.nextInfo
		case sliceFrame:
			i := f.v.Len()
			if i == f.v.Cap() {
				f.v.Grow(1)
			}
			f.v.SetLen(i + 1)
			v, info = f.v.Index(i), f.nextInfo
		}
	}
	v, info, u := b.resolve(v, info, null)
	switch {
	case b.failed:
		return reflect.Value{}, nil, routeIgnore
	case u != nil:
		b.capturing, b.captureDepth, b.captureTo = true, 0, u
		b.capture.reset()
		return reflect.Value{}, nil, routeCapture
	}
	return v, info, routeValue
}

// resolve follows v, of the type info describes, through pointers to
// where a value goes, allocating nil pointers on the way, unless null is
// set: a pointer takes null itself. It returns the Unmarshaler that takes
// the value instead, when a named type's pointer or a pointer implements
// one.
func (b *valueEmitter) resolve(v reflect.Value, info *typeInfo, null bool) (reflect.Value, *typeInfo, json.Unmarshaler) {
	for {
		if info.kind != reflect.Pointer {
			if info.addrUnmarshaler {
				return reflect.Value{}, nil, v.Addr().Interface().(json.Unmarshaler)
			}
			if info.addrTextUnmarshaler && !null {
				b.fail()
			}
			return v, info, nil
		}
		if null {
			return v, info, nil
		}
		if v.IsNil() {
			v.Set(reflect.New(info.typ.Elem()))
		}
		if info.unmarshaler {
			return reflect.Value{}, nil, v.Interface().(json.Unmarshaler)
		}
		if info.textUnmarshaler {
			b.fail()
			return v, info, nil
		}
		v, info = v.Elem(), info.elemInfo()
	}
}

// done completes a value: a map's element is stored under its key.
func (b *valueEmitter) done() {
	n := len(b.stack)
	if n == 0 || b.stack[n-1].kind != mapFrame {
		return
	}
	f := &b.stack[n-1]
	key := reflect.ValueOf(f.key)
	if !f.keyIsStr {
		key = key.Convert(f.v.Type().Key())
	}
	f.v.SetMapIndex(key, f.next)
}

// place adds x to the empty interface's map or slice being filled.
func (b *valueEmitter) place(x any) {
	f := &b.stack[len(b.stack)-1]
	if f.kind == anyObjectFrame {
		f.anyMap[f.key] = x
		return
	}
	f.anyList = append(f.anyList, x)
}

// finishAny stores the value of a finished any frame.
func (b *valueEmitter) finishAny(x any, dest reflect.Value) {
	if n := len(b.stack); n > 0 {
		if k := b.stack[n-1].kind; k == anyObjectFrame || k == anyArrayFrame {
			b.place(x)
			return
		}
	}
	dest.Set(reflect.ValueOf(x))
	b.done()
}

// captured ends a capture whose value is complete.
func (b *valueEmitter) captured() {
	if b.captureDepth > 0 {
		return
	}
	b.capturing = false
	if err := b.captureTo.UnmarshalJSON(b.capture.out); err != nil {
		b.fail()
		return
	}
	b.captureTo = nil
	b.done()
}

func (b *valueEmitter) beginObject() {
	v, info, r := b.route(false)
	switch r {
	case routeCapture:
		b.capture.beginObject()
		b.captureDepth++
	case routeSkip:
		b.skip++
	case routeAny:
		b.stack = append(b.stack, valueFrame{kind: anyObjectFrame, anyMap: map[string]any{}})
	case routeValue:
		switch info.kind {
		case reflect.Struct:
			fields := info.structFields()
			if fields.hidden {
				b.fail()
				return
			}
			b.stack = append(b.stack, valueFrame{kind: structFrame, v: v, fields: fields})
		case reflect.Map:
			t := info.typ
			if t.Key().Kind() != reflect.String || infoOf(t.Key()).addrTextUnmarshaler {
				b.fail()
				return
			}
			if v.IsNil() {
				v.Set(reflect.MakeMap(t))
			}
			b.stack = append(b.stack, valueFrame{kind: mapFrame, v: v, next: reflect.New(t.Elem()).Elem(),
				nextInfo: info.elemInfo(), keyIsStr: t.Key() == stringType})
		case reflect.Interface:
			if v.NumMethod() != 0 {
				b.fail()
				return
			}
			b.stack = append(b.stack, valueFrame{kind: anyObjectFrame, anyMap: map[string]any{}, anyDest: v})
		default:
			b.fail()
		}
	}
}

func (b *valueEmitter) key(k string) {
	switch {
	case b.failed:
		return
	case b.capturing:
		b.capture.key(k)
		return
	case b.skip > 0:
		return
	}
	k = validUTF8(k)
	f := &b.stack[len(b.stack)-1]
	switch f.kind {
	case structFrame:
		fi := f.fields.exact[k]
		if fi == nil {
			if f.fields.folded[foldName(k)] {
				b.fail() // encoding/json would match a field ignoring case
			}
			f.skipNext = true
			return
		}
		if fi.quoted {
			b.fail()
			return
		}
		f.skipNext = false
		f.next, f.nextInfo = b.field(f.v, fi.index), fi.info
	case mapFrame:
		f.key = k
		f.next.SetZero()
	case anyObjectFrame:
		f.key = k
	}
}

// field is the struct field at index, allocating the embedded pointers on
// the way.
func (b *valueEmitter) field(v reflect.Value, index []int) reflect.Value {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v
}

func (b *valueEmitter) endObject() { b.end(false) }

func (b *valueEmitter) endArray() { b.end(true) }

// end closes the innermost object or array.
func (b *valueEmitter) end(array bool) {
	switch {
	case b.failed:
		return
	case b.capturing:
		if array {
			b.capture.endArray()
		} else {
			b.capture.endObject()
		}
		b.captureDepth--
		b.captured()
		return
	case b.skip > 0:
		b.skip--
		return
	}
	f := b.stack[len(b.stack)-1]
	b.stack[len(b.stack)-1] = valueFrame{}
	b.stack = b.stack[:len(b.stack)-1]
	switch f.kind {
	case anyObjectFrame:
		b.finishAny(f.anyMap, f.anyDest)
	case anyArrayFrame:
		b.finishAny(f.anyList, f.anyDest)
	case mapFrame:
		if b.maps != nil {
			b.maps.share(f.v, &b.keys)
		}
		b.done()
	default:
		b.done()
	}
}

func (b *valueEmitter) beginArray(items int) {
	v, info, r := b.route(false)
	switch r {
	case routeCapture:
		b.capture.beginArray(items)
		b.captureDepth++
	case routeSkip:
		b.skip++
	case routeAny:
		b.stack = append(b.stack, valueFrame{kind: anyArrayFrame, anyList: make([]any, 0, items)})
	case routeValue:
		switch info.kind {
		case reflect.Slice:
			v.Set(reflect.MakeSlice(info.typ, 0, items))
			b.stack = append(b.stack, valueFrame{kind: sliceFrame, v: v, nextInfo: info.elemInfo()})
		case reflect.Interface:
			if v.NumMethod() != 0 {
				b.fail()
				return
			}
			b.stack = append(b.stack, valueFrame{kind: anyArrayFrame, anyList: make([]any, 0, items), anyDest: v})
		default:
			b.fail()
		}
	}
}

func (b *valueEmitter) null() {
	v, _, r := b.route(true)
	switch r {
	case routeCapture:
		b.capture.null()
		b.captured()
	case routeAny:
		b.place(nil)
	case routeValue:
		switch v.Kind() {
		case reflect.Interface, reflect.Pointer, reflect.Map, reflect.Slice:
			v.SetZero()
		}
		b.done()
	}
}

func (b *valueEmitter) boolean(x bool) {
	v, _, r := b.route(false)
	switch r {
	case routeCapture:
		b.capture.boolean(x)
		b.captured()
	case routeAny:
		b.place(x)
	case routeValue:
		switch {
		case v.Kind() == reflect.Bool:
			v.SetBool(x)
		case v.Kind() == reflect.Interface && v.NumMethod() == 0:
			v.Set(reflect.ValueOf(x))
		default:
			b.fail()
			return
		}
		b.done()
	}
}

func (b *valueEmitter) number(text []byte) {
	v, _, r := b.route(false)
	switch r {
	case routeCapture:
		b.capture.number(text)
		b.captured()
	case routeAny:
		f, err := strconv.ParseFloat(string(text), 64)
		if err != nil {
			b.fail()
			return
		}
		b.place(f)
	case routeValue:
		if !setNumber(v, string(text)) {
			b.fail()
			return
		}
		b.done()
	}
}

// setNumber sets v to the number s as encoding/json would, reporting
// whether it could without error.
func setNumber(v reflect.Value, s string) bool {
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v.OverflowInt(n) {
			return false
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || v.OverflowUint(n) {
			return false
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		n, err := strconv.ParseFloat(s, v.Type().Bits())
		if err != nil || v.OverflowFloat(n) {
			return false
		}
		v.SetFloat(n)
	case reflect.String:
		if v.Type() != numberType {
			return false
		}
		v.SetString(s)
	case reflect.Interface:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || v.NumMethod() != 0 {
			return false
		}
		v.Set(reflect.ValueOf(f))
	default:
		return false
	}
	return true
}

func (b *valueEmitter) str(s string) {
	v, _, r := b.route(false)
	switch r {
	case routeCapture:
		b.capture.str(s)
		b.captured()
	case routeAny:
		b.place(validUTF8(s))
	case routeValue:
		s = validUTF8(s)
		switch {
		case v.Kind() == reflect.String && v.Type() != numberType:
			v.SetString(s)
		case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8:
			data := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
			n, err := base64.StdEncoding.Decode(data, []byte(s))
			if err != nil {
				b.fail()
				return
			}
			v.SetBytes(data[:n])
		case v.Kind() == reflect.Interface && v.NumMethod() == 0:
			v.Set(reflect.ValueOf(s))
		default:
			b.fail()
			return
		}
		b.done()
	}
}
