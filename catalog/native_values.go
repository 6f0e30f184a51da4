package catalog

import (
	"reflect"
	"strings"
	"unicode"

	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/overloads"

	"github.com/stridemap/stridemap/model"
)

// value is an expression of a condition compiled to yield a Go value of
// typ: a variable, a field of one, a literal, a string transformed, a
// setting looked up. eval is false when the value cannot be had natively:
// a nil pointer on the way.
type value struct {
	typ  reflect.Type
	eval func(v *Vars) (reflect.Value, bool)
}

var (
	stringType   = reflect.TypeFor[string]()
	stringsType  = reflect.TypeFor[[]string]()
	intType      = reflect.TypeFor[int64]()
	settingsType = reflect.TypeFor[[]model.Setting]()
)

// evalBoth evaluates two values; false if either cannot be had.
func evalBoth(x, y value, v *Vars) (reflect.Value, reflect.Value, bool) {
	a, ok := x.eval(v)
	if !ok {
		return reflect.Value{}, reflect.Value{}, false
	}
	b, ok := y.eval(v)
	return a, b, ok
}

// constant is a value that does not depend on the element.
func constant(x any) value {
	r := reflect.ValueOf(x)
	return value{r.Type(), func(*Vars) (reflect.Value, bool) { return r, true }}
}

func valueOf(e celast.Expr, sc scope) (value, bool) {
	switch e.Kind() {
	case celast.LiteralKind:
		switch lit := e.AsLiteral().Value().(type) {
		case string, int64, bool:
			return constant(lit), true
		}
	case celast.ListKind:
		if lits, ok := literals([]celast.Expr{e}); ok {
			return constant(lits[0]), true
		}
		return listOf(e.AsList().Elements(), sc)
	case celast.ComprehensionKind:
		return listComprehension(e.AsComprehension(), sc)
	case celast.IdentKind:
		return variable(e.AsIdent(), sc)
	case celast.SelectKind:
		sel := e.AsSelect()
		if sel.IsTestOnly() { // has(): not a read
			return value{}, false
		}
		operand, ok := valueOf(sel.Operand(), sc)
		if !ok {
			return value{}, false
		}
		return field(operand, sel.FieldName())
	case celast.CallKind:
		return callValue(e.AsCall(), sc)
	}
	return value{}, false
}

// variable is a variable of the element, or of an exists() or all()
// around the expression; a variable that holds a nil pointer cannot be
// read.
func variable(name string, sc scope) (value, bool) {
	t, ok := sc[name]
	if !ok {
		return value{}, false
	}
	return value{t, func(v *Vars) (reflect.Value, bool) {
		x, ok := v.bound(name)
		if !ok {
			x = v.root(name)
		}
		if !x.IsValid() || (x.Kind() == reflect.Pointer && x.IsNil()) {
			return reflect.Value{}, false
		}
		return x, true
	}}, true
}

// field is a field of a struct, or of a pointer to one, by the name rules
// use for it (celFieldName). A pointer to a scalar (*int32 replicas) is
// read as the scalar, which CEL reads; nil cannot be read.
func field(of value, name string) (value, bool) {
	t := of.typ
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return value{}, false
	}
	f, ok := fieldNamed(t, name)
	if !ok {
		return value{}, false
	}
	typ := f.Type
	scalar := typ.Kind() == reflect.Pointer && typ.Elem().Kind() != reflect.Struct
	if scalar {
		typ = typ.Elem()
	}
	return value{typ, func(v *Vars) (reflect.Value, bool) {
		x, ok := of.eval(v)
		if !ok {
			return reflect.Value{}, false
		}
		if x.Kind() == reflect.Pointer {
			if x.IsNil() {
				return reflect.Value{}, false
			}
			x = x.Elem()
		}
		x = x.FieldByIndex(f.Index)
		if x.Kind() == reflect.Pointer {
			if x.IsNil() {
				return reflect.Value{}, false
			}
			if scalar {
				x = x.Elem()
			}
		}
		return x, true
	}}, true
}

func fieldNamed(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.IsExported() && celFieldName(f) == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// callValue is a function whose result is a value: size(), string
// concatenation, the functions of ext.Strings rules use and
// settings.lookup(), with literal arguments.
func callValue(call celast.CallExpr, sc scope) (value, bool) {
	fn, args := call.FunctionName(), call.Args()
	switch {
	case fn == operators.Add && len(args) == 2:
		return concatenation(args[0], args[1], sc)
	case fn == operators.Conditional && len(args) == 3:
		return conditional(args[0], args[1], args[2], sc)
	case fn == overloads.TypeConvertString && !call.IsMemberFunction() && len(args) == 1:
		return stringConversion(args[0], sc)
	case fn == "located" && !call.IsMemberFunction() && len(args) == 2:
		return located(args[0], args[1], sc)
	case fn == operators.Index && len(args) == 2:
		return mapEntry(args[0], args[1], sc)
	case fn == overloads.Size && !call.IsMemberFunction() && len(args) == 1:
		return sizeOf(args[0], sc)
	case !call.IsMemberFunction():
		return value{}, false
	case fn == overloads.Size && len(args) == 0:
		return sizeOf(call.Target(), sc)
	}
	of, ok := valueOf(call.Target(), sc)
	if !ok {
		return value{}, false
	}
	lits, ok := literals(args)
	if !ok {
		return value{}, false
	}
	if of.typ.Kind() == reflect.String {
		return stringFunction(of, fn, lits)
	}
	if fn == "lookup" && of.typ == settingsType && len(lits) == 1 {
		keys, ok := lits[0].([]string)
		if !ok {
			return value{}, false
		}
		return derived(of, reflect.TypeFor[model.Setting](), func(x reflect.Value) any {
			found, _ := findSetting(x.Interface().([]model.Setting), keys)
			return found
		}), true
	}
	if of.typ.Kind() == reflect.Slice {
		return listFunction(of, fn, lits)
	}
	return value{}, false
}

// literals are the values of literal arguments, a list of strings as a
// []string; false if one is not a literal.
func literals(args []celast.Expr) ([]any, bool) {
	var lits []any
	for _, a := range args {
		switch a.Kind() {
		case celast.LiteralKind:
			lits = append(lits, a.AsLiteral().Value())
		case celast.ListKind:
			var strs []string
			for _, el := range a.AsList().Elements() {
				s, ok := stringLiteral(el)
				if !ok {
					return nil, false
				}
				strs = append(strs, s)
			}
			lits = append(lits, strs)
		default:
			return nil, false
		}
	}
	return lits, true
}

// sizeOf is the size of a list or a map. Not of a string: CEL counts its
// code points, not its bytes.
func sizeOf(e celast.Expr, sc scope) (value, bool) {
	of, ok := valueOf(e, sc)
	if !ok {
		return value{}, false
	}
	if k := of.typ.Kind(); k != reflect.Slice && k != reflect.Map {
		return value{}, false
	}
	return derived(of, intType, func(x reflect.Value) any { return int64(x.Len()) }), true
}

// mapEntry is m[key] of a map with string keys. A key the map does not
// hold is an error in CEL, and unknown here.
func mapEntry(m, key celast.Expr, sc scope) (value, bool) {
	of, ok := valueOf(m, sc)
	if !ok || of.typ.Kind() != reflect.Map || of.typ.Key().Kind() != reflect.String {
		return value{}, false
	}
	k, ok := valueOf(key, sc)
	if !ok || k.typ.Kind() != reflect.String {
		return value{}, false
	}
	return value{of.typ.Elem(), func(v *Vars) (reflect.Value, bool) {
		x, name, ok := evalBoth(of, k, v)
		if !ok {
			return reflect.Value{}, false
		}
		entry := x.MapIndex(name.Convert(of.typ.Key()))
		return entry, entry.IsValid()
	}}, true
}

// concatenation is two strings, or two lists, joined by +.
func concatenation(a, b celast.Expr, sc scope) (value, bool) {
	x, ok := valueOf(a, sc)
	if !ok {
		return value{}, false
	}
	y, ok := valueOf(b, sc)
	if !ok {
		return value{}, false
	}
	if x.typ.Kind() == reflect.Slice && x.typ == y.typ {
		return listConcatenation(x, y), true
	}
	if x.typ.Kind() != reflect.String || y.typ.Kind() != reflect.String {
		return value{}, false
	}
	return value{stringType, func(v *Vars) (reflect.Value, bool) {
		l, r, ok := evalBoth(x, y, v)
		if !ok {
			return reflect.Value{}, false
		}
		return reflect.ValueOf(l.String() + r.String()), true
	}}, true
}

// stringFunction is one of ext.Strings' functions rules use, as it
// defines them: lowerAscii and upperAscii change only ASCII letters, of
// the string read as runes; trim removes Unicode white space.
func stringFunction(of value, fn string, lits []any) (value, bool) {
	str := func(i int) string { s, _ := lits[i].(string); return s }
	stringsOnly := func(n int) bool {
		if len(lits) != n {
			return false
		}
		for _, l := range lits {
			if _, ok := l.(string); !ok {
				return false
			}
		}
		return true
	}
	switch {
	case fn == "lowerAscii" && stringsOnly(0):
		return derived(of, stringType, func(x reflect.Value) any { return mapASCII(x.String(), unicode.ToLower) }), true
	case fn == "upperAscii" && stringsOnly(0):
		return derived(of, stringType, func(x reflect.Value) any { return mapASCII(x.String(), unicode.ToUpper) }), true
	case fn == "trim" && stringsOnly(0):
		return derived(of, stringType, func(x reflect.Value) any { return strings.TrimSpace(x.String()) }), true
	case fn == "replace" && stringsOnly(2):
		old, replacement := str(0), str(1)
		return derived(of, stringType, func(x reflect.Value) any { return strings.ReplaceAll(x.String(), old, replacement) }), true
	case fn == "split" && stringsOnly(1):
		sep := str(0)
		return derived(of, stringsType, func(x reflect.Value) any { return strings.Split(x.String(), sep) }), true
	}
	return value{}, false
}

func mapASCII(s string, f func(rune) rune) string {
	runes := []rune(s)
	for i, r := range runes {
		if r <= unicode.MaxASCII {
			runes[i] = f(r)
		}
	}
	return string(runes)
}

// derived is a value computed from another.
func derived(of value, t reflect.Type, f func(reflect.Value) any) value {
	return value{t, func(v *Vars) (reflect.Value, bool) {
		x, ok := of.eval(v)
		if !ok {
			return reflect.Value{}, false
		}
		return reflect.ValueOf(f(x)), true
	}}
}

// root is the value of a condition's variable, as CEL resolves it.
func (v *Vars) root(name string) reflect.Value {
	x, _ := v.ResolveName(name)
	return reflect.ValueOf(x)
}
