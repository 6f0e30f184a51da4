package catalog

import (
	"reflect"
	"slices"
	"strconv"
	"strings"

	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"

	"github.com/stridemap/stridemap/model"
)

// The values below build the lists of strings of rules' evidence:
// filter() and map(), lists written out, + on lists, the ternary
// operator, join(), flatten(), distinct(), string() of an integer and
// located(). A rule's evidence is evaluated on every element it holds on,
// and in CEL that was a third of the catalog's time once the conditions
// were native.

// nativeEvidence compiles a rule's evidence expression into a Go
// function, or returns nil when some part of it is not understood. The
// function's false means CEL must evaluate it: a nil pointer or a missing
// map key was met, or a condition inside it was unknown.
func nativeEvidence(e celast.Expr) func(v *Vars) ([]string, bool) {
	x, ok := valueOf(e, variableTypes)
	if !ok || x.typ != stringsType {
		return nil
	}
	return func(v *Vars) ([]string, bool) {
		list, ok := x.eval(v)
		if !ok {
			return nil, false
		}
		return list.Interface().([]string), true
	}
}

// listOf is a list written out whose elements are values of one type.
func listOf(elements []celast.Expr, sc scope) (value, bool) {
	if len(elements) == 0 {
		return value{}, false
	}
	var items []value
	for _, el := range elements {
		x, ok := valueOf(el, sc)
		if !ok || (len(items) > 0 && x.typ != items[0].typ) {
			return value{}, false
		}
		items = append(items, x)
	}
	t := reflect.SliceOf(items[0].typ)
	return value{t, func(v *Vars) (reflect.Value, bool) {
		list := reflect.MakeSlice(t, 0, len(items))
		for _, item := range items {
			x, ok := item.eval(v)
			if !ok {
				return reflect.Value{}, false
			}
			list = reflect.Append(list, x)
		}
		return list, true
	}}, true
}

// listComprehension is filter() or map(), with two arguments or three
// (map(x, predicate, transform)), as CEL's macros expand them: the
// accumulator starts as an empty list, and each step appends the element
// or its transform, under a condition or not.
func listComprehension(c celast.ComprehensionExpr, sc scope) (value, bool) {
	accu := c.AccuVar()
	isAccu := func(e celast.Expr) bool { return e.Kind() == celast.IdentKind && e.AsIdent() == accu }
	if c.HasIterVar2() || c.AccuInit().Kind() != celast.ListKind || len(c.AccuInit().AsList().Elements()) != 0 ||
		!isAccu(c.Result()) || c.LoopStep().Kind() != celast.CallKind {
		return value{}, false
	}
	list, ok := valueOf(c.IterRange(), sc)
	if !ok || list.typ.Kind() != reflect.Slice {
		return value{}, false
	}
	name := c.IterVar()
	inner := sc.with(name, list.typ.Elem())
	step := c.LoopStep().AsCall()
	var keep nativeCheck
	if step.FunctionName() == operators.Conditional {
		// cond ? accu + [x] : accu
		if args := step.Args(); !isAccu(args[2]) {
			return value{}, false
		} else if keep = nativeOf(args[0], inner); keep == nil || args[1].Kind() != celast.CallKind {
			return value{}, false
		} else {
			step = args[1].AsCall()
		}
	}
	if step.FunctionName() != operators.Add || !isAccu(step.Args()[0]) || step.Args()[1].Kind() != celast.ListKind ||
		len(step.Args()[1].AsList().Elements()) != 1 {
		return value{}, false
	}
	item, ok := valueOf(step.Args()[1].AsList().Elements()[0], inner)
	if !ok {
		return value{}, false
	}
	t := reflect.SliceOf(item.typ)
	return value{t, func(v *Vars) (reflect.Value, bool) {
		x, ok := list.eval(v)
		if !ok {
			return reflect.Value{}, false
		}
		top := len(v.iterations)
		v.iterations = append(v.iterations, binding{name: name})
		defer func() { v.iterations = v.iterations[:top] }()
		out := reflect.MakeSlice(t, 0, x.Len())
		for i := range x.Len() {
			v.iterations[top].value = x.Index(i)
			if keep != nil {
				switch keep(v) {
				case unknown:
					return reflect.Value{}, false
				case fails:
					continue
				}
			}
			y, ok := item.eval(v)
			if !ok {
				return reflect.Value{}, false
			}
			out = reflect.Append(out, y)
		}
		return out, true
	}}, true
}

// conditional is cond ? a : b, for a condition a native check decides.
func conditional(cond, a, b celast.Expr, sc scope) (value, bool) {
	test := nativeOf(cond, sc)
	if test == nil {
		return value{}, false
	}
	x, ok := valueOf(a, sc)
	if !ok {
		return value{}, false
	}
	y, ok := valueOf(b, sc)
	if !ok || x.typ != y.typ {
		return value{}, false
	}
	return value{x.typ, func(v *Vars) (reflect.Value, bool) {
		switch test(v) {
		case holds:
			return x.eval(v)
		case fails:
			return y.eval(v)
		}
		return reflect.Value{}, false
	}}, true
}

// listConcatenation is a + b of two lists of one type.
func listConcatenation(a, b value) value {
	return value{a.typ, func(v *Vars) (reflect.Value, bool) {
		x, y, ok := evalBoth(a, b, v)
		if !ok {
			return reflect.Value{}, false
		}
		out := reflect.MakeSlice(a.typ, 0, x.Len()+y.Len())
		return reflect.AppendSlice(reflect.AppendSlice(out, x), y), true
	}}
}

// stringConversion is string() of a string or an integer, which CEL
// writes in decimal.
func stringConversion(e celast.Expr, sc scope) (value, bool) {
	x, ok := valueOf(e, sc)
	switch {
	case !ok:
		return value{}, false
	case x.typ.Kind() == reflect.String:
		return derived(x, stringType, func(s reflect.Value) any { return s.String() }), true
	case isInt(x.typ):
		return derived(x, stringType, func(n reflect.Value) any { return strconv.FormatInt(n.Int(), 10) }), true
	}
	return value{}, false
}

// located is the function of that name (settingFunctions).
func located(ev, text celast.Expr, sc scope) (value, bool) {
	x, ok := valueOf(ev, sc)
	if !ok || x.typ != reflect.TypeFor[model.Evidence]() {
		return value{}, false
	}
	y, ok := valueOf(text, sc)
	if !ok || y.typ.Kind() != reflect.String {
		return value{}, false
	}
	return value{stringType, func(v *Vars) (reflect.Value, bool) {
		e, s, ok := evalBoth(x, y, v)
		if !ok {
			return reflect.Value{}, false
		}
		return reflect.ValueOf(Located(e.Interface().(model.Evidence), s.String())), true
	}}, true
}

// listFunction is join() of a list of strings, as ext.Strings defines it,
// or flatten() (one level) and distinct() (the first of equal elements,
// in order), as ext.Lists does, of a list of lists and of strings.
func listFunction(of value, fn string, lits []any) (value, bool) {
	elem := of.typ.Elem()
	switch {
	case fn == "join" && elem.Kind() == reflect.String && len(lits) <= 1:
		var sep string
		if len(lits) == 1 {
			s, ok := lits[0].(string)
			if !ok {
				return value{}, false
			}
			sep = s
		}
		return derived(of, stringType, func(x reflect.Value) any { return strings.Join(stringsOf(x), sep) }), true
	case fn == "flatten" && elem.Kind() == reflect.Slice && len(lits) == 0:
		return derived(of, elem, func(x reflect.Value) any {
			out := reflect.MakeSlice(elem, 0, x.Len())
			for i := range x.Len() {
				out = reflect.AppendSlice(out, x.Index(i))
			}
			return out.Interface()
		}), true
	case fn == "distinct" && of.typ == stringsType && len(lits) == 0:
		return derived(of, stringsType, func(x reflect.Value) any {
			out := []string{}
			for _, s := range stringsOf(x) {
				if !slices.Contains(out, s) {
					out = append(out, s)
				}
			}
			return out
		}), true
	}
	return value{}, false
}

// stringsOf is a list of strings as a []string.
func stringsOf(x reflect.Value) []string {
	if s, ok := x.Interface().([]string); ok {
		return s
	}
	out := make([]string, x.Len())
	for i := range out {
		out[i] = x.Index(i).String()
	}
	return out
}
