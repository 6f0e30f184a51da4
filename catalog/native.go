package catalog

import (
	"maps"
	"reflect"
	"regexp"
	"strings"

	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/overloads"
)

// verdict is what a native check says of a condition on one element:
// that it holds, that it does not, or that only CEL can tell.
type verdict uint8

const (
	unknown verdict = iota
	holds
	fails
)

func (v verdict) not() verdict {
	switch v {
	case holds:
		return fails
	case fails:
		return holds
	}
	return unknown
}

func verdictOf(b bool) verdict {
	if b {
		return holds
	}
	return fails
}

// nativeCheck evaluates a condition, or part of one, in Go, for the
// element of v.
type nativeCheck func(v *Vars) verdict

// binding is the value a variable of exists() or all() takes.
type binding struct {
	name  string
	value reflect.Value
}

// bound is the value of the innermost variable of an exists() or all()
// called name.
func (v *Vars) bound(name string) (reflect.Value, bool) {
	for i := len(v.iterations) - 1; i >= 0; i-- {
		if v.iterations[i].name == name {
			return v.iterations[i].value, true
		}
	}
	return reflect.Value{}, false
}

// scope is what a condition's names stand for where a check is compiled:
// the variables of the rule's element, and those of the exists() and all()
// around it, which hide variables of the same name.
type scope map[string]reflect.Type

func (s scope) with(name string, t reflect.Type) scope {
	inner := maps.Clone(s)
	inner[name] = t
	return inner
}

// nativeOf compiles a checked condition into a check the engine runs
// before CEL. The catalog evaluates every rule on every element it applies
// to, and most pairs are decided by plain reads of the element and its
// context: fields compared with literals, strings looked for in lists,
// sizes, booleans, exists() and all() over lists, the string functions
// rules use. Deciding those in Go skips the interpreter, whose set-up
// costs more than the reads.
//
// What the check does not understand is unknown, and so is a read that
// meets a nil pointer (CEL's answer then depends on its handling of null,
// which the check does not imitate): the check only decides what CEL
// decides, the same way, and leaves the rest to it. nativeOf returns nil
// when it can decide nothing.
func nativeOf(e celast.Expr, sc scope) nativeCheck {
	switch e.Kind() {
	case celast.ComprehensionKind:
		return quantifier(e.AsComprehension(), sc)
	case celast.CallKind:
		return operation(e.AsCall(), sc)
	}
	return boolean(e, sc)
}

// boolean is a boolean field, variable or literal.
func boolean(e celast.Expr, sc scope) nativeCheck {
	x, ok := valueOf(e, sc)
	if !ok || x.typ.Kind() != reflect.Bool {
		return nil
	}
	return func(v *Vars) verdict {
		b, ok := x.eval(v)
		if !ok {
			return unknown
		}
		return verdictOf(b.Bool())
	}
}

// operation is a logical operator, a comparison, or a test of strings.
func operation(call celast.CallExpr, sc scope) nativeCheck {
	args := call.Args()
	switch fn := call.FunctionName(); fn {
	case operators.LogicalNot:
		inner := nativeOf(args[0], sc)
		if inner == nil {
			return nil
		}
		return func(v *Vars) verdict { return inner(v).not() }
	case operators.LogicalAnd:
		return junction(nativeOf(args[0], sc), nativeOf(args[1], sc), fails)
	case operators.LogicalOr:
		return junction(nativeOf(args[0], sc), nativeOf(args[1], sc), holds)
	case operators.Equals, operators.NotEquals, operators.Less, operators.LessEquals, operators.Greater, operators.GreaterEquals:
		return comparison(fn, args[0], args[1], sc)
	case operators.In:
		return membership(args[0], args[1], sc)
	case overloads.StartsWith, overloads.EndsWith, overloads.Contains, overloads.Matches:
		return stringTest(call, sc)
	}
	return nil
}

// junction joins two checks by && (decisive: fails) or || (decisive:
// holds). One side decisive decides, as in CEL, whose && and || are
// commutative even when the other side is an error; the other answer
// needs both sides known.
func junction(left, right nativeCheck, decisive verdict) nativeCheck {
	switch {
	case left == nil && right == nil:
		return nil
	case left == nil:
		left, right = right, nil
	}
	return func(v *Vars) verdict {
		l := left(v)
		if l == decisive {
			return decisive
		}
		if right == nil {
			return unknown
		}
		r := right(v)
		if r == decisive {
			return decisive
		}
		if l == unknown || r == unknown {
			return unknown
		}
		return l
	}
}

// comparison compares two strings, or two integers (sizes, integer
// fields, literals).
func comparison(op string, a, b celast.Expr, sc scope) nativeCheck {
	x, ok := valueOf(a, sc)
	if !ok {
		return nil
	}
	y, ok := valueOf(b, sc)
	if !ok {
		return nil
	}
	var compare func(x, y reflect.Value) bool
	switch {
	case x.typ.Kind() == reflect.String && y.typ.Kind() == reflect.String:
		switch op {
		case operators.Equals:
			compare = func(x, y reflect.Value) bool { return x.String() == y.String() }
		case operators.NotEquals:
			compare = func(x, y reflect.Value) bool { return x.String() != y.String() }
		default:
			return nil
		}
	case isInt(x.typ) && isInt(y.typ):
		order := orders[op]
		compare = func(x, y reflect.Value) bool { return order(x.Int(), y.Int()) }
	default:
		return nil
	}
	return func(v *Vars) verdict {
		l, r, ok := evalBoth(x, y, v)
		if !ok {
			return unknown
		}
		return verdictOf(compare(l, r))
	}
}

// isInt says t is one of Go's signed integers, which CEL reads as its int.
func isInt(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return true
	}
	return false
}

var orders = map[string]func(a, b int64) bool{
	operators.Equals:        func(a, b int64) bool { return a == b },
	operators.NotEquals:     func(a, b int64) bool { return a != b },
	operators.Less:          func(a, b int64) bool { return a < b },
	operators.LessEquals:    func(a, b int64) bool { return a <= b },
	operators.Greater:       func(a, b int64) bool { return a > b },
	operators.GreaterEquals: func(a, b int64) bool { return a >= b },
}

// membership is a string in a list of strings, or among the keys of a
// map.
func membership(elem, list celast.Expr, sc scope) nativeCheck {
	x, ok := valueOf(elem, sc)
	if !ok || x.typ.Kind() != reflect.String {
		return nil
	}
	l, ok := valueOf(list, sc)
	if !ok {
		return nil
	}
	if l.typ.Kind() == reflect.Map && l.typ.Key().Kind() == reflect.String {
		return func(v *Vars) verdict {
			s, m, ok := evalBoth(x, l, v)
			if !ok {
				return unknown
			}
			return verdictOf(m.MapIndex(s.Convert(l.typ.Key())).IsValid())
		}
	}
	if l.typ.Kind() != reflect.Slice || l.typ.Elem().Kind() != reflect.String {
		return nil
	}
	return func(v *Vars) verdict {
		s, strs, ok := evalBoth(x, l, v)
		if !ok {
			return unknown
		}
		want := s.String()
		for i := range strs.Len() {
			if strs.Index(i).String() == want {
				return holds
			}
		}
		return fails
	}
}

// quantifier is exists() or all() over a list, whose predicate nativeOf
// compiles with the variable in scope. One element that decides (holds
// for exists, fails for all) decides, as in CEL even when others would be
// errors. Over an empty list it needs no predicate.
func quantifier(c celast.ComprehensionExpr, sc scope) nativeCheck {
	if c.HasIterVar2() || c.AccuInit().Kind() != celast.LiteralKind || c.Result().Kind() != celast.IdentKind ||
		c.Result().AsIdent() != c.AccuVar() || c.LoopStep().Kind() != celast.CallKind {
		return nil
	}
	all, ok := c.AccuInit().AsLiteral().Value().(bool)
	if !ok {
		return nil
	}
	step := c.LoopStep().AsCall()
	join := map[bool]string{false: operators.LogicalOr, true: operators.LogicalAnd}[all]
	if step.FunctionName() != join || step.Args()[0].Kind() != celast.IdentKind || step.Args()[0].AsIdent() != c.AccuVar() {
		return nil
	}
	list, ok := valueOf(c.IterRange(), sc)
	if !ok || list.typ.Kind() != reflect.Slice {
		return nil
	}
	name := c.IterVar()
	predicate := nativeOf(step.Args()[1], sc.with(name, list.typ.Elem()))
	decisive := map[bool]verdict{false: holds, true: fails}[all]
	return func(v *Vars) verdict {
		x, ok := list.eval(v)
		if !ok {
			return unknown
		}
		result := decisive.not()
		if predicate == nil {
			if x.Len() > 0 {
				return unknown
			}
			return result
		}
		// The variable is pushed on the element's stack of them, not
		// allocated: a scan evaluates hundreds of thousands of these.
		top := len(v.iterations)
		v.iterations = append(v.iterations, binding{name: name})
		defer func() { v.iterations = v.iterations[:top] }()
		for i := range x.Len() {
			v.iterations[top].value = x.Index(i)
			switch predicate(v) {
			case decisive:
				return decisive
			case unknown:
				result = unknown
			}
		}
		return result
	}
}

// stringTest is startsWith, endsWith or contains of two strings, or
// matches with a literal pattern: Go's strings functions and regexp, which
// CEL's are.
func stringTest(call celast.CallExpr, sc scope) nativeCheck {
	if !call.IsMemberFunction() || len(call.Args()) != 1 {
		return nil
	}
	x, ok := valueOf(call.Target(), sc)
	if !ok || x.typ.Kind() != reflect.String {
		return nil
	}
	arg, ok := valueOf(call.Args()[0], sc)
	if !ok || arg.typ.Kind() != reflect.String {
		return nil
	}
	var test func(s, arg string) bool
	switch call.FunctionName() {
	case overloads.StartsWith:
		test = strings.HasPrefix
	case overloads.EndsWith:
		test = strings.HasSuffix
	case overloads.Contains:
		test = strings.Contains
	case overloads.Matches:
		pattern, ok := stringLiteral(call.Args()[0])
		if !ok {
			return nil
		}
		re, err := regexp.Compile(pattern)
		if err != nil {
			return nil
		}
		test = func(s, _ string) bool { return re.MatchString(s) }
	}
	return func(v *Vars) verdict {
		s, a, ok := evalBoth(x, arg, v)
		if !ok {
			return unknown
		}
		return verdictOf(test(s.String(), a.String()))
	}
}

func stringLiteral(e celast.Expr) (string, bool) {
	if e.Kind() != celast.LiteralKind {
		return "", false
	}
	s, ok := e.AsLiteral().Value().(string)
	return s, ok
}
