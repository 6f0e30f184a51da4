package manifests

// What the value emitter needs to know of the Go types it decodes into,
// found once per type: the rules by which encoding/json maps JSON names to
// struct fields, and which types decode themselves.

import (
	"encoding"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"
)

var (
	stringType                = reflect.TypeFor[string]()
	numberType                = reflect.TypeFor[json.Number]()
	unmarshalerType           = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType       = reflect.TypeFor[encoding.TextUnmarshaler]()
	typeInfos, structFieldSet sync.Map // reflect.Type → *typeInfo, *structFields
)

// typeInfo is what decoding needs to know of a type, found once: each
// value decoded finds its type's through its parent's.
type typeInfo struct {
	typ  reflect.Type
	kind reflect.Kind
	// For a named type that is not a pointer: whether its pointer decodes
	// itself, as encoding/json asks of an addressable value.
	addrUnmarshaler, addrTextUnmarshaler bool
	// For a pointer type: whether it decodes itself.
	unmarshaler, textUnmarshaler bool
	elem                         atomic.Pointer[typeInfo]     // of a pointer's, slice's or map's element
	fields                       atomic.Pointer[structFields] // of a struct
}

// elemInfo is the typeInfo of a pointer's, slice's or map's element.
func (i *typeInfo) elemInfo() *typeInfo {
	if e := i.elem.Load(); e != nil {
		return e
	}
	e := infoOf(i.typ.Elem())
	i.elem.Store(e)
	return e
}

// structFields are a struct's fields by name.
func (i *typeInfo) structFields() *structFields {
	if f := i.fields.Load(); f != nil {
		return f
	}
	f := fieldsOf(i.typ)
	i.fields.Store(f)
	return f
}

func infoOf(t reflect.Type) *typeInfo {
	if info, ok := typeInfos.Load(t); ok {
		return info.(*typeInfo)
	}
	info := &typeInfo{typ: t, kind: t.Kind()}
	if t.Kind() == reflect.Pointer {
		info.unmarshaler = t.Implements(unmarshalerType)
		info.textUnmarshaler = t.Implements(textUnmarshalerType)
	} else if t.Name() != "" {
		p := reflect.PointerTo(t)
		info.addrUnmarshaler = p.Implements(unmarshalerType)
		info.addrTextUnmarshaler = p.Implements(textUnmarshalerType)
	}
	actual, _ := typeInfos.LoadOrStore(t, info)
	return actual.(*typeInfo)
}

// structFields are the JSON names of a struct's fields, as encoding/json
// finds them: by tag or Go name, promoted from embedded structs, with
// Go's rules for names at equal depth.
type structFields struct {
	exact  map[string]*fieldInfo
	folded map[string]bool // foldName of every name
	// hidden is set when a field is reached through an unexported
	// embedded struct, which this decoder leaves to encoding/json.
	hidden bool
}

type fieldInfo struct {
	index  []int
	info   *typeInfo // of the field's type
	quoted bool      // the ",string" option on a number, bool or string
}

func fieldsOf(t reflect.Type) *structFields {
	if fields, ok := structFieldSet.Load(t); ok {
		return fields.(*structFields)
	}
	actual, _ := structFieldSet.LoadOrStore(t, buildFields(t))
	return actual.(*structFields)
}

// buildFields walks t's fields breadth first through embedded structs, as
// encoding/json does, and keeps for each name the shallowest field, or
// the tagged one among the shallowest; a tie hides the name.
func buildFields(t reflect.Type) *structFields {
	type candidate struct {
		name           string
		tagged, quoted bool
		hidden         bool
		index          []int
		typ            reflect.Type
	}
	type level struct {
		typ    reflect.Type
		index  []int
		hidden bool
	}
	var found []candidate
	next := []level{{typ: t}}
	visited := map[reflect.Type]bool{}
	count := map[reflect.Type]int{}
	for len(next) > 0 {
		current := next
		next = nil
		levelCount := count
		count = map[reflect.Type]int{}
		for _, l := range current {
			if visited[l.typ] {
				continue
			}
			visited[l.typ] = true
			for i := range l.typ.NumField() {
				sf := l.typ.Field(i)
				if sf.Anonymous {
					ft := sf.Type
					if ft.Kind() == reflect.Pointer {
						ft = ft.Elem()
					}
					if !sf.IsExported() && ft.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				if !validTagName(name) {
					name = ""
				}
				index := append(slices.Clip(l.index), i)
				ft := sf.Type
				if ft.Name() == "" && ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				hidden := l.hidden || !sf.IsExported()
				if name != "" || !sf.Anonymous || ft.Kind() != reflect.Struct {
					c := candidate{name: name, tagged: name != "", hidden: hidden, index: index, typ: sf.Type}
					if c.name == "" {
						c.name = sf.Name
					}
					c.quoted = hasOption(opts, "string") && quotable(ft.Kind())
					found = append(found, c)
					if levelCount[l.typ] > 1 {
						// The struct is embedded twice at this depth: its
						// names clash with themselves.
						found = append(found, c)
					}
					continue
				}
				count[ft]++
				if count[ft] == 1 {
					next = append(next, level{typ: ft, index: index, hidden: hidden})
				}
			}
		}
	}
	slices.SortStableFunc(found, func(a, b candidate) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		if c := len(a.index) - len(b.index); c != 0 {
			return c
		}
		if a.tagged != b.tagged {
			if a.tagged {
				return -1
			}
			return 1
		}
		return slices.Compare(a.index, b.index)
	})
	fields := &structFields{exact: map[string]*fieldInfo{}, folded: map[string]bool{}}
	for i := 0; i < len(found); {
		j := i + 1
		for j < len(found) && found[j].name == found[i].name {
			j++
		}
		first := found[i]
		tie := j-i > 1 && len(found[i+1].index) == len(first.index) && found[i+1].tagged == first.tagged
		if !tie {
			fields.exact[first.name] = &fieldInfo{index: first.index, info: infoOf(first.typ), quoted: first.quoted}
			fields.folded[foldName(first.name)] = true
			fields.hidden = fields.hidden || first.hidden
		}
		i = j
	}
	return fields
}

func hasOption(opts, want string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == want {
			return true
		}
	}
	return false
}

func quotable(k reflect.Kind) bool {
	switch k {
	case reflect.Bool, reflect.String, reflect.Float32, reflect.Float64,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return true
	}
	return false
}

// validTagName is encoding/json's rule for a name in a json tag: letters,
// digits and some punctuation.
func validTagName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", r):
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			return false
		}
	}
	return true
}

// foldName is the form encoding/json compares names in when a key matches
// no field exactly: ASCII letters upper-cased, other letters mapped to the
// upper case of their lower case.
func foldName(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		out = utf8.AppendRune(out, unicode.ToUpper(unicode.ToLower(r)))
		i += size
	}
	return string(out)
}
