package catalog

import (
	"fmt"

	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"

	"github.com/stridemap/stridemap/model"
)

// Vars are the values a condition runs against. Only the fields of the
// rule's kind of element are set.
type Vars struct {
	Node     *model.Node
	Edge     *model.Edge
	From, To *model.Node
	Boundary *model.Boundary
	Ctx      *Context

	// iterations are the variables of the exists() and all() a native
	// check is evaluating, innermost last.
	iterations []binding
}

var _ interpreter.Activation = (*Vars)(nil)

// ResolveName implements interpreter.Activation without building a map per
// evaluation: the engine evaluates every rule on every element.
func (v *Vars) ResolveName(name string) (any, bool) {
	switch name {
	case "node":
		return v.Node, v.Node != nil
	case "edge":
		return v.Edge, v.Edge != nil
	case "from":
		return v.From, v.From != nil
	case "to":
		return v.To, v.To != nil
	case "boundary":
		return v.Boundary, v.Boundary != nil
	case "ctx":
		return v.Ctx, v.Ctx != nil
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (v *Vars) Parent() interpreter.Activation { return nil }

// Match evaluates the rule on one element. When the condition holds it
// also returns the details of the rule's evidence expression, if any,
// which are read-only: they may be the element's own (a control's
// details) or the rule's (a list written out).
func (r *Rule) Match(v *Vars) (bool, []string, error) {
	decided := unknown
	if r.native != nil {
		decided = r.native(v)
	}
	switch decided {
	case fails:
		return false, nil, nil
	case unknown:
		out, _, err := r.condition.Eval(v)
		if err != nil {
			return false, nil, fmt.Errorf("rule %s: %w", r.ID, err)
		}
		if matched, ok := out.Value().(bool); !ok || !matched {
			return false, nil, nil
		}
	}
	if r.evidence == nil {
		return true, nil, nil
	}
	if r.nativeEvidence != nil {
		if details, ok := r.nativeEvidence(v); ok {
			return true, details, nil
		}
	}
	out, _, err := r.evidence.Eval(v)
	if err != nil {
		return true, nil, fmt.Errorf("rule %s evidence: %w", r.ID, err)
	}
	return true, stringList(out), nil
}

func stringList(v ref.Val) []string {
	native, err := v.ConvertToNative(reflectStringSlice)
	if err != nil {
		return nil
	}
	list, _ := native.([]string)
	return list
}
